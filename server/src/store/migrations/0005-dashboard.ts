import { type Kysely, sql } from "kysely";

// Frozen once landed: later changes go in a new migration file.
// The dashboard's reads: runs by schedule, by status and by reference (each newest first by id,
// which is creation order for UUIDv7 ids; created-time ranges use the primary key through id
// bounds, see run-repository.ts); and how a worker connects.

export async function up(db: Kysely<unknown>): Promise<void> {
  // The schedule that started the run; null for every other start.
  await db.schema.alterTable("runs").addColumn("schedule_id", "uuid").execute();
  // Runs fired before this column existed: their creating transition names the schedule.
  await sql`
    update runs r set schedule_id = substr(t.actor, 10)::uuid
    from run_transitions t
    where t.run_id = r.id and t.revision = 1 and t.actor ~ '^schedule:[0-9a-f-]{36}$'
  `.execute(db);
  await db.schema
    .createIndex("runs_schedule_idx")
    .on("runs")
    .columns(["namespace", "schedule_id", "id"])
    .where(sql.ref("schedule_id"), "is not", null)
    .execute();
  // Lists and counts by status (the dashboard's default views).
  await db.schema.createIndex("runs_status_idx").on("runs").columns(["namespace", "status", "id"]).execute();
  // Reference ids looked up without their workflow (the unique key leads with the workflow).
  await db.schema.createIndex("runs_reference_idx").on("runs").columns(["namespace", "reference_id"]).where(sql.ref("reference_id"), "is not", null).execute();

  // How the worker gets work ("session", "stream", "poll"; "" once its stream or session ended)
  // and when it was first seen.
  await db.schema
    .alterTable("workers")
    .addColumn("transport", "text", (c) => c.notNull().defaultTo(""))
    .execute();
  await db.schema
    .alterTable("workers")
    .addColumn("first_seen_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("workers").dropColumn("first_seen_time").dropColumn("transport").execute();
  await db.schema.dropIndex("runs_reference_idx").execute();
  await db.schema.dropIndex("runs_status_idx").execute();
  await db.schema.dropIndex("runs_schedule_idx").execute();
  await db.schema.alterTable("runs").dropColumn("schedule_id").execute();
}
