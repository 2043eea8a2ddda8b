import type { Transaction } from "kysely";
import type { Database } from "../store/database.js";
import { databaseNowPlus } from "../store/database-clock.js";
import { LeaseLostError, StaleTaskAttemptError } from "../domain/errors.js";
import type { TaskRow } from "../store/tasks.table.js";
import type { RunRow } from "../store/runs.table.js";
import { type JsonValue, jsonb, jsonbOrNull } from "../store/json.js";
import { findRunById } from "../store/run-repository.js";
import {
  findTaskByAttemptId,
  findTaskById,
  findTaskForUpdate,
  insertFirstAttemptsIfLeased,
  insertTask,
  recordCompletions,
  type StartedTask,
  type TaskCompletion,
  updateTask,
  updateTaskIfLeased,
} from "../store/task-repository.js";
import { batcherFor } from "../store/statement-batcher.js";
import type { EngineDeps } from "./engine-deps.js";
import { requireLease } from "./fence.js";
import { publishHistoryChange } from "./publish-run-change.js";
import { storeTransaction } from "../tracing/store-spans.js";

export interface StartTaskCommand {
  namespace: string;
  runId: string;
  leaseToken: string;
  name: string;
  address: string;
  sequence: number;
  input: JsonValue | undefined;
  maxAttempts: number;
  /** Identifies this attempt, so a retried call after a lost answer does not count another. */
  attemptId?: string | undefined;
  /** Earlier attempts' successes, recorded first in the same transaction. */
  completions?: readonly TaskCompletion[] | undefined;
  /** Tasks started and finished before this one (a worker pipelining), recorded first. */
  started?: readonly StartedTask[] | undefined;
}

/**
 * Records the start of an attempt (see TaskService.StartTask). An attempt that was RUNNING when
 * its worker died counts: the next start is attempt n+1, and a task whose last allowed attempt
 * died is failed here rather than run again.
 */
export async function startTask(deps: EngineDeps, cmd: StartTaskCommand): Promise<TaskRow> {
  return (await startTaskWith(deps, cmd)).task;
}

/** startTask, with the records of the command's started tasks as their starts recorded them (startedAnswers). */
export async function startTaskWith(deps: EngineDeps, cmd: StartTaskCommand): Promise<{ task: TaskRow; started: TaskRow[] }> {
  const { task, started } = await startTaskOnce(deps, cmd);
  // RUNNING: this call began an attempt (a replay of a finished task returns it unchanged).
  if (task.status === "running") deps.metrics?.taskAttemptStarted();
  // Started tasks were published with their write (startedWritten, recordStartedFirst).
  if (task.status !== "completed" && started.length === 0) publishHistoryChange(deps.notifier, cmd.namespace, cmd.runId);
  return { task, started };
}

async function startTaskOnce(deps: EngineDeps, cmd: StartTaskCommand): Promise<{ task: TaskRow; started: TaskRow[] }> {
  // The common case, a task met for the first time (with the successes of earlier ones), is one
  // statement; the rest (a lost lease, a stale completion, an attempt after a retry or a dead
  // worker, a replayed call) takes the transaction below.
  // StartTask calls of many runs arriving together share one statement and one commit.
  const first = await batcherFor(deps.db, insertFirstAttemptsIfLeased).submit({
    lease: cmd,
    task: cmd,
    completions: cmd.completions ?? [],
    started: cmd.started ?? [],
  });
  if (first) return { task: first.task, started: startedWritten(deps, cmd, first.started) };
  const { started, completions } = await recordStartedFirst(deps, cmd);
  const task = await storeTransaction(deps.db, "recordTask", cmd.runId, async (trx) => {
    const run = await requireLease(trx, cmd.namespace, cmd.runId, cmd.leaseToken, "share");
    await applyCompletions(trx, cmd.runId, completions);
    return startInTransaction(trx, run, cmd);
  });
  return { task, started };
}

