import { createHash } from "node:crypto";

/** What survives a trip through JSON (and so through the server): the only values replay can compare. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * The value as the server will store and return it: JSON semantics (undefined properties
 * dropped, Dates as ISO strings, NaN as null). undefined stays undefined ("no value").
 */
export function toJsonValue(value: unknown): JsonValue | undefined {
  if (value === undefined) return undefined;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`value is not JSON-serializable: ${(error as Error).message}`, { cause: error });
  }
  // JSON.stringify answers undefined for functions and symbols: nothing to store.
  return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The canonical JSON of a value, as the contract defines it ("Addresses" in
 * proto/aiki/v1/history.proto): RFC 8785 (JCS) text. Object keys sorted by UTF-16 code units at
 * every level, numbers as ECMAScript writes a double (5.0 is `5`, -0 is `0`, 1e21 is `1e+21`),
 * strings with JSON's minimal escapes and every other character as itself; an absent value is the
 * text `undefined`. Throws for what has none: NaN, ±Infinity, lone surrogates. Must stay
 * byte-for-byte the server's canonicalJson (server/src/engine/canonical-json.ts); both are checked
 * against proto/aiki/v1/testdata/canonical-json-vectors.json.
 */
export function canonicalJson(value: JsonValue | undefined): string {
  return value === undefined ? "undefined" : write(value);
}

function write(value: JsonValue): string {
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

/** sha256 (lower-case hex) of the UTF-8 bytes of the canonical JSON of the value as the server would see it. */
export function canonicalHash(value: unknown): string {
  return createHash("sha256")
    .update(canonicalJson(toJsonValue(value)), "utf8")
    .digest("hex");
}

/** A task call's address: calls with the same address form one replay queue. */
export function taskAddress(taskName: string, input: unknown): string {
  return `${taskName}:${canonicalHash(input)}`;
}

/** A child start's replay key: its reference id when it has one, else "input:" + the hash of its input. */
export function childRunKey(referenceId: string | undefined, input: unknown): string {
  return referenceId !== undefined && referenceId !== "" ? referenceId : `input:${canonicalHash(input)}`;
}
