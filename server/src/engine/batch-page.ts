import type { Transaction } from "kysely";
import { type BatchAction, type BatchFailure, BatchLeaseLostError } from "../domain/batch-operation.js";
import { AikiDomainError, InvalidTransitionError } from "../domain/errors.js";
import { targetStatusFor } from "../domain/run-actions.js";
import { isTerminal, type RunStatus } from "../domain/run-status.js";
import type { BatchOperationRow } from "../store/batch-operations.table.js";
import { commitBatchPage } from "../store/batch-operation-repository.js";
import type { Database } from "../store/database.js";
import { lockMatchingRunsAfter, lockRunsInIdOrder, type RunFilter, runsWithChildren, transitionRunsGuarded } from "../store/run-repository.js";
import type { RunRow } from "../store/runs.table.js";
import { storedFilterOf } from "./batch-selection.js";
import { type AppliedRunAction, applyRunAction, changesFor, publishAppliedRunAction } from "./control-run.js";
import type { EngineDeps } from "./engine-deps.js";
import { publishHistoryChange, publishRunChange } from "./publish-run-change.js";
import { rerunWithin } from "./rerun-run.js";
import { deliverToLockedRun } from "./send-event.js";
import { storeTransaction } from "../tracing/store-spans.js";

export interface BatchPageOutcome {
  /** No run was left: the operation is complete. */
  ended: boolean;
  /** Runs gone through in this page (acted on, skipped or failed). */
  goneThrough: number;
}

type Acted =
  | { kind: "control"; current: RunRow; outcome: AppliedRunAction }
  | { kind: "event"; run: RunRow; woken: RunRow | undefined }
  | { kind: "rerun"; run: RunRow }
  | { kind: "skipped" };

/**
 * One page of an operation this replica holds, in one transaction: the next runs of its
 * selection after its cursor are locked in id order, each goes through the action's guarded
 * transition (a run whose state forbids it is skipped, one that fails otherwise is counted
 * with its reason), and the cursor and counts are committed with those transitions, guarded by
 * the lease. So a page is either wholly done and recorded or not at all: a replica that dies
 * mid-page leaves it to the next holder, which acts on no run twice. Publishes after commit.
 */
export async function runBatchPage(deps: EngineDeps, op: BatchOperationRow, owner: string, leaseTtlMs: number, pageSize: number): Promise<BatchPageOutcome> {
  const action = op.action as unknown as BatchAction;
  const actor = `batch:${op.id}`;
  const acted: Acted[] = [];
  const page = await storeTransaction(deps.db, "runBatchPage", undefined, async (trx) => {
    const { rows, cursor, missing } = await lockNextPage(trx, op, pageSize);
    if (cursor === undefined) return { ended: true, goneThrough: 0 };
    let done = 0;
    let skipped = missing;
    const failures: BatchFailure[] = [];
    // The common case in one statement: runs whose action implies nothing but the transition.
    const { plain, each } = await partition(trx, op.namespace, rows, action);
    if (plain.length > 0) {
      const { to, moved } = await actOnPlain(trx, op.namespace, plain, action as BatchAction & { type: "cancel" | "pause" | "resume" }, actor);
      const byId = new Map(moved.map((r) => [r.id, r]));
      for (const current of plain) {
        const run = byId.get(current.id);
        // Locked, so unchanged since read: a run missing here was moved by this page itself (a
        // cascade from an ancestor cancelled earlier in it).
        if (!run || run.status !== to) skipped++;
        else {
          done++;
          acted.push({ kind: "control", current, outcome: { run, descendants: [], parent: undefined } });
        }
      }
    }
    for (const run of each) {
      try {
        const result = await actOn(trx, run, action, actor, op.id);
        acted.push(result);
        if (result.kind === "skipped") skipped++;
        else done++;
      } catch (error) {
        // Refused by the run's state, before anything was written: not an error of the operation.
        if (error instanceof InvalidTransitionError) skipped++;
        else if (error instanceof AikiDomainError) failures.push({ runId: run.id, reason: error.message });
        else throw error;
      }
    }
    const held = await commitBatchPage(trx, op.id, owner, leaseTtlMs, { cursor, done, skipped, failed: failures.length, failures });
    if (!held) throw new BatchLeaseLostError(op.id);
    return { ended: false, goneThrough: rows.length + missing };
  });
  for (const a of acted) {
    if (a.kind === "control") publishAppliedRunAction(deps, a.current, a.outcome);
    else if (a.kind === "event") {
      if (a.woken) {
        publishRunChange(deps.notifier, a.woken);
        deps.metrics?.runTransitioned("awaiting_event", "queued");
      } else publishHistoryChange(deps.notifier, a.run.namespace, a.run.id);
    } else if (a.kind === "rerun") {
      publishRunChange(deps.notifier, a.run);
      deps.metrics?.runTransitioned(null, a.run.status);
    }
  }
  return page;
}

