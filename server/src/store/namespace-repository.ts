import { type Kysely, sql, type Transaction } from "kysely";
import type { NamespaceRow } from "./namespaces.table.js";
import type { Database } from "./database.js";

type Reader = Kysely<Database>;
type Trx = Transaction<Database>;

/** Inserts a namespace; undefined when it exists already. */
export async function insertNamespace(db: Reader, name: string): Promise<NamespaceRow | undefined> {
  return db
    .insertInto("namespaces")
    .values({ name })
    .onConflict((oc) => oc.column("name").doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function listNamespaces(db: Reader): Promise<NamespaceRow[]> {
  return db.selectFrom("namespaces").selectAll().orderBy("name").execute();
}

export async function findNamespace(db: Reader, name: string): Promise<NamespaceRow | undefined> {
  return db.selectFrom("namespaces").selectAll().where("name", "=", name).executeTakeFirst();
}

/**
 * Locks the namespace and says what it still holds (runs, schedules, keys that still work).
 * Undefined when it does not exist.
 */
export async function lockNamespaceContents(trx: Trx, name: string): Promise<{ runs: boolean; schedules: boolean; liveKeys: boolean } | undefined> {
  const row = await trx.selectFrom("namespaces").select("name").where("name", "=", name).forUpdate().executeTakeFirst();
  if (!row) return undefined;
  const { rows } = await sql<{ runs: boolean; schedules: boolean; live_keys: boolean }>`
    select exists(select 1 from runs where namespace = ${name}) as runs,
           exists(select 1 from schedules where namespace = ${name}) as schedules,
           exists(select 1 from api_keys where namespace = ${name} and revoke_time is null
                  and (expire_time is null or expire_time > now())) as live_keys`.execute(trx);
  const r = rows[0]!;
  return { runs: r.runs, schedules: r.schedules, liveKeys: r.live_keys };
}

/** Deletes a namespace the caller locked, with its dead (revoked or expired) keys. */
export async function deleteNamespaceRow(trx: Trx, name: string): Promise<void> {
  await trx.deleteFrom("api_keys").where("namespace", "=", name).execute();
  await trx.deleteFrom("namespaces").where("name", "=", name).execute();
}
