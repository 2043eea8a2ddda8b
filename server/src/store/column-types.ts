import type { ColumnType, RawBuilder } from "kysely";
import type { JsonValue } from "./json.js";

// Column types the table files share: what a select reads, an insert may give, an update may set.

/** JSON: written as a RawBuilder (jsonb), so a string is never mistaken for JSON text. */
export type Json = ColumnType<JsonValue | null, RawBuilder<JsonValue> | null | undefined, RawBuilder<JsonValue> | null>;
/** A time, given as a Date or as SQL (the database's clock). */
export type Time = ColumnType<Date, Date | RawBuilder<Date> | undefined, Date | RawBuilder<Date>>;
export type NullableTime = ColumnType<Date | null, Date | RawBuilder<Date> | null | undefined, Date | RawBuilder<Date> | null>;
/** Set at insert (defaults to "default"), never moved. */
export type Namespace = ColumnType<string, string | undefined, never>;
