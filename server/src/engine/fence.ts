import type { Transaction } from "kysely";
import { LeaseLostError } from "../domain/errors.js";
import type { Database } from "../store/database.js";
import { lockLeasedRun } from "../store/lease-repository.js";
import { findRunById } from "../store/run-repository.js";
import type { RunRow } from "../store/runs.table.js";

/** The run, locked, if the caller holds its lease; LeaseLostError (naming the current state) if not. */
export async function requireLease(
  trx: Transaction<Database>,
  namespace: string,
  runId: string,
  leaseToken: string,
  mode: "update" | "share",
): Promise<RunRow> {
  const run = await lockLeasedRun(trx, namespace, runId, leaseToken, mode);
  if (run) return run;
  const current = await findRunById(trx, namespace, runId);
  throw new LeaseLostError(runId, current?.status);
}
