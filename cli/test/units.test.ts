import { describe, expect, it } from "vitest";
import { UsageError } from "../src/cli-error.js";
import { formatDuration, parseDuration } from "../src/durations.js";
import { Progress } from "../src/progress.js";
import { parseRunStatus, parseRunStatuses, statusName } from "../src/run-statuses.js";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";

describe("durations", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h30m", 5_400_000],
    ["1.5s", 1_500],
    ["45", 45_000],
  ])("%s is %d ms", (text, ms) => expect(parseDuration(text, "--timeout")).toBe(ms));

  it("refuses anything else, naming the option", () => {
    for (const bad of ["", "soon", "5 m", "10x", "-1s", "1s2"]) expect(() => parseDuration(bad, "--timeout")).toThrow(UsageError);
    expect(() => parseDuration("soon", "--timeout")).toThrow(/--timeout must be a duration/);
  });

  it("formats for people", () => {
    expect([450, 1_234, 12_000, 75_000, 3_600_000, 5_460_000].map(formatDuration)).toEqual(["450ms", "1.2s", "12s", "1m15s", "1h", "1h31m"]);
  });
});

describe("run statuses", () => {
  it("accept short, enum and dashed names; print short ones", () => {
    for (const name of ["awaiting_event", "AWAITING_EVENT", "RUN_STATUS_AWAITING_EVENT", "awaiting-event"]) {
      expect(parseRunStatus(name, "--status")).toBe(RunStatus.AWAITING_EVENT);
    }
    expect(parseRunStatuses(["queued,running", "paused"], "--status")).toEqual([RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.PAUSED]);
    expect(statusName(RunStatus.AWAITING_CHILD_WORKFLOW)).toBe("awaiting_child_workflow");
    expect(() => parseRunStatus("done", "--status")).toThrow(/unknown run status "done"/);
  });
});

describe("progress", () => {
  const stream = (isTTY: boolean) => {
    const written: string[] = [];
    return { written, stream: { isTTY, write: (s: string) => written.push(s) > 0 } as unknown as NodeJS.WritableStream & { isTTY: boolean } };
  };

  it("redraws one line in place on a terminal and erases it when stopped", () => {
    const { written, stream: s } = stream(true);
    const p = new Progress(s);
    p.start("waiting");
    p.update("waiting (now running)");
    p.render();
    p.stop();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape (ESC [K, erase line) is what is tested
    expect(written[0]).toMatch(/^\r\x1b\[K⠋ waiting · \d+ms$/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape (ESC [K, erase line) is what is tested
    expect(written[1]).toMatch(/^\r\x1b\[K⠙ waiting \(now running\) · /);
    expect(written.at(-1)).toBe("\r\x1b[K");
  });

  it("writes nothing when the stream is not a terminal", () => {
    const { written, stream: s } = stream(false);
    const p = new Progress(s);
    p.start("waiting");
    p.render();
    p.stop();
    expect(written).toEqual([]);
  });
});
