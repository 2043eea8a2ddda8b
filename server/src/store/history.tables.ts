import type { ColumnType, RawBuilder, Selectable } from "kysely";
import type { RunStatus } from "../domain/run-status.js";
import type { JsonValue } from "./json.js";

type Json = ColumnType<JsonValue | null, RawBuilder<JsonValue> | null | undefined, RawBuilder<JsonValue> | null>;
type Time = ColumnType<Date, Date | RawBuilder<Date> | undefined, Date | RawBuilder<Date>>;
type NullableTime = ColumnType<Date | null, Date | RawBuilder<Date> | null | undefined, Date | RawBuilder<Date> | null>;
type Namespace = ColumnType<string, string | undefined, never>;

export type TaskStatus = "running" | "awaiting_retry" | "completed" | "failed";

export interface TasksTable {
  namespace: Namespace;
  id: ColumnType<string, string, never>;
  run_id: ColumnType<string, string, never>;
  name: ColumnType<string, string, never>;
  address: ColumnType<string, string, never>;
  sequence: ColumnType<number, number, never>;
  status: TaskStatus;
  attempts: number;
  max_attempts: number;
  input: Json;
  output: Json;
  failure: Json;
  next_attempt_time: NullableTime;
  workflow_attempt: number;
  attempt_id: ColumnType<string | null, string | null | undefined, string | null>;
  create_time: Time;
  update_time: Time;
}
export type TaskRow = Selectable<TasksTable>;

export type WaitKind = "sleep" | "event" | "child";
export type WaitStatus = "waiting" | "completed" | "cancelled" | "received" | "timed_out" | "finished";

export interface RunWaitsTable {
  namespace: Namespace;
  run_id: ColumnType<string, string, never>;
  kind: ColumnType<WaitKind, WaitKind, never>;
  key: ColumnType<string, string, never>;
  sequence: ColumnType<number, number, never>;
  status: WaitStatus;
  duration_ms: number | null;
  timeout_ms: number | null;
  start_time: Time;
  deadline: NullableTime;
  end_time: NullableTime;
  event_id: string | null;
  awaited_status: RunStatus | null;
  child_status: RunStatus | null;
  output: Json;
  failure: Json;
}
export type RunWaitRow = Selectable<RunWaitsTable>;

export interface ChildRunsTable {
  namespace: Namespace;
  parent_run_id: string;
  key: string;
  sequence: number;
  child_run_id: string;
  workflow_name: string;
  workflow_version_id: string;
  create_time: Time;
}
export type ChildRunRow = Selectable<ChildRunsTable>;

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
