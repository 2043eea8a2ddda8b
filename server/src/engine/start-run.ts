import type { Transaction } from "kysely";
import { RunConflictError } from "../domain/errors.js";
import type { Database } from "../store/database.js";
import type { JsonValue } from "../store/json.js";
import { jsonb, jsonbOrNull } from "../store/json.js";
import { isUniqueViolation } from "../store/pg-errors.js";
import {
  dueStart,
  findRunByReference,
  findRunByStartRequestId,
  insertRun,
  insertRunsUnlessTaken,
  insertRunUnlessTaken,
  type QueuedRunStart,
} from "../store/run-repository.js";
import { batcherFor } from "../store/statement-batcher.js";
import type { RunRow } from "../store/runs.table.js";
import { uuidV7 } from "../store/uuid-v7.js";
import type { EngineDeps } from "./engine-deps.js";
import { deliverHandOver } from "./hand-over.js";
import { emptyHistory } from "./run-history.js";
import { publishRunChange } from "./publish-run-change.js";
import { canonicalHash, canonicalJson } from "./canonical-json.js";
import type { TraceContextValues } from "../domain/trace-context.js";
import { storeTransaction } from "../tracing/store-spans.js";

export interface StartRunCommand {
  namespace: string;
  requestId?: string | undefined;
  workflowName: string;
  workflowVersionId: string;
  input?: JsonValue | undefined;
  referenceId?: string | undefined;
  conflictPolicy: "error" | "return_existing";
  shard: string;
  /** Delay in ms, or an absolute time; undefined starts at once. */
  trigger?: { delayMs: number } | { startTime: Date } | undefined;
  /** The workflow retry policy, stored as given (validated by the caller). */
  retryPolicy?: JsonValue | undefined;
  parentRunId?: string | undefined;
  /** Run tags (validated by the caller); undefined or empty: none. */
  tags?: Readonly<Record<string, string>> | undefined;
  /** The schedule whose occurrence this start is (only the schedule firing sets it). */
  scheduleId?: string | undefined;
  actor: string;
  /** The W3C trace context the run continues (docs/tracing.md); not part of the request's identity. */
  traceContext?: TraceContextValues | undefined;
}

export interface StartRunResult {
  run: RunRow;
  existing: boolean;
}

/**
 * Starts a run, or returns the one an earlier identical request (same request id) or the same
 * reference id already created. Two concurrent identical starts race on the unique indexes; the
 * loser retries once and finds the winner's run.
 */
export async function startRun(deps: EngineDeps, cmd: StartRunCommand): Promise<StartRunResult> {
  try {
    return await startRunOnce(deps, cmd);
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    return startRunOnce(deps, cmd);
  }
}

async function startRunOnce(deps: EngineDeps, cmd: StartRunCommand): Promise<StartRunResult> {
  const handed = cmd.trigger === undefined ? await startLeased(deps, cmd) : undefined;
  if (handed) return handed;
  // A new run is one statement; a taken request id or reference id takes the transaction that
  // finds the holder and decides between returning it and a conflict.
  const inserted =
    cmd.trigger === undefined
      ? // Starts arriving together (a client starting many runs) share one statement and one commit.
        await batcherFor(deps.db, insertRunsUnlessTaken).submit(queuedStart(cmd))
      : await insertRunUnlessTaken(deps.db, newRunRow(cmd), startAudit(cmd));
  const result = inserted ? { run: inserted, existing: false } : await storeTransaction(deps.db, "startRun", undefined, (trx) => createRun(trx, cmd));
  if (!result.existing) publishRunChange(deps.notifier, result.run);
  if (!result.existing) deps.metrics?.runTransitioned(null, result.run.status);
  return result;
}

/**
 * A run that starts at once while a worker session of this server waits idle for such runs is
 * inserted already leased to it and pushed after commit: one statement, no claim. Undefined
 * when no session qualifies or a unique key is taken (the usual path then decides).
 */
