import type { ColumnType, Insertable, RawBuilder, Selectable } from "kysely";
import type { OverlapPolicy, ScheduleSpec, ScheduleStatus } from "../domain/schedule-spec.js";
import type { JsonValue } from "./json.js";

type Json = ColumnType<JsonValue | null, RawBuilder<JsonValue> | null | undefined, never>;
type Time = ColumnType<Date, Date | RawBuilder<Date> | undefined, Date | RawBuilder<Date>>;
type NullableTime = ColumnType<Date | null, Date | RawBuilder<Date> | null | undefined, Date | RawBuilder<Date> | null>;

/** A schedule's definition (everything but name and state) never changes: a change is a new schedule. */
export interface SchedulesTable {
  namespace: ColumnType<string, string | undefined, never>;
  id: ColumnType<string, string, never>;
  name: ColumnType<string, string, never>;
  workflow_name: ColumnType<string, string, never>;
  workflow_version_id: ColumnType<string, string, never>;
  spec: ColumnType<ScheduleSpec, RawBuilder<JsonValue>, never>;
  overlap_policy: ColumnType<OverlapPolicy, OverlapPolicy, never>;
  input: Json;
  shard: ColumnType<string, string | undefined, never>;
  status: ScheduleStatus;
  next_time: NullableTime;
  last_time: NullableTime;
  last_run_id: string | null;
  definition_hash: ColumnType<string, string, never>;
  create_time: Time;
  update_time: Time;
  revision: ColumnType<number, number | undefined, number>;
  /** The tags of every run it starts; `{}` when none. */
  tags: ColumnType<Record<string, string>, RawBuilder<JsonValue> | undefined, never>;
}

export type ScheduleRow = Selectable<SchedulesTable>;
export type NewScheduleRow = Insertable<SchedulesTable>;
