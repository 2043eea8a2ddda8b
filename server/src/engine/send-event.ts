import type { Transaction } from "kysely";
import { InvalidTransitionError, RunNotFoundError, type RunReferenceKey } from "../domain/errors.js";
import { isTerminal } from "../domain/run-status.js";
import {
  deliverEventToRun,
  type EventDeliveryOutcome,
  type EventHandOverCandidate,
  findEventByReference,
  insertEvent,
  receiveOldestPendingEvent,
} from "../store/event-repository.js";
import type { Database } from "../store/database.js";
import type { EventRow } from "../store/events.table.js";
import type { JsonValue } from "../store/json.js";
import { findRunByReference, lockRunsInIdOrder, transitionRun } from "../store/run-repository.js";
import type { RunRow } from "../store/runs.table.js";
import type { EngineDeps } from "./engine-deps.js";
import { cancelHandOvers, deliverHandOver, deliverHandOvers, type HandOver, leaseToIdleSession } from "./hand-over.js";
import { loadHistory } from "./run-history.js";
import { publishHistoryChange, publishRunChange } from "./publish-run-change.js";
import { storeTransaction, traceStore } from "../tracing/store-spans.js";

export type EventTarget = { runId: string } | { reference: RunReferenceKey };

export interface SendEventCommand {
  namespace: string;
  targets: readonly EventTarget[];
  eventName: string;
  data: JsonValue | undefined;
  referenceId?: string | undefined;
}

export interface Delivery {
  event: EventRow;
  duplicate: boolean;
}

/**
 * Stores an event for every target, atomically. Each target run is locked before its event is
 * stored, the same lock SuspendRun takes, so a run that is suspending concurrently either sees
 * the event in its check or is already AWAITING_EVENT here and is woken in this transaction.
 */
export async function sendEvent(deps: EngineDeps, cmd: SendEventCommand): Promise<Delivery[]> {
  const only = cmd.targets.length === 1 ? cmd.targets[0] : undefined;
  if (only && "runId" in only) return [await sendEventToRun(deps, cmd, only.runId)];
  return sendEventInTransaction(deps, cmd);
}

// Idle sessions reserved for a SendEvent whose run may wake: the run's workflow is known only in
// the statement, so each candidate session is held for the length of one statement.
const maxEventHandOverSessions = 8;

/**
 * The common SendEvent, one run named by id, in one statement (deliverEventToRun): one round trip
 * and one commit, with the woken run handed to an idle session of this server in the same
 * statement, as a start is.
 */
async function sendEventToRun(deps: EngineDeps, cmd: SendEventCommand, runId: string): Promise<Delivery> {
  const reserved = deps.localSessions?.reserveIdleIn(cmd.namespace, maxEventHandOverSessions) ?? [];
  const candidates: EventHandOverCandidate[] = [];
  const ownerOf: number[] = [];
  for (const [i, { worker, reservation }] of reserved.entries()) {
    const shards = worker.shards.length > 0 ? worker.shards : [""];
    for (const v of worker.versions) {
      for (const shard of shards) {
        candidates.push({ ...v, shard, workerId: reservation.workerId, ttlMs: reservation.ttlMs });
        ownerOf.push(i);
      }
    }
  }
  let outcome: EventDeliveryOutcome;
  try {
    outcome = await traceStore(
      "sendEvent",
      () => deliverEventToRun(deps.db, { namespace: cmd.namespace, runId, name: cmd.eventName, data: cmd.data, referenceId: cmd.referenceId }, candidates),
      { runId },
    );
  } catch (error) {
    for (const r of reserved) r.reservation.cancel();
    throw error;
  }
  const used = outcome.picked === undefined ? undefined : ownerOf[outcome.picked];
  for (const [i, r] of reserved.entries()) if (i !== used) r.reservation.cancel();
  if (outcome.raced) return (await sendEventInTransaction(deps, cmd))[0]!;
  if (!outcome.found) throw new RunNotFoundError({ runId });
  if (outcome.status && isTerminal(outcome.status)) throw new InvalidTransitionError(runId, outcome.status, "send_event", outcome.revision ?? 0);
  const woken = outcome.woken;
  if (!woken) {
    if (!outcome.duplicate) publishHistoryChange(deps.notifier, cmd.namespace, runId);
    return { event: outcome.event!, duplicate: outcome.duplicate };
  }
  deps.metrics?.runTransitioned("awaiting_event", "queued", 1);
  if (used === undefined) publishRunChange(deps.notifier, woken);
  else {
    // Pushed while the sender is answered; the statement returned the run's history along, so the push reads nothing.
    const rows = outcome.history;
    const history = rows ? async () => ({ ...rows, events: new Map(rows.events.map((e) => [e.id, e])) }) : () => loadHistory(deps.db, woken.id);
    deliverHandOver(deps, { run: woken, reservation: reserved[used]!.reservation }, history).catch((error: unknown) =>
      deps.logger.warn({ err: error }, "pushing a woken run to its session failed; its lease expires"),
    );
  }
  return { event: outcome.event!, duplicate: false };
}

