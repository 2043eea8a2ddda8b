// The server's canonical JSON (what it verifies worker addresses against) on the shared vectors.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { canonicalHash, canonicalJson, childRunKey, taskAddress } from "../src/engine/canonical-json.js";
import type { JsonValue } from "../src/store/json.js";

interface Vectors {
  task_name: string;
  vectors: { name: string; input?: JsonValue; canonical: string; sha256: string; address: string; child_key: string }[];
  invalid: { name: string; input: JsonValue }[];
}
const vectors = JSON.parse(readFileSync(new URL("../../proto/aiki/v1/testdata/canonical-json-vectors.json", import.meta.url), "utf8")) as Vectors;

describe("server canonical JSON: the shared test vectors", () => {
  it.each(vectors.vectors.map((v) => [v.name, v] as const))("%s", (_name, v) => {
    expect(canonicalJson(v.input)).toBe(v.canonical);
    expect(canonicalHash(v.input)).toBe(v.sha256);
    expect(taskAddress(vectors.task_name, v.input)).toBe(v.address);
    expect(childRunKey(undefined, v.input)).toBe(v.child_key);
  });

  it.each(vectors.invalid.map((v) => [v.name, v] as const))("refuses %s", (_name, v) => {
    expect(() => canonicalJson(v.input)).toThrow(/lone UTF-16 surrogate/);
  });

  it("keeps the hashes the server stored for its own objects with unset fields", () => {
    // A start's request hash and a schedule's definition hash were made writing unset fields so.
    expect(canonicalJson({ a: undefined, b: 1 } as unknown as JsonValue)).toBe('{"a":undefined,"b":1}');
  });
});
