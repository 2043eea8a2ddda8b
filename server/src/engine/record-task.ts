import type { Transaction } from "kysely";
import type { Database } from "../store/database.js";
import { databaseNowPlus } from "../store/database-clock.js";
import { LeaseLostError, StaleTaskAttemptError } from "../domain/errors.js";
import type { TaskRow } from "../store/tasks.table.js";
import { type JsonValue, jsonb, jsonbOrNull } from "../store/json.js";
import { findRunById } from "../store/run-repository.js";
import {
  findTaskByAttemptId,
  findTaskById,
  findTaskForUpdate,
  insertFirstAttemptsIfLeased,
  insertTask,
  recordCompletions,
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
}

/**
 * Records the start of an attempt (see TaskService.StartTask). An attempt that was RUNNING when
 * its worker died counts: the next start is attempt n+1, and a task whose last allowed attempt
 * died is failed here rather than run again.
 */
export async function startTask(deps: EngineDeps, cmd: StartTaskCommand): Promise<TaskRow> {
  const task = await startTaskOnce(deps, cmd);
  // RUNNING: this call began an attempt (a replay of a finished task returns it unchanged).
  if (task.status === "running") deps.metrics?.taskAttemptStarted();
  if (task.status !== "completed") publishHistoryChange(deps.notifier, cmd.namespace, cmd.runId);
  return task;
}

async function startTaskOnce(deps: EngineDeps, cmd: StartTaskCommand): Promise<TaskRow> {
  // The common case, a task met for the first time (with the successes of earlier ones), is one
  // statement; the rest (a lost lease, a stale completion, an attempt after a retry or a dead
  // worker, a replayed call) takes the transaction below.
  // StartTask calls of many runs arriving together share one statement and one commit.
  const first = await batcherFor(deps.db, insertFirstAttemptsIfLeased).submit({ lease: cmd, task: cmd, completions: cmd.completions ?? [] });
  if (first) return first;
  return storeTransaction(deps.db, "recordTask", cmd.runId, async (trx) => {
    const run = await requireLease(trx, cmd.namespace, cmd.runId, cmd.leaseToken, "share");
    await applyCompletions(trx, cmd.runId, cmd.completions);
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