/** SendEvent to several runs, or to runs named by reference id: one transaction, atomic. */
async function sendEventInTransaction(deps: EngineDeps, cmd: SendEventCommand): Promise<Delivery[]> {
  // Woken runs handed straight to an idle worker session of this server (pushed after commit).
  const handOvers: HandOver[] = [];
  const only = cmd.targets.length === 1 ? cmd.targets[0] : undefined;
  const { deliveries, woken } = await storeTransaction(deps.db, "sendEvent", only && "runId" in only ? only.runId : undefined, async (trx) => {
    const ids: string[] = [];
    for (const t of cmd.targets) {
      if ("runId" in t) ids.push(t.runId);
      else {
        const run = await findRunByReference(trx, cmd.namespace, t.reference);
        if (!run) throw new RunNotFoundError({ reference: t.reference });
        ids.push(run.id);
      }
    }
    // Lock in id order so concurrent multi-target sends cannot deadlock.
    const unique = [...new Set(ids)].sort();
    const rows = await lockRunsInIdOrder(trx, cmd.namespace, unique);
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const id of unique) {
      const run = byId.get(id);
      if (!run) throw new RunNotFoundError({ runId: id });
      if (isTerminal(run.status)) throw new InvalidTransitionError(run.id, run.status, "send_event", run.revision);
    }
    const stored = new Map<string, Delivery>();
    const woken: RunRow[] = [];
    for (const id of unique) {
      const { delivery, woken: next } = await deliverToLockedRun(trx, byId.get(id)!, cmd);
      stored.set(id, delivery);
      if (next) {
        woken.push(next);
        const handed = await leaseToIdleSession(deps, trx, next);
        if (handed) handOvers.push(handed);
      }
    }
    return { deliveries: ids.map((id) => stored.get(id)!), woken };
  }).catch((error: unknown) => {
    cancelHandOvers(handOvers);
    throw error;
  });
  const handed = new Set(handOvers.map((h) => h.run.id));
  for (const run of woken) if (!handed.has(run.id)) publishRunChange(deps.notifier, run);
  // Runs that stored the event without waking (pending, or no open wait): their history grew.
  const wokenIds = new Set(woken.map((r) => r.id));
  for (const d of deliveries) if (!d.duplicate && !wokenIds.has(d.event.run_id)) publishHistoryChange(deps.notifier, d.event.namespace, d.event.run_id);
  deps.metrics?.runTransitioned("awaiting_event", "queued", woken.length);
  // The sender is answered meanwhile: the push needs the run's history read first.
  if (handOvers.length > 0) {
    deliverHandOvers(deps, handOvers).catch((error: unknown) =>
      deps.logger.warn({ err: error }, "pushing woken runs to their sessions failed; their leases expire"),
    );
  }
  return deliveries;
}

/**
 * Stores the event for one run that the caller locked and found not terminal, in the caller's
 * transaction: nothing new on a repeated reference id (`duplicate`), else the event, and a run
 * awaiting it is moved to QUEUED (`woken`; the caller publishes it after commit).
 */
export async function deliverToLockedRun(
  trx: Transaction<Database>,
  run: RunRow,
  cmd: Pick<SendEventCommand, "namespace" | "eventName" | "data" | "referenceId">,
): Promise<{ delivery: Delivery; woken: RunRow | undefined }> {
  const prior = cmd.referenceId ? await findEventByReference(trx, run.id, cmd.eventName, cmd.referenceId) : undefined;
  if (prior) return { delivery: { event: prior, duplicate: true }, woken: undefined };
  const event = await insertEvent(trx, { namespace: cmd.namespace, runId: run.id, name: cmd.eventName, data: cmd.data, referenceId: cmd.referenceId });
  if (run.status !== "awaiting_event") return { delivery: { event, duplicate: false }, woken: undefined };
  // FIFO per name: the open wait takes the oldest pending event, which may predate this one.
  const consumed = await receiveOldestPendingEvent(trx, run.id, cmd.eventName);
  if (!consumed) return { delivery: { event, duplicate: false }, woken: undefined };
  const woken = await transitionRun(trx, run, "queued", { wake_time: null }, { actor: "client", reason: `event ${cmd.eventName}` });
  const delivered = consumed.id === event.id ? { ...event, consume_time: consumed.consume_time } : event;
  return { delivery: { event: delivered, duplicate: false }, woken };
}
