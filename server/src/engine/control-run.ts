import type { Transaction } from "kysely";
import { ContentionError, RunNotFoundError } from "../domain/errors.js";
import { type RunAction, targetStatusFor } from "../domain/run-actions.js";
import type { RunStatus } from "../domain/run-status.js";
import type { Database } from "../store/database.js";
import { databaseNow } from "../store/database-clock.js";
import { isDeadlock } from "../store/pg-errors.js";
import { cancelDescendants, findRunById, transitionRun } from "../store/run-repository.js";
import { openWaits, resolveWait } from "../store/run-wait-repository.js";
import { uncountInterruptedAttempts } from "../store/task-repository.js";
import type { RunRow } from "../store/runs.table.js";
import type { EngineDeps } from "./engine-deps.js";
import { publishLeaseEnded, publishRunChange } from "./publish-run-change.js";
import { wakeParentWaitingOn } from "./wake-parent.js";
import { storeTransaction } from "../tracing/store-spans.js";

export interface ControlRunCommand {
  namespace: string;
  runId: string;
  action: RunAction;
  reason?: string | undefined;
  actor: string;
}

// Optimistic concurrency: a guarded update that loses to a concurrent writer re-reads and
// re-decides. Contention on one run is brief (a worker write, a timer), so a few tries suffice.
const maxTries = 8;

/** Pauses, resumes, cancels (with every non-terminal descendant) or awakes a run. */
export async function controlRun(deps: EngineDeps, cmd: ControlRunCommand): Promise<RunRow> {
  for (let attempt = 0; attempt < maxTries; attempt++) {
    const current = await findRunById(deps.db, cmd.namespace, cmd.runId);
    if (!current) throw new RunNotFoundError({ runId: cmd.runId });
    const to = targetStatusFor(cmd.action, current);
    const outcome = await storeTransaction(deps.db, "controlRun", cmd.runId, (trx) => applyRunAction(trx, current, to, cmd))
      // Cancelling a child while its parent is cancelled locks the two in opposite orders; the
      // database breaks the deadlock and we decide again.
      .catch((error: unknown) => (isDeadlock(error) ? undefined : Promise.reject(error)));
    if (!outcome) continue;
    publishAppliedRunAction(deps, current, outcome);
    return outcome.run;
  }
  throw new ContentionError(cmd.runId);
}

/** After commit: the hints and metrics of an applied action (`current` is the run before it). */
export function publishAppliedRunAction(deps: EngineDeps, current: RunRow, outcome: AppliedRunAction): void {
  publishRunChange(deps.notifier, outcome.run);
  if (current.status === "running") publishLeaseEnded(deps.notifier, current.namespace, current.lease_worker_id);
  if (outcome.parent) publishRunChange(deps.notifier, outcome.parent);
  for (const d of outcome.descendants) {
    publishRunChange(deps.notifier, { ...outcome.run, id: d.id, status: "cancelled" });
  }
  deps.metrics?.runTransitioned(current.status, outcome.run.status);
  if (outcome.parent) deps.metrics?.runTransitioned("awaiting_child_workflow", outcome.parent.status);
  for (const d of outcome.descendants) deps.metrics?.runTransitioned(d.from_status, "cancelled");
}

export interface AppliedRunAction {
  run: RunRow;
  descendants: Array<{ id: string; revision: number; from_status: RunStatus }>;
  parent: RunRow | undefined;
}

/**
 * An action's writes, in the caller's transaction, on a run as the caller read (or locked) it:
 * the guarded transition with its history entry and everything the action implies (a pause
 * uncounts the interrupted task attempt, awake ends the open sleep, cancel cascades to
 * descendants and wakes a parent waiting on the run). Undefined: the run changed since it was
 * read and nothing was written. The caller publishes the changes after commit.
 */
export async function applyRunAction(
  trx: Transaction<Database>,
  current: RunRow,
  to: RunStatus,
  cmd: Pick<ControlRunCommand, "action" | "reason" | "actor">,
): Promise<AppliedRunAction | undefined> {
  const run = await transitionRun(
    trx,
    current,
    to,
    { ...changesFor(cmd.action), status_reason: cmd.reason ?? null },
    { actor: cmd.actor, reason: cmd.reason ?? cmd.action },
  );
  if (!run) return undefined;
  if (cmd.action === "pause" && current.status === "running") await uncountInterruptedAttempts(trx, run.id);
  // awake() ends the current sleep early; the workflow sees `cancelled: true`.
  if (cmd.action === "awake") {
    for (const w of await openWaits(trx, run.id, "sleep")) {
      await resolveWait(trx, { runId: run.id, kind: "sleep", key: w.key, sequence: w.sequence }, "cancelled");
    }
  }
  const descendants =
    cmd.action === "cancel" ? await cancelDescendants(trx, run.namespace, run.id, { actor: `parent:${run.id}`, reason: `ancestor ${run.id} cancelled` }) : [];
  // A parent suspended on this run learns it ended (as run_terminated).
  const parent = cmd.action === "cancel" ? await wakeParentWaitingOn(trx, run) : undefined;
  return { run, descendants, parent };
}

export function changesFor(action: RunAction) {
  const noLease = { lease_token: null, lease_worker_id: null, lease_expires_time: null };
  switch (action) {
    // Dropping the lease is what makes a worker's next write on this run fail.
    case "cancel":
      return { ...noLease, wake_time: null, end_time: databaseNow() };
    case "pause":
      return { ...noLease, wake_time: null };
    case "resume":
    case "awake":
      return { wake_time: null };
  }
}
