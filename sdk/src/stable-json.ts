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

/**
 * JSON with object keys sorted at every level, so equal values give equal text. Must stay
 * byte-for-byte the same as the server's stableJson (server/src/engine/stable-json.ts).
 */
export function stableJson(value: JsonValue | undefined): string {
  if (value === undefined) return "undefined";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(value[k])}`).join(",")}}`;
}

/** sha256 (hex) of the stable JSON of the value as the server would see it. */
export function stableHash(value: unknown): string {
  return createHash("sha256").update(stableJson(toJsonValue(value))).digest("hex");
}

/** A task call's address: calls with the same address form one replay queue. */
export function taskAddress(taskName: string, input: unknown): string {
  return `${taskName}:${stableHash(input)}`;
}

/** A child start's replay key: its reference id when it has one, else the hash of its input. */
export function childRunKey(referenceId: string | undefined, input: unknown): string {
  return referenceId !== undefined && referenceId !== "" ? referenceId : `input:${stableHash(input)}`;
}
