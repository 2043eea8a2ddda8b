import { channels, type Notifier } from "../notify/notifier.js";
import type { RunRow } from "../store/runs.table.js";

/**
 * Hints, sent after commit, that a run moved; that work is ready when it was queued; that a
 * timer was set when it waits for one.
 */
export function publishRunChange(notifier: Notifier, run: Pick<RunRow, "id" | "namespace" | "status" | "workflow_name" | "workflow_version_id" | "shard">): void {
  notifier.publish(channels.run(run.id), run.status);
  if (run.status === "scheduled") notifier.publish(channels.timers);
  if (run.status === "queued") {
    notifier.publish(channels.ready(run.namespace, run.workflow_name, run.workflow_version_id, run.shard), run.id);
  }
}
