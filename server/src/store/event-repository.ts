import { type Kysely, sql, type Transaction } from "kysely";
import type { Database } from "./database.js";
import type { EventRow } from "./events.table.js";
import { type JsonValue, jsonbOrNull } from "./json.js";
import { uuidV7 } from "./uuid-v7.js";

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

export async function eventsByIds(db: Kysely<Database>, ids: readonly string[]): Promise<EventRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom("events").selectAll().where("id", "in", ids).execute();
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
