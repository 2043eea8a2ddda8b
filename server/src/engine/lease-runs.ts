import { channels } from "../notify/notifier.js";
import { claimReadyRuns, extendLeases } from "../store/lease-repository.js";
import type { RunRow } from "../store/runs.table.js";
import { touchWorker, upsertWorker } from "../store/worker-repository.js";
import type { EngineDeps } from "./engine-deps.js";
import { releaseLease } from "./finish-run.js";
import { publishRunChange } from "./publish-run-change.js";
import { loadHistories, type RunHistoryData } from "./run-history.js";

export const defaultLeaseTtlMs = 30_000;
export const maxPollWaitMs = 60_000;
// Hints can be lost; a poll re-reads this often regardless.
const recheckMs = 2_000;

export interface WorkerIdentity {
  namespace: string;
  workerId: string;
  workerName: string;
  versions: Array<{ workflowName: string; workflowVersionId: string }>;
  /** Empty: unsharded runs only. */
  shards: string[];
}

export interface LeasedRun {
  run: RunRow;
  history: RunHistoryData;
}

/**
 * Long-poll: leases up to `max` ready runs, waiting up to `waitMs` for the first. Listens for
 * ready hints before each claim, so a run queued between a claim and the wait is not missed.
 */
export async function pollLeases(
  deps: EngineDeps,
  worker: WorkerIdentity,
  opts: { max: number; waitMs: number; ttlMs: number },
  signal: AbortSignal,
): Promise<LeasedRun[]> {
  await upsertWorker(deps.db, { namespace: worker.namespace, id: worker.workerId, name: worker.workerName, workflows: worker.versions, shards: worker.shards });
  const shards = worker.shards.length > 0 ? worker.shards : [""];
  let wake: () => void = () => {};
  let hinted = false;
  const unsubscribes = worker.versions.flatMap((v) =>
    shards.map((shard) =>
      deps.notifier.subscribe(channels.ready(worker.namespace, v.workflowName, v.workflowVersionId, shard), () => {
        hinted = true;
        wake();
      }),
    ),
  );
  const deadline = Date.now() + Math.min(opts.waitMs, maxPollWaitMs);
  try {
    for (;;) {
      hinted = false;
      if (signal.aborted || deps.shutdownSignal.aborted) return [];
      const runs = await claimReadyRuns(deps.db, {
        namespace: worker.namespace,
        workerId: worker.workerId,
        versions: worker.versions,
        shards,
        limit: opts.max,
        ttlMs: opts.ttlMs,
      });
      if (runs.length > 0) {
        if (signal.aborted) {
          // The caller left while we claimed: give the runs back rather than strand them until expiry.
          await Promise.all(runs.map((r) => releaseLease(deps, { namespace: r.namespace, runId: r.id, leaseToken: r.lease_token!, reason: "poller went away" })));
          return [];
        }
        for (const run of runs) publishRunChange(deps.notifier, run);
        const histories = await loadHistories(deps.db, runs.map((r) => r.id));
        return runs.map((run) => ({ run, history: histories.get(run.id)! }));
      }
      const left = deadline - Date.now();
      if (left <= 0) return [];
      if (hinted) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(left, recheckMs));
        function done() {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          deps.shutdownSignal.removeEventListener("abort", done);
          wake = () => {};
          resolve();
        }
        wake = done;
        signal.addEventListener("abort", done);
        deps.shutdownSignal.addEventListener("abort", done);
      });
    }
  } finally {
    for (const u of unsubscribes) u();
  }
}

export async function heartbeat(
  deps: EngineDeps,
  cmd: { namespace: string; workerId: string; leases: Array<{ runId: string; leaseToken: string }>; ttlMs: number },
): Promise<Array<{ runId: string; held: boolean; expireTime: Date | undefined }>> {
  const [extended] = await Promise.all([extendLeases(deps.db, cmd.namespace, cmd.leases, cmd.ttlMs), touchWorker(deps.db, cmd.workerId)]);
  const byId = new Map(extended.map((r) => [r.id, r.lease_expires_time]));
  return cmd.leases.map((l) => ({ runId: l.runId, held: byId.has(l.runId), expireTime: byId.get(l.runId) }));
}
