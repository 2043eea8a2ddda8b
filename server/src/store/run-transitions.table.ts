import type { ColumnType, Insertable, Selectable } from "kysely";
import type { RunStatus } from "../domain/run-status.js";

export interface RunTransitionsTable {
  namespace: ColumnType<string, string | undefined, never>;
  run_id: string;
  revision: number;
  /** Null for the run's creation. */
  from_status: RunStatus | null;
  to_status: RunStatus;
  actor: string;
  reason: string | null;
  time: ColumnType<Date, Date | undefined, never>;
}

export type RunTransitionRow = Selectable<RunTransitionsTable>;
export type NewRunTransitionRow = Insertable<RunTransitionsTable>;
