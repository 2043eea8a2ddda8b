import type { Kysely, Transaction } from "kysely";
import type { Database } from "./database.js";
import type { ChildRunRow } from "./child-runs.table.js";

export async function findChildRecord(trx: Transaction<Database>, parentRunId: string, key: string, sequence: number): Promise<ChildRunRow | undefined> {
  return trx
    .selectFrom("child_runs")
    .selectAll()
    .where("parent_run_id", "=", parentRunId)
    .where("key", "=", key)
    .where("sequence", "=", sequence)
    .executeTakeFirst();
}

export async function insertChildRecord(trx: Transaction<Database>, row: Omit<ChildRunRow, "create_time">): Promise<void> {
  await trx.insertInto("child_runs").values(row).execute();
}

export async function listChildRecords(db: Kysely<Database>, parentRunIds: readonly string[]): Promise<ChildRunRow[]> {
  if (parentRunIds.length === 0) return [];
  return db.selectFrom("child_runs").selectAll().where("parent_run_id", "in", parentRunIds).orderBy("create_time").execute();
}

/** Whether a run holds a child start record for this child run (its own child, or one a rerun copied). */
export async function hasChildRecordFor(trx: Transaction<Database>, parentRunId: string, childRunId: string): Promise<boolean> {
  const row = await trx
    .selectFrom("child_runs")
    .select("child_run_id")
    .where("parent_run_id", "=", parentRunId)
    .where("child_run_id", "=", childRunId)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
