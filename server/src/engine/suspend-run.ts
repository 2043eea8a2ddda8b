import type { Transaction } from "kysely";
import { InvalidArgumentError } from "../domain/errors.js";
import { isTerminal, type RunStatus } from "../domain/run-status.js";
import type { Database } from "../store/database.js";
import { consumeOldestPendingEvent } from "../store/event-repository.js";
import { jsonbOrNull } from "../store/json.js";
import { suspendOnNewSleepsIfLeased } from "../store/lease-repository.js";
import { batcherFor } from "../store/statement-batcher.js";
import { hasChildRecordFor } from "../store/child-run-repository.js";
import { findRunById, transitionRun } from "../store/run-repository.js";
import { findWaitForUpdate, insertWait, resizeSleep, resolveWait, type WaitKey } from "../store/run-wait-repository.js";
import type { RunRow } from "../store/runs.table.js";
import { findTaskById, type StartedTask, type TaskCompletion } from "../store/task-repository.js";
import type { TaskRow } from "../store/tasks.table.js";
import type { EngineDeps } from "./engine-deps.js";
import { requireLease } from "./fence.js";
import { applyCompletions, recordStartedFirst, startedWritten } from "./record-task.js";
import { publishHistoryChange, publishLeaseEnded, publishRunChange } from "./publish-run-change.js";
import { loadHistory, type RunHistoryData } from "./run-history.js";
import { storeTransaction } from "../tracing/store-spans.js";

export type SuspendWait =
  | { kind: "sleep"; name: string; sequence: number; durationMs: number }
  | { kind: "event"; eventName: string; sequence: number; timeoutMs?: number | undefined }
  | { kind: "child"; childRunId: string; sequence: number; awaitedStatus: RunStatus; timeoutMs?: number | undefined }
  | { kind: "task_retry"; taskId: string };

export interface SuspendResult {
  run: RunRow;
  /** False: the wait was already satisfied, its result is in the history, the lease holds. */
  suspended: boolean;
  /** Only when not suspended: the worker goes on with it; a suspended run's worker stops. */
  history: RunHistoryData | undefined;
}

type Trx = Transaction<Database>;
type Decision = { resolved: true } | { resolved: false; wakeTime: Date | null; status: RunStatus; reason: string };

/**
 * Suspends a leased run on a wait, unless the wait is already satisfied. The run row is locked
 * first, and every path that could satisfy the wait (an event send, a child finishing) locks it
 * too, so the check and the suspension are atomic: nothing arriving meanwhile is lost.
 */
export async function suspendRun(
  deps: EngineDeps,
  cmd: { namespace: string; runId: string; leaseToken: string; wait: SuspendWait; completions?: readonly TaskCompletion[] | undefined },
): Promise<SuspendResult> {
  return (await suspendRunWith(deps, cmd)).result;
}

/**
 * suspendRun, with the tasks the run started and finished since its last write (a worker
 * pipelining), answered as their starts recorded them (record-task.ts startedAnswers).
 */
export async function suspendRunWith(
  deps: EngineDeps,
  cmd: {
    namespace: string;
    runId: string;
    leaseToken: string;
    wait: SuspendWait;
    completions?: readonly TaskCompletion[] | undefined;
    started?: readonly StartedTask[] | undefined;
  },
): Promise<{ result: SuspendResult; started: TaskRow[] }> {
  // A sleep met for the first time (the common case) is one statement; replays, resized or
  // already-due sleeps, other waits and refusals take the transaction below.
  if (cmd.wait.kind === "sleep" && cmd.wait.durationMs > 0) {
    // First sleeps of many runs arriving together share one statement and one commit.
    const slept = await batcherFor(deps.db, suspendOnNewSleepsIfLeased).submit({
      lease: cmd,
      sleep: cmd.wait,
      completions: cmd.completions ?? [],
      started: cmd.started ?? [],
    });
    if (slept) {
      const { previous_worker_id: workerId, started, ...run } = slept;
      const answers = startedWritten(deps, cmd, started);
      publishRunChange(deps.notifier, run);
      publishLeaseEnded(deps.notifier, run.namespace, workerId);
      deps.metrics?.runTransitioned("running", run.status);
      return { result: { run, suspended: true, history: undefined }, started: answers };
    }
  }
  const { started, completions } = await recordStartedFirst(deps, cmd);
  const { run, suspended, workerId } = await storeTransaction(deps.db, "suspendRun", cmd.runId, async (trx) => {
    const leased = await requireLease(trx, cmd.namespace, cmd.runId, cmd.leaseToken, "update");
    await applyCompletions(trx, leased.id, completions);
    const decision = await decide(trx, leased, cmd.wait);
    if (decision.resolved) return { run: leased, suspended: false, workerId: leased.lease_worker_id };
    const run = await transitionRun(
      trx,
      leased,
      decision.status,
      { wake_time: decision.wakeTime, lease_token: null, lease_worker_id: null, lease_expires_time: null },
      { actor: `worker:${leased.lease_worker_id}`, reason: decision.reason },
    );
    // Cannot miss: the row is locked by this transaction since requireLease.
    if (!run) throw new Error(`run ${leased.id} changed under its lock`);
    return { run, suspended: true, workerId: leased.lease_worker_id };
  });
  if (suspended) {
    publishRunChange(deps.notifier, run);
    publishLeaseEnded(deps.notifier, run.namespace, workerId);
    deps.metrics?.runTransitioned("running", run.status);
  } else {
    // Resolved at once (an event already there, a child already done, a sleep already due).
    publishHistoryChange(deps.notifier, run.namespace, run.id);
  }
  return { result: { run, suspended, history: suspended ? undefined : await loadHistory(deps.db, run.id) }, started };
}