/** A StartTask's decision, in a transaction that holds the run's lease: a first attempt, the next one, or the record as it stands. */
async function startInTransaction(
  trx: Transaction<Database>,
  run: RunRow,
  cmd: Omit<StartTaskCommand, "completions" | "started" | "leaseToken">,
): Promise<TaskRow> {
  const task = await findTaskForUpdate(trx, run.id, cmd.address, cmd.sequence);
  if (!task) {
    return insertTask(trx, { ...cmd, workflowAttempt: run.attempt });
  }
  // The same attempt asked again (its first answer was lost): nothing new happened.
  if (task.status === "running" && cmd.attemptId && task.attempt_id === cmd.attemptId) return task;
  const attempt_id = cmd.attemptId ?? null;
  const again = (changes: Parameters<typeof updateTask>[2]) =>
    updateTask(trx, task, changes).then((t) => t ?? Promise.reject(new StaleTaskAttemptError(task.id, task.attempts, task.status, task.attempts)));
  switch (task.status) {
    case "completed":
      return task;
    case "failed":
      if (task.workflow_attempt >= run.attempt) return task;
      // A workflow retry: a task that failed in an earlier workflow attempt starts a fresh budget.
      return again({
        status: "running",
        attempts: 1,
        max_attempts: cmd.maxAttempts,
        failure: null,
        next_attempt_time: null,
        workflow_attempt: run.attempt,
        attempt_id,
      });
    case "running":
      if (task.attempts >= task.max_attempts) {
        return again({
          status: "failed",
          failure: jsonb({
            message: `attempt ${task.attempts} of ${task.max_attempts} was lost: its worker stopped while running it`,
            type: "TaskAttemptLost",
            nonRetryable: true,
          }),
        });
      }
      return again({ attempts: task.attempts + 1, attempt_id });
    case "awaiting_retry":
      return again({ status: "running", attempts: task.attempts + 1, next_attempt_time: null, attempt_id });
  }
}

/** A write that may carry started tasks (a worker pipelining) and completions of earlier ones. */
interface WriteWithStarted {
  namespace: string;
  runId: string;
  leaseToken: string;
  completions?: readonly TaskCompletion[] | undefined;
  started?: readonly StartedTask[] | undefined;
}

/** The started tasks a write's one statement recorded: counted, published, and answered (startedAnswers). */
export function startedWritten(deps: EngineDeps, cmd: WriteWithStarted, rows: readonly TaskRow[]): TaskRow[] {
  startedRecorded(deps, cmd, rows.length);
  return startedAnswers(cmd.started, rows);
}

/**
 * The slow path of a write with started tasks (its one statement did not apply), before its own
 * transaction: the started tasks recorded first, with the completions the write carries, in a
 * transaction of their own (recordStartedTasks), counted and published. Answers their records
 * and the completions the write's own transaction still has to apply (none once they went with
 * the started tasks).
 */
export async function recordStartedFirst(
  deps: EngineDeps,
  cmd: WriteWithStarted,
): Promise<{ started: TaskRow[]; completions: readonly TaskCompletion[] | undefined }> {
  if (!cmd.started?.length) return { started: [], completions: cmd.completions };
  const started = await recordStartedTasks(deps, cmd, cmd.completions, cmd.started);
  startedRecorded(deps, cmd, started.length);
  return { started, completions: [] };
}

/**
 * In one transaction under the lease, the completions a write carries, then each started task
 * as its StartTask and its result would have been recorded one after the other. Those found
 * finished already (a retried write) are left as they are; one whose start the store refused a
 * fresh attempt (a lost attempt before it) fails the write as a stale completion.
 */
async function recordStartedTasks(
  deps: EngineDeps,
  lease: { namespace: string; runId: string; leaseToken: string },
  completions: readonly TaskCompletion[] | undefined,
  started: readonly StartedTask[],
): Promise<TaskRow[]> {
  const rows = await storeTransaction(deps.db, "recordStartedTasks", lease.runId, async (trx) => {
    const run = await requireLease(trx, lease.namespace, lease.runId, lease.leaseToken, "share");
    await applyCompletions(trx, lease.runId, completions);
    const rows: TaskRow[] = [];
    for (const s of started) {
      const task = await startInTransaction(trx, run, { namespace: lease.namespace, runId: lease.runId, ...s });
      if (task.status === "running" && task.attempt_id === s.attemptId) {
        const done = await updateTask(trx, task, { status: "completed", output: jsonbOrNull(s.output) });
        if (!done) throw new StaleTaskAttemptError(task.id, task.attempts, task.status, task.attempts);
        rows.push(task);
      } else if (task.status === "completed" && task.attempt_id === s.attemptId) {
        rows.push(task);
      } else {
        throw new StaleTaskAttemptError(s.attemptId, 1, task.status, task.attempts);
      }
    }
    return rows;
  });
  return startedAnswers(started, rows);
}

