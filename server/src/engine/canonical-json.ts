import { createHash } from "node:crypto";
import type { JsonValue } from "../store/json.js";

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The canonical JSON of a value, as the contract defines it ("Addresses" in
 * proto/aiki/v1/history.proto): RFC 8785 (JCS) text, so equal values give equal text in every
 * language. Object keys sorted by UTF-16 code units at every level, numbers as ECMAScript writes
 * a double (5.0 is `5`, -0 is `0`), strings with JSON's minimal escapes; an absent value is the
 * text `undefined`. Throws for what has none (NaN, ±Infinity, lone surrogates), which request
 * validation refuses before. Byte-for-byte the SDK's canonicalJson; both are checked against
 * proto/aiki/v1/testdata/canonical-json-vectors.json.
 */
export function canonicalJson(value: JsonValue | undefined): string {
  return value === undefined ? "undefined" : write(value);
}

function write(value: JsonValue): string {
  // Never in a JSON value; the server's own hashes (a start's request, a schedule's definition)
  // pass objects with unset fields, and their stored hashes were made writing them so.
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  switch (typeof value) {
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`${value} has no canonical JSON: only finite numbers do`);
      // Number::toString: the shortest digits that read back as the same double; -0 is "0".
      return String(value);
    case "string":
      return quote(value);
  }
  if (Array.isArray(value)) return `[${value.map(write).join(",")}]`;
  // Array.prototype.sort compares UTF-16 code units, which is JCS's order.
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${quote(k)}:${write(value[k]!)}`).join(",")}}`;
}

function quote(s: string): string {
  if (loneSurrogate.test(s)) throw new TypeError("a string with a lone UTF-16 surrogate has no canonical JSON");
  // For well-formed strings JSON.stringify escapes exactly JCS's set: " \ and U+0000..U+001F.
  return JSON.stringify(s);
}

/** sha256 (lower-case hex) of the UTF-8 bytes of the value's canonical JSON. */
export function canonicalHash(value: JsonValue | undefined): string {
  return createHash("sha256").update(canonicalJson(value), "utf8").digest("hex");
}

/** The address a task call with this name and input must have: name + ":" + canonical hash. */
export function taskAddress(name: string, input: JsonValue | undefined): string {
  return `${name}:${canonicalHash(input)}`;
}

/** The key a child start must have: its reference id when it has one, else "input:" + canonical hash. */
export function childRunKey(referenceId: string | undefined, input: JsonValue | undefined): string {
  return referenceId !== undefined && referenceId !== "" ? referenceId : `input:${canonicalHash(input)}`;
}
