import type { ColumnType, Selectable } from "kysely";
import type { RunStatus } from "../domain/run-status.js";
import type { Json, Namespace, NullableTime, Time } from "./column-types.js";

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
