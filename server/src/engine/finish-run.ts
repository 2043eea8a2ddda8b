import { ContentionError } from "../domain/errors.js";
import { maxAttemptsOf, type RetryPolicy, retryDelayMs } from "../domain/retry-policy.js";
import { databaseNow, databaseNowPlus } from "../store/database-clock.js";
import { type JsonValue, jsonb, jsonbOrNull } from "../store/json.js";
import { transitionRun } from "../store/run-repository.js";
import { type StartedTask, type TaskCompletion, uncountInterruptedAttempts } from "../store/task-repository.js";
import type { TaskRow } from "../store/tasks.table.js";
import { completeLeasedRunsWithoutParent } from "../store/lease-repository.js";
import { batcherFor } from "../store/statement-batcher.js";
import type { RunRow, RunsTable } from "../store/runs.table.js";
import type { EngineDeps } from "./engine-deps.js";
import { requireLease } from "./fence.js";
import { applyCompletions, recordStartedFirst, startedWritten } from "./record-task.js";
import { publishLeaseEnded, publishRunChange } from "./publish-run-change.js";
import { wakeParentWaitingOn } from "./wake-parent.js";
import { storeTransaction } from "../tracing/store-spans.js";

const noLease = { lease_token: null, lease_worker_id: null, lease_expires_time: null, wake_time: null };

export type FailureCause = NonNullable<RunsTable["failure_cause"]>;
/** Causes a workflow retry cannot fix: the same code would fail the same way. */
const fatalCauses: readonly FailureCause[] = ["non_determinism", "output_schema", "child_schema"];

interface LeasedCommand {
  namespace: string;
  runId: string;
  leaseToken: string;
}

export async function completeRun(
  deps: EngineDeps,
  cmd: LeasedCommand & { output: JsonValue | undefined; completions?: readonly TaskCompletion[] | undefined },
): Promise<RunRow> {
  return (await completeRunWith(deps, cmd)).run;
}

/**
 * completeRun, with the tasks the run started and finished since its last write (a worker
 * pipelining), answered as their starts recorded them (record-task.ts startedAnswers).
 */
export async function completeRunWith(
  deps: EngineDeps,
  cmd: LeasedCommand & { output: JsonValue | undefined; completions?: readonly TaskCompletion[] | undefined; started?: readonly StartedTask[] | undefined },
): Promise<{ run: RunRow; started: TaskRow[] }> {
  // One statement for a run without a parent (with the task completions it carries); a child
  // (whose parent may wake), a stale completion or a lost lease (which finish() names) take the
  // transaction.
  // CompleteRun calls of many runs arriving together share one statement and one commit.
  const done = await batcherFor(deps.db, completeLeasedRunsWithoutParent).submit({
    lease: cmd,
    output: cmd.output,
    completions: cmd.completions ?? [],
    started: cmd.started ?? [],
  });
  if (done) {
    const { previous_worker_id: workerId, started, ...run } = done;
    const answers = startedWritten(deps, cmd, started);
    published(deps, run, workerId, undefined);
    return { run, started: answers };
  }
  const { started, completions } = await recordStartedFirst(deps, cmd);
  const run = await finish(deps, { ...cmd, completions }, () => ({
    to: "completed",
    changes: { ...noLease, output: jsonbOrNull(cmd.output), end_time: databaseNow() },
    reason: "completed",
  }));
  return { run, started };
}

/**
 * Fails a leased run, or sends it to AWAITING_RETRY when its workflow retry policy has attempts
 * left and the cause is one a retry could fix. The retry replays with completed tasks cached.
 */
export async function failRun(
  deps: EngineDeps,
  cmd: LeasedCommand & { failure: JsonValue & { nonRetryable?: boolean }; cause: FailureCause },
): Promise<RunRow> {
  return finish(deps, cmd, (run) => {
    const policy = (run.retry_policy ?? undefined) as RetryPolicy | undefined;
    const retryable = !fatalCauses.includes(cmd.cause) && !cmd.failure.nonRetryable;
    const delay = retryable && run.attempt < maxAttemptsOf(policy) ? retryDelayMs(policy, run.attempt) : undefined;
    if (delay !== undefined) {
      return {
        to: "awaiting_retry",
        changes: {
          ...noLease,
          failure: jsonb(cmd.failure),
          failure_cause: cmd.cause,
          attempt: run.attempt + 1,
          wake_time: databaseNowPlus(delay),
        },
        reason: `workflow attempt ${run.attempt} failed (${cmd.cause}); retrying in ${delay} ms`,
      };
    }
    return {
      to: "failed",
      changes: { ...noLease, failure: jsonb(cmd.failure), failure_cause: cmd.cause, end_time: databaseNow() },
      reason: `failed (${cmd.cause})`,
    };
  });
}

/** Gives a run back: queued for another worker, replaying from its history. */
export async function releaseLease(deps: EngineDeps, cmd: LeasedCommand & { reason?: string | undefined }): Promise<RunRow> {
  return finish(deps, cmd, () => ({ to: "queued", changes: noLease, reason: cmd.reason || "released by worker" }));
}

type Plan = { to: RunRow["status"]; changes: Parameters<typeof transitionRun>[3]; reason: string };

async function finish(
  deps: EngineDeps,
  cmd: LeasedCommand & { completions?: readonly TaskCompletion[] | undefined },
  plan: (run: RunRow) => Plan,
): Promise<RunRow> {
  const { run, parent, workerId } = await storeTransaction(deps.db, "finishRun", cmd.runId, async (trx) => {
    const leased = await requireLease(trx, cmd.namespace, cmd.runId, cmd.leaseToken, "update");
    await applyCompletions(trx, leased.id, cmd.completions);
    const p = plan(leased);
    const run = await transitionRun(trx, leased, p.to, p.changes, { actor: `worker:${leased.lease_worker_id}`, reason: p.reason });
    // Cannot miss: the row is locked by this transaction since requireLease.
    if (!run) throw new ContentionError(cmd.runId);
    if (run.status === "queued") await uncountInterruptedAttempts(trx, run.id);
    return { run, parent: await wakeParentWaitingOn(trx, run), workerId: leased.lease_worker_id };
  });
  published(deps, run, workerId, parent);
  return run;
}

/** After commit: hints for the run, the worker whose lease ended and a woken parent; metrics. */
function published(deps: EngineDeps, run: RunRow, workerId: string | null, parent: RunRow | undefined): void {
  publishRunChange(deps.notifier, run);
  // Waits held on this server answer from the committed row rather than read it back.
  deps.runStatusWatcher.offer(run);
  publishLeaseEnded(deps.notifier, run.namespace, workerId);
  if (parent) publishRunChange(deps.notifier, parent);
  deps.metrics?.runTransitioned("running", run.status);
  if (parent) deps.metrics?.runTransitioned("awaiting_child_workflow", parent.status);
}
