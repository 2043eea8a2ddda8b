import { type Kysely, sql } from "kysely";

// Frozen once landed: later changes go in a new migration file.
// Rerun lineage (RunService.RerunRun): the run a rerun copied its history from, and where it
// went live. No foreign key on rerun_of: a source purged by retention leaves its reruns alone,
// and a delete of a run need not look for reruns pointing at it.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("runs")
    .addColumn("rerun_of", "uuid")
    // {"kind":"start"} | {"kind":"history_end"} | {"kind":"task","address":…,"sequence":…}, with
    // "lastFailure": true when asked as the last failure; null unless rerun_of is set.
    .addColumn("rerun_from_step", "jsonb")
    .execute();
  // ListRuns / CountRuns with rerun_of: the reruns of a run, without a scan.
  await db.schema.createIndex("runs_rerun_of_idx").on("runs").columns(["rerun_of", "id"]).where(sql.ref("rerun_of"), "is not", null).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex("runs_rerun_of_idx").execute();
  await db.schema.alterTable("runs").dropColumn("rerun_from_step").dropColumn("rerun_of").execute();
}