async function decide(trx: Trx, run: RunRow, wait: SuspendWait): Promise<Decision> {
  switch (wait.kind) {
    case "sleep": {
      const key: WaitKey = { runId: run.id, kind: "sleep", key: wait.name, sequence: wait.sequence };
      let row = await findWaitForUpdate(trx, key);
      if (row && row.status !== "waiting") return { resolved: true };
      if (!row) row = await insertWait(trx, { ...key, namespace: run.namespace, durationMs: wait.durationMs }, wait.durationMs);
      // A replay with another duration sleeps until start + the new duration.
      else if (row.duration_ms !== wait.durationMs) row = await resizeSleep(trx, key, wait.durationMs);
      if (row.due) {
        await resolveWait(trx, key, "completed");
        return { resolved: true };
      }
      return { resolved: false, status: "sleeping", wakeTime: row.deadline, reason: `sleep ${wait.name}` };
    }
    case "event": {
      const key: WaitKey = { runId: run.id, kind: "event", key: wait.eventName, sequence: wait.sequence };
      let row = await findWaitForUpdate(trx, key);
      if (row && row.status !== "waiting") return { resolved: true };
      const event = await consumeOldestPendingEvent(trx, run.id, wait.eventName);
      if (!row) row = await insertWait(trx, { ...key, namespace: run.namespace, timeoutMs: wait.timeoutMs }, wait.timeoutMs);
      if (event) {
        await resolveWait(trx, key, "received", { event_id: event.id });
        return { resolved: true };
      }
      if (row.due) {
        await resolveWait(trx, key, "timed_out");
        return { resolved: true };
      }
      return { resolved: false, status: "awaiting_event", wakeTime: row.deadline, reason: `event ${wait.eventName}` };
    }
    case "child": {
      const child = await findRunById(trx, run.namespace, wait.childRunId);
      // A rerun's copied child starts name the source's children (docs/semantics.md, Rerun):
      // finished ones, so a wait on one resolves at once below.
      if (!child || (child.parent_run_id !== run.id && !(await hasChildRecordFor(trx, run.id, child.id)))) {
        throw new InvalidArgumentError([{ field: "child_wait.child_run_id", description: `run ${wait.childRunId} is not a child of ${run.id}` }]);
      }
      const key: WaitKey = { runId: run.id, kind: "child", key: wait.childRunId, sequence: wait.sequence };
      let row = await findWaitForUpdate(trx, key);
      if (row && row.status !== "waiting") return { resolved: true };
      if (!row) {
        row = await insertWait(trx, { ...key, namespace: run.namespace, timeoutMs: wait.timeoutMs, awaitedStatus: wait.awaitedStatus }, wait.timeoutMs);
      }
      // Read after the parent lock: a child finishing concurrently either committed before this
      // read (seen here) or waits for the lock and then finds the parent suspended on it.
      if (isTerminal(child.status)) {
        await resolveWait(trx, key, "finished", {
          child_status: child.status,
          output: jsonbOrNull(child.output ?? undefined),
          failure: jsonbOrNull(child.failure ?? undefined),
        });
        return { resolved: true };
      }
      if (row.due) {
        await resolveWait(trx, key, "timed_out");
        return { resolved: true };
      }
      return { resolved: false, status: "awaiting_child_workflow", wakeTime: row.deadline, reason: `child ${wait.childRunId}` };
    }
    case "task_retry": {
      const task = await findTaskById(trx, run.id, wait.taskId);
      if (task?.status !== "awaiting_retry" || !task.next_attempt_time) {
        throw new InvalidArgumentError([{ field: "task_retry.task_id", description: `task ${wait.taskId} of run ${run.id} is not awaiting a retry` }]);
      }
      if (task.next_attempt_time.getTime() <= Date.now()) return { resolved: true };
      return { resolved: false, status: "awaiting_retry", wakeTime: task.next_attempt_time, reason: `task ${task.name} retry` };
    }
  }
}
