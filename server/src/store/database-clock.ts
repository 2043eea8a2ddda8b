import { type Kysely, type RawBuilder, sql } from "kysely";
import type { Database } from "./database.js";

// Times a statement writes come from the database's clock, the one every replica's timers read,
// never from the server's: a replica whose clock drifts cannot make a timer fire early or late.

/** The statement's `now()`. */
export function databaseNow(): RawBuilder<Date> {
  return sql<Date>`now()`;
}

/** `ms` milliseconds after the statement's `now()`. */
export function databaseNowPlus(ms: number): RawBuilder<Date> {
  return sql<Date>`now() + make_interval(secs => ${ms / 1000})`;
}

/** The database's clock now, read in a statement of its own. */
export async function readDatabaseNow(db: Kysely<Database>): Promise<Date> {
  const { rows } = await sql<{ now: Date }>`select now() as now`.execute(db);
  return rows[0]!.now;
}
