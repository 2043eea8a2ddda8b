import { findChildRecord, insertChildRecord } from "../store/child-run-repository.js";
import { isUniqueViolation } from "../store/pg-errors.js";
import { findRunById } from "../store/run-repository.js";
import type { RunRow } from "../store/runs.table.js";
import type { EngineDeps } from "./engine-deps.js";
import { requireLease } from "./fence.js";
import { publishHistoryChange, publishRunChange } from "./publish-run-change.js";
import { createRun, type StartRunCommand } from "./start-run.js";
import { storeTransaction } from "../tracing/store-spans.js";

export interface StartChildRunCommand extends Omit<StartRunCommand, "parentRunId" | "requestId" | "shard" | "actor"> {
  parentRunId: string;
  leaseToken: string;
  /** Identifies the call across replays: reference id, else "input:" + hash. */
  key: string;
  sequence: number;
  /** Empty: the parent's shard. */
  shard: string;
}

/**
 * Starts a child once per (parent, key, sequence): a replay gets the child recorded the first
 * time. The record and the child are written in the parent's fenced transaction.
 */
export async function startChildRun(deps: EngineDeps, cmd: StartChildRunCommand): Promise<{ run: RunRow; existing: boolean }> {
  const attempt = () =>
    storeTransaction(deps.db, "startChildRun", cmd.parentRunId, async (trx) => {
      const parent = await requireLease(trx, cmd.namespace, cmd.parentRunId, cmd.leaseToken, "share");
      const recorded = await findChildRecord(trx, parent.id, cmd.key, cmd.sequence);
      if (recorded) {
        const child = await findRunById(trx, cmd.namespace, recorded.child_run_id);
        return { run: child!, existing: true };
      }
      const started = await createRun(trx, {
        ...cmd,
        shard: cmd.shard || parent.shard,
        parentRunId: parent.id,
        actor: `parent:${parent.id}`,
        // A worker names its current span; one that does not continues the parent's trace.
        traceContext: cmd.traceContext ?? (parent.traceparent ? { traceparent: parent.traceparent, tracestate: parent.tracestate ?? undefined } : undefined),
      });
      await insertChildRecord(trx, {
        namespace: cmd.namespace,
        parent_run_id: parent.id,
        key: cmd.key,
        sequence: cmd.sequence,
        child_run_id: started.run.id,
        workflow_name: cmd.workflowName,
        workflow_version_id: cmd.workflowVersionId,
      });
      return started;
    });
  let result: { run: RunRow; existing: boolean };
  try {
    result = await attempt();
  } catch (error) {
    // Two concurrent identical calls (a worker retrying a timed-out call): the loser finds the record.
    if (!isUniqueViolation(error)) throw error;
    result = await attempt();
  }
  if (!result.existing) {
    publishRunChange(deps.notifier, result.run);
    publishHistoryChange(deps.notifier, cmd.namespace, cmd.parentRunId);
    deps.metrics?.runTransitioned(null, result.run.status);
  }
  return result;
}
