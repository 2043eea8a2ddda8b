import type { ColumnType, RawBuilder, Selectable } from "kysely";
import type { Time } from "./column-types.js";
import type { JsonValue } from "./json.js";

export interface WorkersTable {
  /** Updatable: a worker id reused in another namespace moves there (ids are the worker's choice). */
  namespace: ColumnType<string, string | undefined, string>;
  id: string;
  name: string;
  workflows: ColumnType<JsonValue, RawBuilder<JsonValue>, RawBuilder<JsonValue>>;
  shards: ColumnType<JsonValue, RawBuilder<JsonValue>, RawBuilder<JsonValue>>;
  last_seen_time: Time;
  /** "session", "stream" or "poll": its latest call; "" once its stream or session ended. */
  transport: ColumnType<string, string | undefined, string>;
  first_seen_time: ColumnType<Date, undefined, never>;
}
export type WorkerRow = Selectable<WorkersTable>;
