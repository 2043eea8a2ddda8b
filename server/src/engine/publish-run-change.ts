import { channels, type Notifier } from "../notify/notifier.js";
import type { RunRow } from "../store/runs.table.js";

/** Timer loops sleep at most this long, so a due time further out needs no hint. */
export const timerHorizonMs = 5_000;

/**
 * Hints, sent after commit: the run moved (to its own watchers, and to its namespace's run
 * watchers); work is ready when it was queued; a timer loop should wake when the run now has a
 * due time (a timer, or a lease expiry) before its horizon.
 */
export function publishRunChange(
  notifier: Notifier,
  run: Pick<RunRow, "id" | "namespace" | "status" | "workflow_name" | "workflow_version_id" | "shard"> &
    Partial<Pick<RunRow, "wake_time" | "lease_expires_time">>,
): void {
  notifier.publish(channels.run(run.namespace, run.id), run.status);
  notifier.publish(channels.runs(run.namespace), run.id);
  if (run.status === "queued") {
    notifier.publish(channels.ready(run.namespace, run.workflow_name, run.workflow_version_id, run.shard), run.id);
  }
  const due = run.status === "running" ? run.lease_expires_time : run.wake_time;
  if (due && due.getTime() - Date.now() < timerHorizonMs) notifier.publish(channels.timers, String(due.getTime()));
}

/** A stream serving this worker may lease again: one of its leases ended. */
export function publishLeaseEnded(notifier: Notifier, namespace: string, workerId: string | null): void {
  if (workerId) notifier.publish(channels.worker(namespace, workerId));
}

/** A hint, sent after commit, to a run's watchers: its history grew while its status stayed. */
export function publishHistoryChange(notifier: Notifier, namespace: string, runId: string): void {
  notifier.publish(channels.runHistory(namespace, runId));
}
