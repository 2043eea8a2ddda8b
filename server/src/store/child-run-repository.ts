import type { Kysely, Transaction } from "kysely";
import type { Database } from "./database.js";
import type { ChildRunRow } from "./child-runs.table.js";

export async function findChildRecord(
  trx: Transaction<Database>,
  parentRunId: string,
  key: string,
  sequence: number,
): Promise<ChildRunRow | undefined> {
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
