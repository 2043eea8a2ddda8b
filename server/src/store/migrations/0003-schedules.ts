import { type Kysely, sql } from "kysely";

// Frozen once landed: later changes go in a new migration file.
// Schedules: recurring starts of a workflow version, fired by the timer loop.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("schedules")
    .addColumn("namespace", "text", (c) => c.notNull().defaultTo("default"))
    // Derived from (namespace, name), or from the definition when unnamed: activation is idempotent.
    .addColumn("id", "uuid", (c) => c.primaryKey())
    // '' when unnamed.
    .addColumn("name", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("workflow_name", "text", (c) => c.notNull())
    .addColumn("workflow_version_id", "text", (c) => c.notNull())
    // { type: "cron", expression, timezone } | { type: "interval", everyMs }
    .addColumn("spec", "jsonb", (c) => c.notNull())
    .addColumn("overlap_policy", "text", (c) => c.notNull().check(sql`overlap_policy in ('allow','skip','cancel_previous')`))
    .addColumn("input", "jsonb")
    // '' means unsharded, as on runs.
    .addColumn("shard", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('active','paused')`))
    // The next occurrence to fire; null while paused (or when the spec has no further occurrence).
    .addColumn("next_time", "timestamptz")
    // The occurrence that last started a run, and that run.
    .addColumn("last_time", "timestamptz")
    .addColumn("last_run_id", "uuid")
    // sha256 of the stable JSON of (workflow, version, spec, overlap policy, input, shard).
    .addColumn("definition_hash", "text", (c) => c.notNull())
    .addColumn("create_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("update_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("revision", "integer", (c) => c.notNull().defaultTo(1))
    .execute();

  // Hot query: the timer loop claims due active schedules by next_time, and sleeps until the earliest.
  await db.schema.createIndex("schedules_next_time_idx").on("schedules").column("next_time").where(sql.ref("status"), "=", "active").execute();
  await db.schema.createIndex("schedules_list_idx").on("schedules").columns(["namespace", "workflow_name", "id"]).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("schedules").execute();
}
