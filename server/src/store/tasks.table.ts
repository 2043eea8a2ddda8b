import type { ColumnType, Selectable } from "kysely";
import type { Json, Namespace, NullableTime, Time } from "./column-types.js";

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
