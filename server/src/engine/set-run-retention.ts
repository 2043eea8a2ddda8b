import { RunNotFoundError } from "../domain/errors.js";
import type { Db } from "../store/database.js";
import { type RetentionChange, updateRunRetention } from "../store/retention-repository.js";
import type { RunRow } from "../store/runs.table.js";

/** Keeps a run past the retention age, or gives it back to the policy (docs/retention.md). */
export async function setRunRetention(deps: { db: Db }, namespace: string, runId: string, change: RetentionChange): Promise<RunRow> {
  const row = await updateRunRetention(deps.db, namespace, runId, change);
  if (!row) throw new RunNotFoundError({ runId });
  return row;
}
