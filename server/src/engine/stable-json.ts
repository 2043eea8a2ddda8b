import { createHash } from "node:crypto";
import type { JsonValue } from "../store/json.js";

/** JSON with object keys sorted at every level, so equal values give equal text. */
export function stableJson(value: JsonValue | undefined): string {
  if (value === undefined) return "undefined";
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(value[k])}`).join(",")}}`;
}

export function stableHash(value: JsonValue | undefined): string {
  return createHash("sha256").update(stableJson(value)).digest("hex");
}
