import { type Kysely, sql, type Transaction } from "kysely";
import type { Database } from "./database.js";
import type { EventRow } from "./history.tables.js";
import { type JsonValue, jsonbOrNull } from "./json.js";
import { uuidV7 } from "./uuid-v7.js";

type Trx = Transaction<Database>;

export async function findEventByReference(trx: Trx, runId: string, name: string, referenceId: string): Promise<EventRow | undefined> {
  return trx
    .selectFrom("events")
    .selectAll()
    .where("run_id", "=", runId)
    .where("name", "=", name)
    .where("reference_id", "=", referenceId)
    .executeTakeFirst();
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
  const pending = await trx
    .selectFrom("events")
    .select("id")
    .where("run_id", "=", runId)
    .where("name", "=", name)
    .where("consume_time", "is", null)
    .orderBy("id")
    .limit(1)
    .forUpdate()
    .executeTakeFirst();
  if (!pending) return undefined;
  return trx
    .updateTable("events")
    .set({ consume_time: sql<Date>`now()` })
    .where("id", "=", pending.id)
    .where("consume_time", "is", null)
    .returningAll()
    .executeTakeFirst();
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
