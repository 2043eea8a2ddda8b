import type { LeasedRun, WorkerIdentity } from "./lease-runs.js";

/** A worker session open on this server, as StartRun sees it. */
export interface LocalSession {
  worker: WorkerIdentity;
  ttlMs: number;
  /** True while its leaser found nothing ready and waits with credits left. */
  idle(): boolean;
  /** Takes one of the worker's credits; false when none is left. */
  takeCredit(): boolean;
  /** Gives back a credit taken for a start that did not lease. */
  returnCredit(): void;
  /** Pushes a lease; false when the session closed meanwhile. */
  deliver(leased: LeasedRun): boolean;
}

/** One credit of an idle session, taken for a run about to be inserted already leased to it. */
export interface SessionReservation {
  workerId: string;
  ttlMs: number;
  /** Pushes the lease after commit; false when the session closed meanwhile (release it). */
  deliver(leased: LeasedRun): boolean;
  /** The start did not lease (the run existed, or the insert failed): the credit goes back. */
  cancel(): void;
}

/**
 * The worker sessions open on this server, by what they serve, so a start can hand its run to
 * an idle one in the same statement that creates it: no claim, no hint, no second commit.
 * Only idle sessions qualify, so a start never overtakes runs already waiting for a worker.
 */
export class LocalSessions {
  private readonly byKey = new Map<string, LocalSession[]>();
  private turn = 0;

  add(session: LocalSession): () => void {
    const keys = keysOf(session.worker);
    for (const key of keys) {
      let list = this.byKey.get(key);
      if (!list) {
        list = [];
        this.byKey.set(key, list);
      }
      list.push(session);
    }
    return () => {
      for (const key of keys) {
        const list = this.byKey.get(key);
        if (!list) continue;
        const i = list.indexOf(session);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.byKey.delete(key);
      }
    };
  }

  /** The workers whose sessions are registered, each once: a test's teardown expects none left. */
  workerIds(): string[] {
    const ids = new Set<string>();
    for (const list of this.byKey.values()) for (const s of list) ids.add(s.worker.workerId);
    return [...ids];
  }

  /** How many sessions serving this workflow version and shard wait idle with credits left. */
  idleCount(namespace: string, workflowName: string, workflowVersionId: string, shard = ""): number {
    const list = this.byKey.get(key(namespace, workflowName, workflowVersionId, shard)) ?? [];
    return list.filter((s) => s.idle()).length;
  }

  reserve(namespace: string, workflowName: string, workflowVersionId: string, shard: string): SessionReservation | undefined {
    const list = this.byKey.get(key(namespace, workflowName, workflowVersionId, shard));
    if (!list) return undefined;
    // Round robin, so several idle workers share the starts.
    for (let k = 0; k < list.length; k++) {
      const session = list[(this.turn + k) % list.length]!;
      if (!session.idle() || !session.takeCredit()) continue;
      this.turn = (this.turn + k + 1) % list.length;
      return reservationOf(session);
    }
    return undefined;
  }

  /**
   * One credit of each idle session of `namespace` (at most `max`), with what each serves, for a
   * caller that learns which workflow its run is only in the statement that leases it (SendEvent's
   * single statement). The caller cancels the reservations it did not use as soon as that
   * statement answers; meanwhile those sessions are not idle for other starts, which then take the
   * claim path.
   */
  reserveIdleIn(namespace: string, max: number): Array<{ reservation: SessionReservation; worker: WorkerIdentity }> {
    const seen = new Set<LocalSession>();
    const taken: Array<{ reservation: SessionReservation; worker: WorkerIdentity }> = [];
    for (const list of this.byKey.values()) {
      for (const session of list) {
        if (taken.length >= max) return taken;
        if (seen.has(session) || session.worker.namespace !== namespace) continue;
        seen.add(session);
        if (!session.idle() || !session.takeCredit()) continue;
        taken.push({ reservation: reservationOf(session), worker: session.worker });
      }
    }
    return taken;
  }
}

function reservationOf(session: LocalSession): SessionReservation {
  let settled = false;
  return {
    workerId: session.worker.workerId,
    ttlMs: session.ttlMs,
    deliver: (leased) => {
      settled = true;
      return session.deliver(leased);
    },
    cancel: () => {
      if (settled) return;
      settled = true;
      session.returnCredit();
    },
  };
}

function keysOf(worker: WorkerIdentity): string[] {
  const shards = worker.shards.length > 0 ? worker.shards : [""];
  return worker.versions.flatMap((v) => shards.map((s) => key(worker.namespace, v.workflowName, v.workflowVersionId, s)));
}

function key(namespace: string, workflowName: string, workflowVersionId: string, shard: string): string {
  return JSON.stringify([namespace, workflowName, workflowVersionId, shard]);
}
