// W3C traceparent validation (server/src/domain/trace-context.ts): pure logic.
import { describe, expect, it } from "vitest";
import { traceContextFromHeaders, traceparentProblem } from "../src/domain/trace-context.js";

describe("traceparentProblem", () => {
  it.each([
    ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", undefined],
    ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", undefined],
    ["01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-later", undefined],
    ["00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "format"],
    ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "format"],
    ["ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version"],
    ["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", "suffix"],
    ["00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace id"],
    ["00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "span id"],
  ])("%s", (value, problem) => {
    const found = traceparentProblem(value);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toBeDefined();
  });

  it("drops an invalid header and an oversized tracestate", () => {
    expect(traceContextFromHeaders("garbage", "a=b")).toBeUndefined();
    expect(traceContextFromHeaders(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ", "x".repeat(600))).toEqual({
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      tracestate: undefined,
    });
  });
});
