import type { ColumnType, Selectable } from "kysely";
import type { Json, Namespace, NullableTime, Time } from "./column-types.js";

export interface EventsTable {
  namespace: Namespace;
  id: ColumnType<string, string, never>;
  run_id: ColumnType<string, string, never>;
  name: ColumnType<string, string, never>;
  data: Json;
  reference_id: ColumnType<string | null, string | null | undefined, never>;
  consume_time: NullableTime;
  create_time: Time;
}
export type EventRow = Selectable<EventsTable>;
