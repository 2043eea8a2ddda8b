import type { Transaction } from "kysely";
import { randomUUID } from "node:crypto";
import type { Database } from "../store/database.js";
import { leaseQueuedRun } from "../store/lease-repository.js";
import type { RunRow } from "../store/runs.table.js";
import type { EngineDeps } from "./engine-deps.js";
import { releaseLease } from "./finish-run.js";
import type { SessionReservation } from "./local-sessions.js";
import { publishRunChange } from "./publish-run-change.js";
import { loadHistory, type RunHistoryData } from "./run-history.js";
import { traceLeases } from "../tracing/lease-spans.js";

/** A run a transaction woke and leased to an idle session of this server, to push after commit. */
export interface HandOver {
  run: RunRow;
  reservation: SessionReservation;
}

/**
 * In the transaction that just made `queued` ready: when a worker session of this server waits
 * idle for its workflow version and shard, leases the run to it at once (the queued → running
 * transition recorded as a claim would) so no claim, hint or second commit is needed. Undefined:
 * no session qualifies and the run stays queued for whoever claims it.
 */
export async function leaseToIdleSession(deps: EngineDeps, trx: Transaction<Database>, queued: RunRow): Promise<HandOver | undefined> {
  const reservation = deps.localSessions?.reserve(queued.namespace, queued.workflow_name, queued.workflow_version_id, queued.shard);
  if (!reservation) return undefined;
  try {
    const run = await leaseQueuedRun(trx, queued, { leaseToken: randomUUID(), workerId: reservation.workerId, ttlMs: reservation.ttlMs });
    if (!run) {
      reservation.cancel();
      return undefined;
    }
    return { run, reservation };
  } catch (error) {
    reservation.cancel();
    throw error;
  }
}

/**
 * After commit: counts the hand-over, hints the run's change and pushes it with its history to
 * the session it was leased to. Returns the run as it now stands: released back to the queue,
 * for another worker, when the session left meanwhile or the history could not be read.
 */
export async function deliverHandOver(deps: EngineDeps, { run, reservation }: HandOver, history: () => Promise<RunHistoryData>): Promise<RunRow> {
  // The reads first: the push waits for them, the bookkeeping below does not need to go before.
  const reading = history();
  reading.catch(() => undefined);
  deps.metrics?.runTransitioned("queued", "running");
  deps.metrics?.runsLeased([{ ...run, queued_time: run.update_time }]);
  traceLeases([run], "hand_over");
  publishRunChange(deps.notifier, run);
  let delivered = false;
  try {
    delivered = reservation.deliver({ run, history: await reading });
  } catch (error) {
    reservation.cancel();
    deps.logger.warn({ err: error, runId: run.id }, "loading a handed-over run's history failed; releasing its lease");
  }
  if (delivered) return run;
  return releaseLease(deps, { namespace: run.namespace, runId: run.id, leaseToken: run.lease_token!, reason: "worker went away" });
}

/** deliverHandOver for the runs a transaction woke, with their histories. */
export async function deliverHandOvers(deps: EngineDeps, handOvers: readonly HandOver[]): Promise<void> {
  for (const h of handOvers) await deliverHandOver(deps, h, () => loadHistory(deps.db, h.run.id));
}

/** Gives back the credits of hand-overs whose transaction did not commit. */
export function cancelHandOvers(handOvers: readonly HandOver[]): void {
  for (const h of handOvers) h.reservation.cancel();
}
