import type { ColumnType, Insertable, RawBuilder, Selectable } from "kysely";
import type { RunStatus } from "../domain/run-status.js";
import type { Json, NullableTime, Time } from "./column-types.js";
import type { JsonValue } from "./json.js";

export interface RunsTable {
  namespace: ColumnType<string, string | undefined, never>;
  id: ColumnType<string, string, never>;
  workflow_name: ColumnType<string, string, never>;
  workflow_version_id: ColumnType<string, string, never>;
  status: RunStatus;
  revision: number;
  input: Json;
  output: Json;
  failure: Json;
  failure_cause: "task" | "handler" | "non_determinism" | "output_schema" | "child_schema" | null;
  status_reason: string | null;
  shard: ColumnType<string, string | undefined, never>;
  reference_id: ColumnType<string | null, string | null | undefined, never>;
  parent_run_id: ColumnType<string | null, string | null | undefined, never>;
  /** The schedule whose occurrence started the run; null for every other start. */
  schedule_id: ColumnType<string | null, string | null | undefined, never>;
  retry_policy: Json;
  attempt: ColumnType<number, number | undefined, number>;
  start_request_id: ColumnType<string | null, string | null | undefined, never>;
  start_request_hash: ColumnType<string | null, string | null | undefined, never>;
  wake_time: NullableTime;
  lease_token: string | null;
  lease_worker_id: string | null;
  lease_expires_time: NullableTime;
  create_time: Time;
  update_time: Time;
  start_time: NullableTime;
  end_time: NullableTime;
  /** Kept at least until then, whatever the retention age (SetRunRetention); null: the policy decides. */
  retain_until: NullableTime;
  /** Never purged (SetRunRetention). */
  retain_forever: ColumnType<boolean, boolean | undefined, boolean>;
  /** The run a rerun copied its history from (RunService.RerunRun); null for every other start. */
  rerun_of: ColumnType<string | null, string | null | undefined, never>;
  /** Where a rerun went live (see RerunFromStep); null unless rerun_of is set. */
  rerun_from_step: ColumnType<RerunFromStep | null, RawBuilder<JsonValue> | null | undefined, never>;
  /** Set at start, never changed; `{}` when none. */
  tags: ColumnType<Record<string, string>, RawBuilder<JsonValue> | undefined, never>;
  /** The W3C traceparent the run continues (docs/tracing.md); null when its start carried none. */
  traceparent: ColumnType<string | null, string | null | undefined, never>;
  /** The W3C tracestate that came with the traceparent. */
  tracestate: ColumnType<string | null, string | null | undefined, never>;
}

/** Where a rerun went live, as stored in runs.rerun_from_step. */
export type RerunFromStep =
  | { kind: "start"; lastFailure?: boolean }
  | { kind: "history_end"; lastFailure?: boolean }
  | { kind: "task"; address: string; sequence: number; lastFailure?: boolean };

export type RunRow = Selectable<RunsTable>;
export type NewRunRow = Insertable<RunsTable>;
