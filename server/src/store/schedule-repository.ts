import { type Kysely, sql, type Transaction, type Updateable } from "kysely";
import type { Database } from "./database.js";
import type { RunRow } from "./runs.table.js";
import type { NewScheduleRow, ScheduleRow, SchedulesTable } from "./schedules.table.js";

type Reader = Kysely<Database>;
type Trx = Transaction<Database>;

/** The database clock: due times are computed on it, the one clock every replica shares. */
export async function databaseNow(db: Reader): Promise<Date> {
  const { rows } = await sql<{ now: Date }>`select now() as now`.execute(db);
  return rows[0]!.now;
}

export async function insertSchedule(trx: Trx, row: NewScheduleRow): Promise<ScheduleRow> {
  return trx.insertInto("schedules").values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findSchedule(db: Reader, namespace: string, id: string): Promise<ScheduleRow | undefined> {
  return db.selectFrom("schedules").selectAll().where("namespace", "=", namespace).where("id", "=", id).executeTakeFirst();
}

/** The schedule, locked until the transaction ends (waits for a firing in progress). */
export async function findScheduleForUpdate(trx: Trx, namespace: string, id: string): Promise<ScheduleRow | undefined> {
  return trx.selectFrom("schedules").selectAll().where("namespace", "=", namespace).where("id", "=", id).forUpdate().executeTakeFirst();
}

/**
 * Updates a schedule the caller has locked, bumping its revision. Returns undefined when the
 * revision moved on since the caller read it (cannot happen under the caller's lock).
 */
export async function updateSchedule(
  trx: Trx,
  guard: Pick<ScheduleRow, "namespace" | "id" | "revision">,
  changes: Omit<Updateable<SchedulesTable>, "revision" | "update_time">,
): Promise<ScheduleRow | undefined> {
  return trx
    .updateTable("schedules")
    .set({ ...changes, revision: guard.revision + 1, update_time: sql<Date>`now()` })
    .where("namespace", "=", guard.namespace)
    .where("id", "=", guard.id)
    .where("revision", "=", guard.revision)
    .returningAll()
    .executeTakeFirst();
}

/** Whether a schedule was deleted (false: there was none). */
export async function deleteSchedule(db: Reader, namespace: string, id: string): Promise<boolean> {
  const row = await db.deleteFrom("schedules").where("namespace", "=", namespace).where("id", "=", id).returning("id").executeTakeFirst();
  return row !== undefined;
}

/** Schedules ordered by id; a page token is the last id seen. */
export async function listSchedules(
  db: Reader,
  namespace: string,
  filter: { workflowName?: string | undefined },
  page: { limit: number; afterId?: string | undefined },
): Promise<ScheduleRow[]> {
  let q = db.selectFrom("schedules").selectAll().where("namespace", "=", namespace);
  if (filter.workflowName) q = q.where("workflow_name", "=", filter.workflowName);
  if (page.afterId) q = q.where("id", ">", page.afterId);
  return q.orderBy("id", "asc").limit(page.limit).execute();
}

/**
 * Claims the most overdue active schedule (any namespace), locked for the caller's transaction;
 * SKIP LOCKED, so replicas fire different schedules and never the same one twice. `exclude`
 * holds schedules that failed to fire in this pass. Also returns the database clock.
 */
export async function claimDueSchedule(trx: Trx, exclude: readonly string[]): Promise<{ schedule: ScheduleRow; now: Date } | undefined> {
  let q = trx
    .selectFrom("schedules")
    .selectAll()
    .select(sql<Date>`now()`.as("db_now"))
    .where("status", "=", "active")
    .where("next_time", "<=", sql<Date>`now()`);
  if (exclude.length > 0) q = q.where("id", "not in", exclude);
  const row = await q.orderBy("next_time").limit(1).forUpdate().skipLocked().executeTakeFirst();
  if (!row) return undefined;
  const { db_now, ...schedule } = row;
  return { schedule, now: db_now };
}

/** A run, locked for the caller's transaction (before a guarded transition on it). */
export async function lockRun(trx: Trx, namespace: string, id: string): Promise<RunRow | undefined> {
  return trx.selectFrom("runs").selectAll().where("namespace", "=", namespace).where("id", "=", id).forUpdate().executeTakeFirst();
}