/** After a write recorded started tasks: each counted as an attempt begun, and the run's history changed. */
function startedRecorded(deps: EngineDeps, run: { namespace: string; runId: string }, started: number): void {
  if (started === 0) return;
  deps.metrics?.taskAttemptStarted(started);
  publishHistoryChange(deps.notifier, run.namespace, run.runId);
}

/**
 * What each started task's StartTask is answered: its record as that start left it, RUNNING at
 * its attempt, though the same commit recorded its result too. A pipelining worker has gone on
 * past the task and checks only that its start was accepted (a finished record would say a
 * replay, which its first attempt is not).
 */
function startedAnswers(started: readonly StartedTask[] | undefined, rows: readonly TaskRow[]): TaskRow[] {
  const byAttempt = new Map(rows.map((r) => [r.attempt_id, r]));
  return (started ?? []).map((s) => {
    const row = byAttempt.get(s.attemptId);
    if (!row) throw new Error(`started task ${s.address} #${s.sequence} was not answered by its write`);
    return { ...row, status: "running", output: null };
  });
}

/**
 * Records the task completions another write of the run carries, in that write's transaction
 * (which holds the lease); a stale one fails the whole write, so nothing of it lands.
 */
export async function applyCompletions(trx: Transaction<Database>, runId: string, completions: readonly TaskCompletion[] | undefined): Promise<void> {
  if (!completions?.length) return;
  const [missed] = await recordCompletions(trx, runId, completions);
  if (missed === undefined) return;
  const completion = completions.find((c) => c.taskId === missed)!;
  const current = await findTaskById(trx, runId, missed);
  throw new StaleTaskAttemptError(missed, completion.attempt, current?.status, current?.attempts);
}

export interface FinishTaskCommand {
  namespace: string;
  runId: string;
  leaseToken: string;
  taskId: string;
  attempt: number;
}

export async function completeTask(deps: EngineDeps, cmd: FinishTaskCommand & { output: JsonValue | undefined }): Promise<TaskRow> {
  return finishAttempt(deps, cmd, { status: "completed", output: jsonbOrNull(cmd.output) });
}

/** With retryDelayMs the task awaits its next attempt; without, it fails for good. */
export async function failTask(deps: EngineDeps, cmd: FinishTaskCommand & { failure: JsonValue; retryDelayMs?: number | undefined }): Promise<TaskRow> {
  const task = await finishAttempt(
    deps,
    cmd,
    cmd.retryDelayMs === undefined
      ? { status: "failed", failure: jsonb(cmd.failure) }
      : {
          status: "awaiting_retry",
          failure: jsonb(cmd.failure),
          next_attempt_time: databaseNowPlus(cmd.retryDelayMs),
        },
  );
  deps.metrics?.taskAttemptFailed(task.status === "awaiting_retry");
  return task;
}

async function finishAttempt(deps: EngineDeps, cmd: FinishTaskCommand, changes: Parameters<typeof updateTask>[2]): Promise<TaskRow> {
  const updated = await updateTaskIfLeased(deps.db, cmd, { id: cmd.taskId, status: "running", attempts: cmd.attempt }, changes);
  if (updated) {
    publishHistoryChange(deps.notifier, cmd.namespace, cmd.runId);
    return updated;
  }
  // Nothing was written; say why: the lease is lost, or the attempt is stale (another attempt
  // started since, or the task is already finished).
  const run = await findRunById(deps.db, cmd.namespace, cmd.runId);
  if (run?.status !== "running" || run.lease_token !== cmd.leaseToken) throw new LeaseLostError(cmd.runId, run?.status);
  const current = await findTaskById(deps.db, cmd.runId, cmd.taskId);
  throw new StaleTaskAttemptError(cmd.taskId, cmd.attempt, current?.status, current?.attempts);
}

/** The task id and attempt number a StartTask with `attemptId` recorded: a pipelined completion's. */
export async function recordedAttempt(deps: EngineDeps, namespace: string, runId: string, attemptId: string): Promise<{ taskId: string; attempt: number }> {
  const task = await findTaskByAttemptId(deps.db, namespace, runId, attemptId);
  if (!task) throw new StaleTaskAttemptError(attemptId, 0, undefined, undefined);
  return { taskId: task.id, attempt: task.attempts };
}
