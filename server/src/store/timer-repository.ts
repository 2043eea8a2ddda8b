import { type Kysely, sql } from "kysely";
import type { Database } from "./database.js";
import type { RunRow } from "./runs.table.js";

/**
 * Moves due SCHEDULED runs to QUEUED: claimed with SKIP LOCKED so replicas split the work,
 * guarded on status, revision bumped and the transition appended in the same statement.
 */
export async function fireDueScheduledRuns(db: Kysely<Database>, limit: number): Promise<RunRow[]> {
  const { rows } = await sql<RunRow>`
    with due as (
      select id, revision from runs
      where status = 'scheduled' and wake_time <= now()
      order by wake_time
      limit ${limit}
      for update skip locked
    ),
    fired as (
      update runs set status = 'queued', revision = runs.revision + 1, wake_time = null, update_time = now()
      from due
      where runs.id = due.id and runs.status = 'scheduled' and runs.revision = due.revision
      returning runs.*
    ),
    audit as (
      insert into run_transitions (namespace, run_id, revision, from_status, to_status, actor, reason)
      select namespace, id, revision, 'scheduled', 'queued', 'timer', 'trigger time reached' from fired
    )
    select * from fired
  `.execute(db);
  return rows;
}

/** The earliest pending timer, if any. */
export async function nextWakeTime(db: Kysely<Database>): Promise<Date | undefined> {
  const row = await db
    .selectFrom("runs")
    .select((eb) => eb.fn.min("wake_time").as("next"))
    .where("wake_time", "is not", null)
    .where("status", "=", "scheduled")
    .executeTakeFirst();
  return (row?.next as Date | null) ?? undefined;
}
