import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { canonicalHash, canonicalJson, childRunKey, type JsonValue, taskAddress, toJsonValue } from "../src/canonical-json.js";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

interface Vectors {
  task_name: string;
  vectors: { name: string; input?: JsonValue; canonical: string; sha256: string; address: string; child_key: string }[];
  invalid: { name: string; input: JsonValue }[];
}
const vectors = JSON.parse(readFileSync(new URL("../../proto/aiki/v1/testdata/canonical-json-vectors.json", import.meta.url), "utf8")) as Vectors;

describe("canonical JSON: the shared test vectors (proto/aiki/v1/testdata)", () => {
  it.each(vectors.vectors.map((v) => [v.name, v] as const))("%s", (_name, v) => {
    expect(canonicalJson(v.input)).toBe(v.canonical);
    expect(canonicalHash(v.input)).toBe(v.sha256);
    expect(taskAddress(vectors.task_name, v.input)).toBe(v.address);
    expect(childRunKey(undefined, v.input)).toBe(v.child_key);
  });

  it.each(vectors.invalid.map((v) => [v.name, v] as const))("refuses %s", (_name, v) => {
    expect(() => canonicalJson(v.input)).toThrow(/lone UTF-16 surrogate/);
  });

  it("refuses NaN and the infinities", () => {
    for (const n of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(() => canonicalJson({ n })).toThrow(/no canonical JSON/);
    }
  });
});

/**
 * The address function before the contract defined it (JSON.stringify with keys sorted by
 * Array.prototype.sort), kept verbatim: histories recorded by earlier SDKs hold its addresses.
 */
function legacyStableJson(value: JsonValue | undefined): string {
  if (value === undefined) return "undefined";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(legacyStableJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${legacyStableJson(value[k])}`).join(",")}}`;
}

/** A deterministic generator of JSON values with awkward numbers, keys and strings. */
function randomJson(next: () => number, depth: number): JsonValue {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!;
  const chars = ["a", "Z", "0", " ", "é", "\u00ff", "\u2028", "\uff21", "\ud83d\ude00", "\u{10ffff}", '"', "\\", "\n", "\u0001", "\u007f", "/"];
  const text = () => Array.from({ length: Math.floor(next() * 5) }, () => pick(chars)).join("");
  const number = () =>
    pick([
      () => Math.floor(next() * 1000) - 500,
      () => (next() - 0.5) * 10 ** Math.floor(next() * 60 - 30),
      () => -0,
      () => 2 ** 53 + Math.floor(next() * 10),
      () => Number.MIN_VALUE,
      () => Number.MAX_VALUE * (next() < 0.5 ? -1 : 1),
      () => new DataView(new Float64Array([next() * 2 ** 52]).buffer).getFloat64(0),
    ])();
  const kind = depth <= 0 ? Math.floor(next() * 4) : Math.floor(next() * 6);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return next() < 0.5;
    case 2:
      return toJsonValue(number()) as JsonValue;
    case 3:
      return text();
    case 4:
      return Array.from({ length: Math.floor(next() * 4) }, () => randomJson(next, depth - 1));
    default:
      return Object.fromEntries(Array.from({ length: Math.floor(next() * 5) }, () => [text(), randomJson(next, depth - 1)]));
  }
}

describe("canonical JSON: histories written by earlier SDKs", () => {
  it("gives the same text (so the same addresses) as the earlier function for every input the SDK sends", () => {
    // mulberry32: a fixed seed, so a failure reproduces.
    let seed = 0x5eed;
    const next = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    let objects = 0;
    for (let i = 0; i < 5000; i++) {
      // What the SDK sends is toJsonValue of the user's value: that is what both hash.
      const value = toJsonValue(randomJson(next, 3));
      if (value !== null && typeof value === "object") objects++;
      expect(canonicalJson(value)).toBe(legacyStableJson(value));
    }
    expect(objects).toBeGreaterThan(1000);
    for (const v of vectors.vectors) expect(canonicalJson(toJsonValue(v.input))).toBe(legacyStableJson(toJsonValue(v.input)));
  });
});

describe("canonical JSON: values as the server will see them", () => {
  it("sorts object keys at every level and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson(undefined)).toBe("undefined");
    expect(canonicalJson("x")).toBe('"x"');
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
  it("is name:sha256(canonical JSON), equal for equal inputs whatever the key order", () => {
    expect(taskAddress("charge", { b: 2, a: 1 })).toBe(`charge:${sha('{"a":1,"b":2}')}`);
    expect(taskAddress("charge", { a: 1, b: 2 })).toBe(taskAddress("charge", { b: 2, a: 1 }));
    expect(taskAddress("charge", { a: 1, b: undefined })).toBe(taskAddress("charge", { a: 1 }));
    expect(taskAddress("noop", undefined)).toBe(`noop:${sha("undefined")}`);
    expect(taskAddress("noop", null)).toBe(`noop:${sha("null")}`);
  });

  it("keys a child by its reference id, else by the hash of its input", () => {
    expect(childRunKey("order-1", { x: 1 })).toBe("order-1");
    expect(childRunKey(undefined, { x: 1 })).toBe(`input:${canonicalHash({ x: 1 })}`);
    expect(childRunKey("", { x: 1 })).toBe(`input:${sha('{"x":1}')}`);
  });
});
