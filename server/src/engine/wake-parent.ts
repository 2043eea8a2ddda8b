import type { Transaction } from "kysely";
import { isTerminal } from "../domain/run-status.js";
import type { Database } from "../store/database.js";
import { jsonbOrNull } from "../store/json.js";
import { lockRunById, transitionRun } from "../store/run-repository.js";
import { openWaits, resolveWait } from "../store/run-wait-repository.js";
import type { RunRow } from "../store/runs.table.js";

/**
 * Called in the transaction that moves `child` to a terminal state: a parent suspended on this
 * child is woken (whatever terminal state it reached; the parent's replay tells "completed" from
 * "run_terminated"). A parent not suspended on it (running, paused) finds the child finished at
 * its next SuspendRun, since that reads the child after locking the parent. Lock order is child,
 * then parent, in every path that holds both.
 */
export async function wakeParentWaitingOn(trx: Transaction<Database>, child: RunRow): Promise<RunRow | undefined> {
  if (!child.parent_run_id || !isTerminal(child.status)) return undefined;
  const parent = await lockRunById(trx, child.parent_run_id);
  if (parent?.status !== "awaiting_child_workflow") return undefined;
  const waits = await openWaits(trx, parent.id, "child", child.id);
  if (waits.length === 0) return undefined;
  for (const w of waits) {
    await resolveWait(trx, { runId: parent.id, kind: "child", key: w.key, sequence: w.sequence }, "finished", {
      child_status: child.status,
      output: jsonbOrNull(child.output ?? undefined),
      failure: jsonbOrNull(child.failure ?? undefined),
    });
  }
  return transitionRun(trx, parent, "queued", { wake_time: null }, { actor: `child:${child.id}`, reason: `child ${child.status}` });
}
