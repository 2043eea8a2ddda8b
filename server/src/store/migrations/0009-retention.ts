import { type Kysely, sql } from "kysely";

// Frozen once landed: later changes go in a new migration file.
// Retention (docs/retention.md): a run can be kept past the server's retention age, and the
// purge finds old finished top-level runs by end time without reading live ones.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("runs").addColumn("retain_until", "timestamptz").execute();
  // A column of its own rather than an 'infinity' time, which node-postgres reads as a number.
  await db.schema
    .alterTable("runs")
    .addColumn("retain_forever", "boolean", (c) => c.notNull().defaultTo(false))
    .execute();
  // Only finished top-level runs have an end time and no parent: live runs are not in it.
  await db.schema
    .createIndex("runs_purge_idx")
    .on("runs")
    .columns(["namespace", "end_time"])
    .where(sql.ref("parent_run_id"), "is", null)
    .where(sql.ref("end_time"), "is not", null)
    .execute();
  // Deleting a run checks child_runs.child_run_id (no cascade: a parent's history names its
  // children); without an index each deleted run would scan every child link.
  await db.schema.createIndex("child_runs_child_run_id_idx").on("child_runs").column("child_run_id").execute();
  // A purge deletes a whole tree in one statement. With NO ACTION, the check on a deleted child
  // can run before the cascade from its deleted parent has removed the links naming it, and fail;
  // cascading from the child too (and from a parent to its children) makes the order irrelevant.
  // Nothing else deletes runs, and the purge never deletes a tree that holds a live or kept run.
  await sql`alter table child_runs drop constraint child_runs_child_run_id_fkey,
    add constraint child_runs_child_run_id_fkey foreign key (child_run_id) references runs (id) on delete cascade`.execute(db);
  await sql`alter table runs drop constraint runs_parent_run_id_fkey,
    add constraint runs_parent_run_id_fkey foreign key (parent_run_id) references runs (id) on delete cascade`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table runs drop constraint runs_parent_run_id_fkey,
    add constraint runs_parent_run_id_fkey foreign key (parent_run_id) references runs (id)`.execute(db);
  await sql`alter table child_runs drop constraint child_runs_child_run_id_fkey,
    add constraint child_runs_child_run_id_fkey foreign key (child_run_id) references runs (id)`.execute(db);
  await db.schema.dropIndex("child_runs_child_run_id_idx").execute();
  await db.schema.dropIndex("runs_purge_idx").execute();
  await db.schema.alterTable("runs").dropColumn("retain_forever").dropColumn("retain_until").execute();
}
