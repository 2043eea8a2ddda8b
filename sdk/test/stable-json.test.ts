import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { childRunKey, stableHash, stableJson, taskAddress, toJsonValue } from "../src/stable-json.js";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

describe("stableJson", () => {
  it("sorts object keys at every level and keeps array order", () => {
    expect(stableJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(stableJson(undefined)).toBe("undefined");
    expect(stableJson("x")).toBe('"x"');
  });

  it("sees values as the server will: undefined properties dropped, Dates as strings", () => {
    expect(toJsonValue({ a: undefined, b: 1 })).toEqual({ b: 1 });
    expect(toJsonValue([undefined])).toEqual([null]);
    expect(toJsonValue(new Date("2024-01-02T03:04:05.000Z"))).toBe("2024-01-02T03:04:05.000Z");
    expect(toJsonValue(undefined)).toBeUndefined();
    expect(() => toJsonValue({ n: 1n })).toThrow(/not JSON-serializable/);
  });
});

describe("addresses", () => {
  it("is name:sha256(stable JSON), equal for equal inputs whatever the key order", () => {
    expect(taskAddress("charge", { b: 2, a: 1 })).toBe(`charge:${sha('{"a":1,"b":2}')}`);
    expect(taskAddress("charge", { a: 1, b: 2 })).toBe(taskAddress("charge", { b: 2, a: 1 }));
    expect(taskAddress("charge", { a: 1, b: undefined })).toBe(taskAddress("charge", { a: 1 }));
    expect(taskAddress("noop", undefined)).toBe(`noop:${sha("undefined")}`);
    expect(taskAddress("noop", null)).toBe(`noop:${sha("null")}`);
  });

  it("keys a child by its reference id, else by the hash of its input", () => {
    expect(childRunKey("order-1", { x: 1 })).toBe("order-1");
    expect(childRunKey(undefined, { x: 1 })).toBe(`input:${stableHash({ x: 1 })}`);
    expect(childRunKey("", { x: 1 })).toBe(`input:${sha('{"x":1}')}`);
  });
});
