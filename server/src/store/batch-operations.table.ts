import type { ColumnType, Insertable, RawBuilder, Selectable } from "kysely";
import type { BatchOperationStatus } from "../domain/batch-operation.js";
import type { JsonValue } from "./json.js";
import type { NullableTime, Time } from "./column-types.js";

/** A durable batch operation (migration 0007); its progress is committed with each page it acts on. */
export interface BatchOperationsTable {
  namespace: ColumnType<string, string, never>;
  id: ColumnType<string, string, never>;
  request_id: ColumnType<string | null, string | null | undefined, never>;
  request_hash: ColumnType<string | null, string | null | undefined, never>;
  status: BatchOperationStatus;
  status_reason: string | null;
  /** The stored RunFilter (batch-operation-repository.ts StoredRunFilter); null with run_ids. */
  filter: ColumnType<JsonValue | null, RawBuilder<JsonValue> | null, never>;
  run_ids: ColumnType<string[] | null, string[] | null, never>;
  action: ColumnType<JsonValue, RawBuilder<JsonValue>, never>;
  rate: ColumnType<number, number, never>;
  requested_by: ColumnType<string, string, never>;
  description: ColumnType<string, string | undefined, never>;
  /** bigint columns: pg returns them as strings. */
  matching: ColumnType<string, number, number>;
  done: ColumnType<string, never, RawBuilder<string>>;
  skipped: ColumnType<string, never, RawBuilder<string>>;
  failed: ColumnType<string, never, RawBuilder<string>>;
  failures: ColumnType<JsonValue, never, RawBuilder<JsonValue>>;
  cursor: ColumnType<string | null, never, string | null>;
  lease_owner: string | null;
  lease_expires_time: NullableTime;
  create_time: Time;
  update_time: Time;
  end_time: NullableTime;
}

export type BatchOperationRow = Selectable<BatchOperationsTable>;
export type NewBatchOperationRow = Insertable<BatchOperationsTable>;
