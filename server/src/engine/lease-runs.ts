import { HintWaiter } from "../notify/hint-waiter.js";
import { channels } from "../notify/notifier.js";
import { claimReadyRuns, extendLeases, heldLeases } from "../store/lease-repository.js";
import { traceLeases } from "../tracing/lease-spans.js";
import type { RunRow } from "../store/runs.table.js";
import { clearWorkerTransport, touchWorker, upsertWorker, type WorkerTransport } from "../store/worker-repository.js";
import type { EngineDeps } from "./engine-deps.js";
import { releaseLease } from "./finish-run.js";
import { publishRunChange } from "./publish-run-change.js";
import { emptyHistory, loadHistories, type RunHistoryData } from "./run-history.js";

export const defaultLeaseTtlMs = 30_000;
export const maxPollWaitMs = 60_000;
// Hints can be lost; polls and streams re-read this often regardless.
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

function readyChannels(worker: WorkerIdentity): string[] {
  const shards = worker.shards.length > 0 ? worker.shards : [""];
  return worker.versions.flatMap((v) => shards.map((s) => channels.ready(worker.namespace, v.workflowName, v.workflowVersionId, s)));
}

/** Claims up to `max` runs and loads their histories; gives them back if the caller left meanwhile. */
async function claim(deps: EngineDeps, worker: WorkerIdentity, max: number, ttlMs: number, signal: AbortSignal): Promise<LeasedRun[]> {
  const runs = await claimReadyRuns(deps.db, {
    namespace: worker.namespace,
    workerId: worker.workerId,
    versions: worker.versions,
    shards: worker.shards.length > 0 ? worker.shards : [""],
    limit: max,
    ttlMs,
  });
  if (runs.length === 0) return [];
  deps.metrics?.runsLeased(runs);
  traceLeases(runs, "claim");
  if (signal.aborted) {
    // Rather than strand the runs until their leases expire.
    await Promise.all(runs.map((r) => releaseLease(deps, { namespace: r.namespace, runId: r.id, leaseToken: r.lease_token!, reason: "worker went away" })));
    return [];
  }
  for (const run of runs) publishRunChange(deps.notifier, run);
  // A run leased for the first time has recorded nothing yet.
  const histories = await loadHistories(
    deps.db,
    runs.filter((r) => !r.first_lease).map((r) => r.id),
  );
  return runs.map((run) => ({ run, history: histories.get(run.id) ?? emptyHistory() }));
}

// Workers poll often; their record (what ListWorkers shows) is rewritten only when it changed
// or this long after the last write, per server.
const registrationRefreshMs = 10_000;
const registrations = new WeakMap<EngineDeps, Map<string, { identity: string; time: number }>>();

async function register(deps: EngineDeps, worker: WorkerIdentity, transport: WorkerTransport): Promise<void> {
  let known = registrations.get(deps);
  if (!known) {
    known = new Map();
    registrations.set(deps, known);
  }
  const identity = JSON.stringify([worker.namespace, worker.workerName, worker.versions, worker.shards, transport]);
  const last = known.get(JSON.stringify([worker.namespace, worker.workerId]));
  if (last && last.identity === identity && Date.now() - last.time < registrationRefreshMs) return;
  await upsertWorker(deps.db, {
    namespace: worker.namespace,
    id: worker.workerId,
    name: worker.workerName,
    workflows: worker.versions,
    shards: worker.shards,
    transport,
  });
  if (known.size > 10_000) known.clear();
  known.set(JSON.stringify([worker.namespace, worker.workerId]), { identity, time: Date.now() });
}

/**
 * A stream or session ended: the worker holds no open call on it any more (unless another call
 * registered since). Best effort: ListWorkers shows it, nothing depends on it.
 */
function unregister(deps: EngineDeps, worker: WorkerIdentity, transport: WorkerTransport): void {
  registrations.get(deps)?.delete(JSON.stringify([worker.namespace, worker.workerId]));
  clearWorkerTransport(deps.db, worker.namespace, worker.workerId, transport).catch(() => {});
}

/** Long-poll: leases up to `max` ready runs, waiting up to `waitMs` for the first. */
export async function pollLeases(
  deps: EngineDeps,
  worker: WorkerIdentity,
  opts: { max: number; waitMs: number; ttlMs: number },
  signal: AbortSignal,
): Promise<LeasedRun[]> {
  await register(deps, worker, "poll");
  const hints = new HintWaiter(deps.notifier, readyChannels(worker), [signal, deps.shutdownSignal]);
  const deadline = Date.now() + Math.min(opts.waitMs, maxPollWaitMs);
  try {
    for (;;) {
      hints.reset();
      if (hints.aborted) return [];
      const leased = await claim(deps, worker, opts.max, opts.ttlMs, signal);
      if (leased.length > 0) return leased;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      await hints.wait(Math.min(left, recheckMs));
    }
  } finally {
    hints.close();
  }
}

