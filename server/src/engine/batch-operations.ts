import { type BatchAction, BatchOperationConflictError, BatchOperationNotFoundError, type BatchOperationStatus } from "../domain/batch-operation.js";
import { LimitExceededError } from "../domain/errors.js";
import { limitVariables } from "../limits.js";
import { channels } from "../notify/notifier.js";
import {
  cancelBatchOperation as cancelRow,
  countRunningBatchOperations,
  findBatchOperation,
  findBatchOperationByRequestId,
  insertBatchOperation,
  listBatchOperations,
} from "../store/batch-operation-repository.js";
import type { BatchOperationRow } from "../store/batch-operations.table.js";
import { jsonb, type JsonValue } from "../store/json.js";
import { isUniqueViolation } from "../store/pg-errors.js";
import { countRuns, type RunFilter } from "../store/run-repository.js";
import { uuidV7 } from "../store/uuid-v7.js";
import { storedFilterOf, storeFilter } from "./batch-selection.js";
import { canonicalHash } from "./canonical-json.js";
import type { EngineDeps } from "./engine-deps.js";
import type { Page } from "./query-runs.js";
import { defaultLimits } from "../limits.js";
import { storeTransaction } from "../tracing/store-spans.js";

export type BatchSelection = { filter: RunFilter } | { runIds: readonly string[] };

export interface StartBatchCommand {
  namespace: string;
  requestId?: string | undefined;
  selection: BatchSelection;
  action: BatchAction;
  dryRun: boolean;
  /** Runs per second, validated against AIKI_BATCH_MAX_RATE by the caller. */
  rate: number;
  description: string;
  /** "client", or "key:<api key id>". */
  requestedBy: string;
}

export interface StartBatchResult {
  operation: BatchOperationRow | undefined;
  matching: number;
  existing: boolean;
}

/**
 * Starts a batch operation (stored RUNNING; a replica's BatchLoop goes through its runs), or
 * returns the one this request id started, or, dry, only counts what it would select.
 */
export async function startBatchOperation(deps: EngineDeps, cmd: StartBatchCommand): Promise<StartBatchResult> {
  if (cmd.dryRun) return { operation: undefined, matching: await countSelection(deps, cmd.namespace, cmd.selection, undefined), existing: false };
  const hash = requestHashOf(cmd);
  if (cmd.requestId) {
    const prior = await priorStart(deps, cmd, hash);
    if (prior) return prior;
  }
  const limits = deps.limits ?? defaultLimits;
  const running = await countRunningBatchOperations(deps.db, cmd.namespace);
  if (running >= limits.maxRunningBatchOperations) {
    throw new LimitExceededError({
      limit: limitVariables.maxRunningBatchOperations,
      max: limits.maxRunningBatchOperations,
      actual: running + 1,
      subject: "running_batch_operations",
    });
  }
  let operation: BatchOperationRow;
  try {
    operation = await storeTransaction(deps.db, "startBatchOperation", undefined, async (trx) => {
      const row = await insertBatchOperation(trx, {
        namespace: cmd.namespace,
        id: uuidV7(),
        request_id: cmd.requestId ?? null,
        request_hash: hash,
        status: "running",
        status_reason: null,
        filter: "filter" in cmd.selection ? jsonb(storeFilter(cmd.selection.filter)) : null,
        run_ids: "runIds" in cmd.selection ? [...new Set(cmd.selection.runIds)].sort() : null,
        action: jsonb(cmd.action as unknown as JsonValue),
        rate: cmd.rate,
        requested_by: cmd.requestedBy,
        description: cmd.description,
        matching: 0,
      });
      // Counted in the inserting transaction, with the operation's own time bound: the runs its
      // pages will read, as they are now.
      const matching = await countSelection(deps, cmd.namespace, cmd.selection, row.create_time, trx);
      await trx.updateTable("batch_operations").set({ matching }).where("id", "=", row.id).execute();
      return { ...row, matching: String(matching) };
    });
  } catch (error) {
    // Two starts with one request id at once: the loser returns the winner's operation.
    if (!cmd.requestId || !isUniqueViolation(error)) throw error;
    const prior = await priorStart(deps, cmd, hash);
    if (!prior) throw error;
    return prior;
  }
  deps.notifier.publish(channels.batchOperations, operation.id);
  return { operation, matching: Number(operation.matching), existing: false };
}

async function priorStart(deps: EngineDeps, cmd: StartBatchCommand, hash: string): Promise<StartBatchResult | undefined> {
  const prior = await findBatchOperationByRequestId(deps.db, cmd.namespace, cmd.requestId!);
  if (!prior) return undefined;
  if (prior.request_hash !== hash) throw new BatchOperationConflictError(cmd.requestId!, prior.id);
  return { operation: prior, matching: Number(prior.matching), existing: true };
}

async function countSelection(deps: EngineDeps, namespace: string, selection: BatchSelection, startedAt: Date | undefined, db = deps.db): Promise<number> {
  // Unknown ids are gone through too (and counted as skipped).
  if ("runIds" in selection) return new Set(selection.runIds).size;
  const filter = startedAt ? storedFilterOf({ filter: storeFilter(selection.filter), create_time: startedAt }) : selection.filter;
  const counts = await countRuns(db, namespace, filter);
  return counts.reduce((sum, c) => sum + c.count, 0);
}

function requestHashOf(cmd: StartBatchCommand): string {
  const selection = "filter" in cmd.selection ? { filter: storeFilter(cmd.selection.filter) } : { runIds: [...new Set(cmd.selection.runIds)].sort() };
  return canonicalHash({ selection, action: cmd.action, rate: cmd.rate, description: cmd.description } as unknown as JsonValue);
}

export async function getBatchOperation(deps: EngineDeps, namespace: string, id: string): Promise<BatchOperationRow> {
  const row = await findBatchOperation(deps.db, namespace, id);
  if (!row) throw new BatchOperationNotFoundError(id);
  return row;
}

export async function queryBatchOperations(
  deps: EngineDeps,
  namespace: string,
  page: { status?: BatchOperationStatus | undefined; afterId?: string | undefined; size: number },
): Promise<Page<BatchOperationRow>> {
  const rows = await listBatchOperations(deps.db, namespace, { status: page.status, afterId: page.afterId, limit: page.size + 1 });
  const items = rows.slice(0, page.size);
  return { items, after: rows.length > page.size ? items[items.length - 1]?.id : undefined };
}

/** Cancels a running operation (after its page in progress); an ended one is returned as it is. */
export async function cancelBatchOperation(deps: EngineDeps, namespace: string, id: string, reason: string | undefined): Promise<BatchOperationRow> {
  const cancelled = await cancelRow(deps.db, namespace, id, reason ?? null);
  return cancelled ?? getBatchOperation(deps, namespace, id);
}