async function lockNextPage(
  trx: Transaction<Database>,
  op: BatchOperationRow,
  pageSize: number,
): Promise<{ rows: RunRow[]; cursor: string | undefined; missing: number }> {
  if (op.run_ids) {
    // Sorted and without repeats at start: the cursor is a position in the list.
    const from = op.cursor ? op.run_ids.findIndex((id) => id > op.cursor!) : 0;
    const ids = from < 0 ? [] : op.run_ids.slice(from, from + pageSize);
    if (ids.length === 0) return { rows: [], cursor: undefined, missing: 0 };
    const rows = await lockRunsInIdOrder(trx, op.namespace, ids);
    // Unknown ids (or another namespace's) are counted as skipped.
    return { rows, cursor: ids[ids.length - 1], missing: ids.length - rows.length };
  }
  const filter: RunFilter = storedFilterOf(op);
  const rows = await lockMatchingRunsAfter(trx, op.namespace, filter, op.cursor ?? undefined, pageSize);
  return { rows, cursor: rows[rows.length - 1]?.id, missing: 0 };
}

async function actOn(trx: Transaction<Database>, run: RunRow, action: BatchAction, actor: string, operationId: string): Promise<Acted> {
  if (action.type === "rerun") {
    // Refused for a run not finished (InvalidTransitionError: skipped). Inside the page's
    // transaction, so a page replayed after a crash finds no rerun of it; the request id keeps a
    // second one out all the same.
    const { run: started, existing } = await rerunWithin(trx, {
      namespace: run.namespace,
      runId: run.id,
      from: { kind: action.from },
      workflowVersionId: action.workflowVersionId,
      requestId: `batch:${operationId}:${run.id}`,
      actor,
    });
    return existing ? { kind: "skipped" } : { kind: "rerun", run: started };
  }
  if (action.type === "send_event") {
    if (isTerminal(run.status)) throw new InvalidTransitionError(run.id, run.status, "send_event", run.revision);
    const { delivery, woken } = await deliverToLockedRun(trx, run, {
      namespace: run.namespace,
      eventName: action.eventName,
      data: action.data,
      referenceId: action.referenceId,
    });
    return delivery.duplicate ? { kind: "skipped" } : { kind: "event", run, woken };
  }
  const to = targetStatusFor(action.type, run);
  const reason = "reason" in action ? action.reason : undefined;
  const outcome = await applyRunAction(trx, run, to, { action: action.type, reason, actor });
  // The run was locked, so only this page itself can have changed it (a cascade from an
  // ancestor cancelled earlier in the page): it was acted on already, as a descendant.
  return outcome ? { kind: "control", current: run, outcome } : { kind: "skipped" };
}

/**
 * Splits a page: runs the action only moves (a cancel of a run without parent or children, a
 * pause of a run no worker holds, a resume), whose transitions one statement makes, and runs
 * that take the single-run path (cascades, a waiting parent, an interrupted task attempt, an
 * open sleep, an event). Runs whose state forbids the action are in neither: counted skipped.
 */
async function partition(trx: Transaction<Database>, namespace: string, rows: RunRow[], action: BatchAction): Promise<{ plain: RunRow[]; each: RunRow[] }> {
  if (action.type !== "cancel" && action.type !== "pause" && action.type !== "resume") return { plain: [], each: rows };
  const withChildren =
    action.type === "cancel"
      ? await runsWithChildren(
          trx,
          namespace,
          rows.map((r) => r.id),
        )
      : new Set<string>();
  const plain: RunRow[] = [];
  const each: RunRow[] = [];
  for (const run of rows) {
    const simple =
      run.parent_run_id === null && !withChildren.has(run.id) && !(action.type === "pause" && run.status === "running") && allows(action.type, run);
    (simple ? plain : each).push(run);
  }
  return { plain, each };
}

function allows(action: "cancel" | "pause" | "resume", run: RunRow): boolean {
  try {
    targetStatusFor(action, run);
    return true;
  } catch (error) {
    if (error instanceof InvalidTransitionError) return false;
    throw error;
  }
}

async function actOnPlain(
  trx: Transaction<Database>,
  namespace: string,
  runs: RunRow[],
  action: BatchAction & { type: "cancel" | "pause" | "resume" },
  actor: string,
): Promise<{ to: RunStatus; moved: RunRow[] }> {
  const to = targetStatusFor(action.type, runs[0]!);
  const changes = changesFor(action.type);
  const moved = await transitionRunsGuarded(
    trx,
    namespace,
    runs,
    to,
    {
      clearLease: "lease_token" in changes,
      clearWake: "wake_time" in changes,
      end: "end_time" in changes,
      statusReason: action.reason ?? null,
    },
    { actor, reason: action.reason ?? action.type },
  );
  return { to, moved };
}