/**
 * Server stream: pushes leases while fewer than `maxInFlight` of those it pushed are still held.
 * A slot frees when one of them ends, which the worker's channel hints.
 */
export async function* streamLeases(
  deps: EngineDeps,
  worker: WorkerIdentity,
  opts: { maxInFlight: number; ttlMs: number; writable?: (signal: AbortSignal) => Promise<void> },
  signal: AbortSignal,
): AsyncGenerator<LeasedRun[]> {
  await register(deps, worker, "stream");
  const hints = new HintWaiter(deps.notifier, [...readyChannels(worker), channels.worker(worker.namespace, worker.workerId)], [signal, deps.shutdownSignal]);
  let held = new Map<string, string>();
  try {
    while (!hints.aborted) {
      hints.reset();
      if (held.size > 0) {
        const still = await heldLeases(
          deps.db,
          [...held].map(([runId, leaseToken]) => ({ runId, leaseToken })),
        );
        held = new Map([...held].filter(([runId]) => still.has(runId)));
      }
      const free = opts.maxInFlight - held.size;
      if (free > 0 && opts.writable) {
        // Until the stream's earlier pushes have left, no claim (and no store read) at all.
        await opts.writable(hints.signal);
        if (hints.aborted) break;
      }
      if (free > 0) {
        const leased = await claim(deps, worker, free, opts.ttlMs, signal);
        if (leased.length > 0) {
          for (const l of leased) held.set(l.run.id, l.run.lease_token!);
          yield leased;
          continue;
        }
      }
      await hints.wait(recheckMs);
    }
  } finally {
    hints.close();
    unregister(deps, worker, "stream");
  }
}

/** The leases a session may still be pushed: credits the worker granted and has not used. */
export interface SessionCredits {
  available(): number;
  /** Calls `listener` when the worker grants more; returns the unsubscribe. */
  onGrant(listener: () => void): () => void;
}

/**
 * Session leasing: pushes leases while the worker has credits, as runs become ready. The caller
 * takes the credits of what it is given. Unlike streamLeases nothing is re-read to learn which
 * leases ended: the worker grants a credit for each slot that frees.
 */
export async function* sessionLeases(
  deps: EngineDeps,
  worker: WorkerIdentity,
  opts: { ttlMs: number; credits: SessionCredits; onIdle?: (idle: boolean) => void; writable?: (signal: AbortSignal) => Promise<void> },
  signal: AbortSignal,
): AsyncGenerator<LeasedRun[]> {
  await register(deps, worker, "session");
  const hints = new HintWaiter(deps.notifier, readyChannels(worker), [signal, deps.shutdownSignal]);
  const stopListening = opts.credits.onGrant(() => hints.poke());
  // The last claim found nothing, and no ready hint came since: every run made ready meanwhile
  // was handed to this session at its start (or hinted, which ends this). A grant alone then
  // needs no claim, and the session stays idle through it, so a start arriving just after a
  // run's completion (whose freed slot the worker grants back) is still handed over; a claim
  // would make the session busy for its round trip, and that start would wait queued for it.
  let nothingReady = false;
  try {
    while (!hints.aborted) {
      const onlyGranted = nothingReady && hints.onlyPoked;
      hints.reset();
      if (!onlyGranted) {
        if (opts.writable && opts.credits.available() > 0) {
          await opts.writable(hints.signal);
          if (hints.aborted) break;
        }
        const free = opts.credits.available();
        nothingReady = false;
        if (free > 0) {
          const leased = await claim(deps, worker, Math.min(free, 1000), opts.ttlMs, signal);
          if (leased.length > 0) {
            yield leased;
            continue;
          }
          nothingReady = true;
        }
      }
      // Idle: nothing was ready when last looked, so a start may hand its run over directly.
      opts.onIdle?.(opts.credits.available() > 0);
      await hints.wait(recheckMs);
      opts.onIdle?.(false);
    }
  } finally {
    opts.onIdle?.(false);
    stopListening();
    hints.close();
    unregister(deps, worker, "session");
  }
}

export async function heartbeat(
  deps: EngineDeps,
  cmd: { namespace: string; workerId: string; leases: Array<{ runId: string; leaseToken: string }>; ttlMs: number },
): Promise<Array<{ runId: string; held: boolean; expireTime: Date | undefined }>> {
  const [extended] = await Promise.all([extendLeases(deps.db, cmd.namespace, cmd.leases, cmd.ttlMs), touchWorker(deps.db, cmd.namespace, cmd.workerId)]);
  const byId = new Map(extended.map((r) => [r.id, r.lease_expires_time]));
  return cmd.leases.map((l) => ({ runId: l.runId, held: byId.has(l.runId), expireTime: byId.get(l.runId) }));
}
