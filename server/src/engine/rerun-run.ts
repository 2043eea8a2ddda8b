import type { Transaction } from "kysely";
import { InvalidTransitionError, RunConflictError, RunNotFoundError } from "../domain/errors.js";
import { isTerminal } from "../domain/run-status.js";
import type { Database } from "../store/database.js";
import { copyHistoryRecords, historyTimeline } from "../store/history-copy-repository.js";
import { jsonb, jsonbOrNull, type JsonValue } from "../store/json.js";
import { isUniqueViolation } from "../store/pg-errors.js";
import { findRunById, findRunByReference, findRunByStartRequestId, insertRun, runStatuses } from "../store/run-repository.js";
import type { RunRow } from "../store/runs.table.js";
import { uuidV7 } from "../store/uuid-v7.js";
import { canonicalHash } from "./canonical-json.js";
import type { EngineDeps } from "./engine-deps.js";
import { publishRunChange } from "./publish-run-change.js";
import { type RerunFrom, selectRerunPrefix } from "./rerun-prefix.js";
import { loadHistory } from "./run-history.js";
import { storeTransaction } from "../tracing/store-spans.js";

export interface RerunRunCommand {
  namespace: string;
  /** The source run: COMPLETED, FAILED or CANCELLED. */
  runId: string;
  from: RerunFrom;
  /** The new run's input; undefined: the source's. */
  input?: JsonValue | undefined;
  /** The new run's version; undefined: the source's. */
  workflowVersionId?: string | undefined;
  requestId?: string | undefined;
  referenceId?: string | undefined;
  actor: string;
}

export interface RerunRunResult {
  run: RunRow;
  existing: boolean;
  /** Records copied into the new run (0 when existing). */
  copiedRecords: number;
}

/**
 * Starts a new run from a finished run's history (docs/semantics.md, Rerun): in one transaction,
 * the new run (QUEUED, with its lineage) and copies of the source's records before the step. The
 * source is only read. Callable per run, e.g. by a bulk action. Two concurrent reruns with the
 * same request id race on its unique index; the loser retries once and finds the winner's run.
 */
export async function rerunRun(deps: EngineDeps, cmd: RerunRunCommand): Promise<RerunRunResult> {
  const once = () => storeTransaction(deps.db, "rerunRun", cmd.runId, (trx) => rerunWithin(trx, cmd));
  let result: RerunRunResult;
  try {
    result = await once();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    result = await once();
  }
  if (!result.existing) {
    publishRunChange(deps.notifier, result.run);
    deps.metrics?.runTransitioned(null, result.run.status);
  }
  return result;
}

/**
 * The rerun's writes inside the caller's transaction (a batch page's): the caller publishes the
 * new run after commit. A repeated request id answers the first run (`existing`).
 */
export async function rerunWithin(trx: Transaction<Database>, cmd: RerunRunCommand): Promise<RerunRunResult> {
  const requestHash = cmd.requestId ? canonicalHash({ ...cmd, requestId: null, actor: null } as unknown as JsonValue) : null;
  if (cmd.requestId) {
    const prior = await findRunByStartRequestId(trx, cmd.namespace, cmd.requestId);
    if (prior) {
      if (prior.start_request_hash !== requestHash) throw new RunConflictError("request_id", prior.id, cmd.requestId);
      return { run: prior, existing: true, copiedRecords: 0 };
    }
  }
  // A terminal run never changes again, so reading it (and its history) needs no lock.
  const source = await findRunById(trx, cmd.namespace, cmd.runId);
  if (!source) throw new RunNotFoundError({ runId: cmd.runId });
  if (!isTerminal(source.status)) throw new InvalidTransitionError(source.id, source.status, "rerun", source.revision);
  const versionId = cmd.workflowVersionId ?? source.workflow_version_id;
  if (cmd.referenceId) {
    const holder = await findRunByReference(trx, cmd.namespace, {
      workflowName: source.workflow_name,
      workflowVersionId: versionId,
      referenceId: cmd.referenceId,
    });
    if (holder) {
      // The reference already names a rerun of this source: that rerun is the answer.
      if (holder.rerun_of === source.id) return { run: holder, existing: true, copiedRecords: 0 };
      throw new RunConflictError("reference_id", holder.id, cmd.referenceId);
    }
  }

  const [history, timeline] = await Promise.all([loadHistory(trx, source.id), historyTimeline(trx, source.id)]);
  const childIds = [...new Set(history.children.map((c) => c.child_run_id))];
  const childStatuses = new Map((await runStatuses(trx, childIds)).map((r) => [r.id, r.status]));
  const prefix = selectRerunPrefix(history, timeline, cmd.from, childStatuses);

  const run = await insertRun(
    trx,
    {
      namespace: cmd.namespace,
      id: uuidV7(),
      workflow_name: source.workflow_name,
      workflow_version_id: versionId,
      status: "queued",
      input: cmd.input === undefined ? jsonbOrNull(source.input ?? undefined) : jsonb(cmd.input),
      shard: source.shard,
      reference_id: cmd.referenceId ?? null,
      retry_policy: jsonbOrNull(source.retry_policy ?? undefined),
      start_request_id: cmd.requestId ?? null,
      start_request_hash: requestHash,
      rerun_of: source.id,
      rerun_from_step: jsonb(prefix.step as unknown as JsonValue),
      // Tags say what a run is about (a customer, a deploy): its rerun is about the same.
      tags: jsonb((source.tags ?? {}) as JsonValue),
    },
    { actor: cmd.actor, reason: `rerun of ${source.id}` },
  );
  await copyHistoryRecords(trx, run.id, prefix);
  return { run, existing: false, copiedRecords: prefix.tasks.length + prefix.waits.length + prefix.children.length };
}
