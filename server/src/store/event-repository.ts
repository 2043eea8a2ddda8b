import { type Kysely, sql, type Transaction } from "kysely";
import type { Database } from "./database.js";
import type { EventRow } from "./events.table.js";
import { type JsonValue, jsonbOrNull } from "./json.js";
import { uuidV7 } from "./uuid-v7.js";
import type { RunRow } from "./runs.table.js";
import { type HistoryJson, type HistoryRows, historyRowsFromJson, rowFromJson } from "./history-json.js";
import type { RunStatus } from "../domain/run-status.js";

type Trx = Transaction<Database>;

export async function findEventByReference(trx: Trx, runId: string, name: string, referenceId: string): Promise<EventRow | undefined> {
  return trx.selectFrom("events").selectAll().where("run_id", "=", runId).where("name", "=", name).where("reference_id", "=", referenceId).executeTakeFirst();
}

export async function insertEvent(
  trx: Trx,
  e: { namespace: string; runId: string; name: string; data: JsonValue | undefined; referenceId?: string | undefined },
): Promise<EventRow> {
  return trx
    .insertInto("events")
    .values({ namespace: e.namespace, id: uuidV7(), run_id: e.runId, name: e.name, data: jsonbOrNull(e.data), reference_id: e.referenceId ?? null })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** The oldest unconsumed event of a name (FIFO per name), marked consumed. */
export async function consumeOldestPendingEvent(trx: Trx, runId: string, name: string): Promise<EventRow | undefined> {
  // Find and mark in one statement.
  return trx
    .updateTable("events")
    .set({ consume_time: sql<Date>`now()` })
    .where("id", "=", (eb) =>
      eb
        .selectFrom("events")
        .select("id")
        .where("run_id", "=", runId)
        .where("name", "=", name)
        .where("consume_time", "is", null)
        .orderBy("id")
        .limit(1)
        .forUpdate(),
    )
    .where("consume_time", "is", null)
    .returningAll()
    .executeTakeFirst();
}

/**
 * An event wait taking its event, in one statement: the run's open wait on `name` (the lowest
 * sequence) consumes the oldest unconsumed event of that name (FIFO per name) and is marked
 * RECEIVED with it. Undefined, with nothing changed, when either is missing.
 */
export async function receiveOldestPendingEvent(trx: Trx, runId: string, name: string): Promise<EventRow | undefined> {
  const { rows } = await sql<EventRow>`
    with w as (
      select run_id, kind, key, sequence from run_waits
      where run_id = ${runId} and kind = 'event' and key = ${name} and status = 'waiting'
      order by sequence limit 1
      for update
    ),
    e as (
      select id from events
      where run_id = ${runId} and name = ${name} and consume_time is null and exists (select 1 from w)
      order by id limit 1
      for update
    ),
    consumed as (
      update events set consume_time = now() from e where events.id = e.id returning events.*
    ),
    resolved as (
      update run_waits set status = 'received', event_id = consumed.id, end_time = now()
      from w, consumed
      where run_waits.run_id = w.run_id and run_waits.kind = w.kind and run_waits.key = w.key and run_waits.sequence = w.sequence
      returning run_waits.run_id
    )
    select consumed.* from consumed join resolved on resolved.run_id = consumed.run_id
  `.execute(trx);
  return rows[0];
}

/** The events these runs' waits consumed: read beside the waits, not after them. */
export async function eventsOfWaits(db: Kysely<Database>, runIds: readonly string[]): Promise<EventRow[]> {
  if (runIds.length === 0) return [];
  const { rows } = await sql<EventRow>`
    select events.* from run_waits join events on events.id = run_waits.event_id
    where run_waits.run_id = any(${runIds as string[]}::uuid[]) and run_waits.event_id is not null
  `.execute(db);
  return rows;
}

export async function listEvents(
  db: Kysely<Database>,
  namespace: string,
  runId: string,
  page: { limit: number; afterId?: string | undefined; name?: string | undefined },
): Promise<EventRow[]> {
  let q = db.selectFrom("events").selectAll().where("namespace", "=", namespace).where("run_id", "=", runId);
  if (page.name) q = q.where("name", "=", page.name);
  if (page.afterId) q = q.where("id", ">", page.afterId);
  return q.orderBy("id").limit(page.limit).execute();
}

/** Every event sent to a run, oldest first, consumed or pending (a client's complete history). */
export async function listAllEvents(db: Kysely<Database>, namespace: string, runId: string): Promise<EventRow[]> {
  return db.selectFrom("events").selectAll().where("namespace", "=", namespace).where("run_id", "=", runId).orderBy("id").execute();
}

/** An idle worker session the run may be leased to if it is one of its workflow versions and shard. */
export interface EventHandOverCandidate {
  workflowName: string;
  workflowVersionId: string;
  shard: string;
  workerId: string;
  ttlMs: number;
}

/** What deliverEventToRun did: `found` false when no such run is in the namespace. */
export interface EventDeliveryOutcome {
  /**
   * The run changed between the statement's snapshot and its lock (a suspension committing, say),
   * so the waits and events the statement read may be stale: it wrote nothing, and the caller
   * takes the transaction path, whose statements read after the lock.
   */
  raced: boolean;
  found: boolean;
  /** The run's status and revision when the statement locked it. */
  status: RunStatus | undefined;
  revision: number | undefined;
  /** The stored event, or the earlier one with the same reference id (`duplicate`). */
  event: EventRow | undefined;
  duplicate: boolean;
  /** The run, when the event woke it: QUEUED, or RUNNING leased to `candidates[picked]`. */
  woken: RunRow | undefined;
  picked: number | undefined;
  /** With `picked`: the run's history as it now stands, for the push. */
  history: HistoryRows | undefined;
}

/**
 * SendEvent to one run in ONE statement, which is its own transaction: one round trip and one
 * commit where the general path (send-event.ts) takes a lock, an insert, the wait's update, the
 * wake and the hand-over, each a round trip between BEGIN and COMMIT. The same rules: the run is
 * locked first (as SuspendRun locks it, so a run suspending concurrently sees the event or is
 * woken here); a terminal run stores nothing (the caller refuses it); a repeated reference id
 * stores nothing; a run awaiting this event name has its oldest waiting wait take the oldest
 * pending event (FIFO, which may predate this one) and moves awaiting_event → queued, and on to
 * running (a second history row) when one of `candidates`, idle sessions of this server, serves
 * its workflow version and shard: the first that does, in order. Guarded on status and revision.
 * A single statement reads everything but the locked row in the snapshot it started with, so a
 * run that changed while the statement waited for its lock is left alone (`raced`).
 */
export async function deliverEventToRun(
  db: Kysely<Database>,
  e: { namespace: string; runId: string; name: string; data: JsonValue | undefined; referenceId: string | undefined },
  candidates: readonly EventHandOverCandidate[],
): Promise<EventDeliveryOutcome> {
  const eventId = uuidV7();
  const ref = e.referenceId ?? null;
  const { rows } = await sql<
    RunRow & {
      x_found: boolean;
      x_status: RunStatus | null;
      x_revision: number | null;
      x_event: unknown;
      x_duplicate: boolean;
      x_raced: boolean;
      x_picked: number | null;
      x_history: HistoryJson | null;
    }
  >`
    with run as (
      select namespace, id, status, revision, workflow_name, workflow_version_id, shard from runs
      where namespace = ${e.namespace} and id = ${e.runId}
      for update
    ),
    snap as (
      select revision from runs where namespace = ${e.namespace} and id = ${e.runId}
    ),
    raced as (
      select 1 from run, snap where run.revision <> snap.revision
    ),
    prior as (
      select events.* from events, run
      where ${ref}::text is not null and events.run_id = run.id and events.name = ${e.name} and events.reference_id = ${ref}::text
      limit 1
    ),
    open as (
      select run.* from run where run.status not in ('completed', 'failed', 'cancelled') and not exists (select 1 from prior) and not exists (select 1 from raced)
    ),
    w as (
      select run_waits.run_id, run_waits.kind, run_waits.key, run_waits.sequence from run_waits join open on run_waits.run_id = open.id
      where open.status = 'awaiting_event' and run_waits.kind = 'event' and run_waits.key = ${e.name} and run_waits.status = 'waiting'
      order by run_waits.sequence limit 1
      for update of run_waits
    ),
    older as (
      select events.id from events
      where events.run_id = ${e.runId} and events.name = ${e.name} and events.consume_time is null and events.id < ${eventId}::uuid and exists (select 1 from w)
      order by events.id limit 1
      for update
    ),
    ins as (
      insert into events (namespace, id, run_id, name, data, reference_id, consume_time)
      select open.namespace, ${eventId}::uuid, open.id, ${e.name}, ${jsonbOrNull(e.data)}, ${ref}::text,
        case when exists (select 1 from w) and not exists (select 1 from older) then now() end
      from open
      returning *
    ),
    consumed_older as (
      update events set consume_time = now() from older where events.id = older.id returning events.*
    ),
    consumed as (
      select id from ins where consume_time is not null union all select id from consumed_older
    ),
    resolved as (
      update run_waits set status = 'received', event_id = consumed.id, end_time = now()
      from w, consumed
      where run_waits.run_id = w.run_id and run_waits.kind = w.kind and run_waits.key = w.key and run_waits.sequence = w.sequence
      returning run_waits.*
    ),
    cand as (
      select * from unnest(
        ${candidates.map((_, i) => i)}::int[], ${candidates.map((c) => c.workflowName)}::text[], ${candidates.map((c) => c.workflowVersionId)}::text[],
        ${candidates.map((c) => c.shard)}::text[], ${candidates.map((c) => c.workerId)}::text[], ${candidates.map((c) => c.ttlMs)}::float8[]
      ) as c(idx, workflow_name, workflow_version_id, shard, worker_id, ttl_ms)
    ),
    pick as (
      select cand.* from cand, open
      where cand.workflow_name = open.workflow_name and cand.workflow_version_id = open.workflow_version_id and cand.shard = open.shard
      order by cand.idx limit 1
    ),
    moved as (
      update runs set
        status = case when pick.idx is null then 'queued' else 'running' end,
        revision = open.revision + case when pick.idx is null then 1 else 2 end,
        wake_time = null,
        update_time = now(),
        lease_token = case when pick.idx is null then runs.lease_token else gen_random_uuid() end,
        lease_worker_id = case when pick.idx is null then runs.lease_worker_id else pick.worker_id end,
        lease_expires_time = case when pick.idx is null then runs.lease_expires_time else now() + make_interval(secs => pick.ttl_ms / 1000) end,
        start_time = case when pick.idx is null then runs.start_time else coalesce(runs.start_time, now()) end
      from open left join pick on true
      where runs.namespace = open.namespace and runs.id = open.id and runs.status = 'awaiting_event' and runs.revision = open.revision
        and exists (select 1 from resolved)
      returning runs.*, pick.idx as x_picked
    ),
    audit as (
      insert into run_transitions (namespace, run_id, revision, from_status, to_status, actor, reason)
      select namespace, id, revision - case when x_picked is null then 0 else 1 end, 'awaiting_event', 'queued', 'client', ${`event ${e.name}`}
      from moved
      union all
      select namespace, id, revision, 'queued', 'running', 'worker:' || lease_worker_id, 'leased' from moved where x_picked is not null
    )
    select moved.*,
      exists (select 1 from run) as x_found,
      (select status from run) as x_status,
      (select revision from run) as x_revision,
      coalesce((select to_jsonb(prior) from prior), (select to_jsonb(ins) from ins)) as x_event,
      exists (select 1 from prior) as x_duplicate,
      exists (select 1 from raced) as x_raced,
      -- Handed over: the run's history as loadHistories reads it, in the state this statement
      -- leaves it (the snapshot, which 'raced' proved current, plus what it wrote), so the push
      -- needs no reads of its own.
      case when moved.x_picked is not null then jsonb_build_object(
        'tasks', coalesce((select jsonb_agg(to_jsonb(t) order by t.id) from tasks t where t.run_id = ${e.runId}), '[]'::jsonb),
        'waits', coalesce((
          select jsonb_agg(to_jsonb(x) order by x.start_time, x.sequence) from (
            select run_waits.* from run_waits
            where run_waits.run_id = ${e.runId}
              and not exists (select 1 from resolved r where r.kind = run_waits.kind and r.key = run_waits.key and r.sequence = run_waits.sequence)
            union all
            select * from resolved
          ) x
        ), '[]'::jsonb),
        'children', coalesce((select jsonb_agg(to_jsonb(c) order by c.create_time) from child_runs c where c.parent_run_id = ${e.runId}), '[]'::jsonb),
        'events', coalesce((
          select jsonb_agg(to_jsonb(ev)) from (
            select events.* from run_waits join events on events.id = run_waits.event_id
            where run_waits.run_id = ${e.runId} and run_waits.event_id is not null
            union all
            select * from ins where ins.consume_time is not null
            union all
            select * from consumed_older
          ) ev
        ), '[]'::jsonb)
      ) end as x_history
    from (select 1) one left join moved on true
  `.execute(db);
  const row = rows[0]!;
  const { x_found, x_status, x_revision, x_event, x_duplicate, x_raced, x_picked, x_history, ...run } = row;
  return {
    raced: x_raced,
    found: x_found,
    status: x_status ?? undefined,
    revision: x_revision ?? undefined,
    event: x_event ? rowFromJson<EventRow>(x_event as Record<string, unknown>) : undefined,
    duplicate: x_duplicate,
    woken: run.id ? (run as RunRow) : undefined,
    picked: x_picked ?? undefined,
    history: x_history ? historyRowsFromJson(x_history) : undefined,
  };
}