async function startLeased(deps: EngineDeps, cmd: StartRunCommand): Promise<StartRunResult | undefined> {
  const reservation = deps.localSessions?.reserve(cmd.namespace, cmd.workflowName, cmd.workflowVersionId, cmd.shard);
  if (!reservation) return undefined;
  let run: RunRow | undefined;
  try {
    run = await insertRunUnlessTaken(deps.db, newRunRow(cmd), startAudit(cmd), reservation);
  } finally {
    if (!run) reservation.cancel();
  }
  if (!run) return undefined;
  deps.metrics?.runTransitioned(null, "queued");
  // A run leased for the first time has recorded nothing yet.
  return { run: await deliverHandOver(deps, { run, reservation }, async () => emptyHistory()), existing: false };
}

/**
 * The start itself, in the caller's transaction (a child start shares its parent's). The caller
 * publishes the change after commit.
 */
export async function createRun(trx: Transaction<Database>, cmd: StartRunCommand): Promise<StartRunResult> {
  if (cmd.requestId) {
    const prior = await findRunByStartRequestId(trx, cmd.namespace, cmd.requestId);
    if (prior) {
      if (prior.start_request_hash !== requestHashOf(cmd)) throw new RunConflictError("request_id", prior.id, cmd.requestId);
      return { run: prior, existing: true };
    }
  }
  if (cmd.referenceId) {
    const holder = await findRunByReference(trx, cmd.namespace, {
      workflowName: cmd.workflowName,
      workflowVersionId: cmd.workflowVersionId,
      referenceId: cmd.referenceId,
    });
    if (holder) {
      const sameInput = canonicalJson(holder.input ?? undefined) === canonicalJson(cmd.input);
      if (sameInput || cmd.conflictPolicy === "return_existing") return { run: holder, existing: true };
      throw new RunConflictError("reference_id", holder.id, cmd.referenceId);
    }
  }
  const run = await insertRun(trx, newRunRow(cmd), startAudit(cmd));
  return { run, existing: false };
}

function startAudit(cmd: StartRunCommand): { actor: string; reason: string } {
  return { actor: cmd.actor, reason: cmd.parentRunId ? `started by ${cmd.parentRunId}` : "started" };
}

function newRunRow(cmd: StartRunCommand): Parameters<typeof insertRun>[1] {
  const due = cmd.trigger === undefined ? undefined : dueStart(cmd.trigger);
  return {
    namespace: cmd.namespace,
    id: uuidV7(),
    workflow_name: cmd.workflowName,
    workflow_version_id: cmd.workflowVersionId,
    status: due ? due.status : "queued",
    input: jsonbOrNull(cmd.input),
    shard: cmd.shard,
    reference_id: cmd.referenceId ?? null,
    parent_run_id: cmd.parentRunId ?? null,
    schedule_id: cmd.scheduleId ?? null,
    retry_policy: jsonbOrNull(cmd.retryPolicy),
    start_request_id: cmd.requestId ?? null,
    start_request_hash: requestHashOf(cmd),
    wake_time: due ? due.wake_time : null,
    tags: jsonb((cmd.tags ?? {}) as JsonValue),
    traceparent: cmd.traceContext?.traceparent ?? null,
    tracestate: cmd.traceContext?.tracestate ?? null,
  };
}

function queuedStart(cmd: StartRunCommand): QueuedRunStart {
  // Schedules start runs through createRun only, never through the batched insert.
  const { status: _status, wake_time: _wake, input: _input, retry_policy: _retry, schedule_id: _schedule, tags: _tags, ...row } = newRunRow(cmd);
  const audit = startAudit(cmd);
  return { row, input: cmd.input, retryPolicy: cmd.retryPolicy, tags: cmd.tags, audit: { actor: audit.actor, reason: audit.reason } };
}

function requestHashOf(cmd: StartRunCommand): string | null {
  if (!cmd.requestId) return null;
  // A start without tags hashes as before tags existed (canonicalJson writes an unset key), so
  // request ids stored earlier still match. The trace context is no part of the request.
  const { tags, traceContext: _traceContext, ...rest } = cmd;
  const hashed = tags && Object.keys(tags).length > 0 ? { ...rest, tags } : rest;
  return canonicalHash({ ...hashed, requestId: null, actor: null } as unknown as JsonValue);
}
