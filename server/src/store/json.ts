import { type RawBuilder, sql } from "kysely";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A jsonb parameter. Always serialized by us: `pg` would send a JS array as a Postgres array and
 * a JS string unquoted, both wrong for jsonb.
 */
export function jsonb(value: JsonValue): RawBuilder<JsonValue> {
  return sql<JsonValue>`cast(${JSON.stringify(value)} as jsonb)`;
}

export function jsonbOrNull(value: JsonValue | undefined): RawBuilder<JsonValue> | null {
  return value === undefined ? null : jsonb(value);
}
