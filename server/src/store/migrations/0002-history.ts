import { type Kysely, sql } from "kysely";

// Frozen once landed: later changes go in a new migration file.
// What a run records as it executes: task attempts, waits (sleeps, event waits, child waits),
// the children it started, the events sent to it; and the workers seen.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("runs").addColumn("failure_cause", "text").execute();

  await db.schema
    .createTable("tasks")
    .addColumn("namespace", "text", (c) => c.notNull().defaultTo("default"))
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("run_id", "uuid", (c) => c.notNull().references("runs.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("address", "text", (c) => c.notNull())
    .addColumn("sequence", "integer", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('running','awaiting_retry','completed','failed')`))
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("max_attempts", "integer", (c) => c.notNull())
    .addColumn("input", "jsonb")
    .addColumn("output", "jsonb")
    .addColumn("failure", "jsonb")
    .addColumn("next_attempt_time", "timestamptz")
    .addColumn("workflow_attempt", "integer", (c) => c.notNull())
    .addColumn("create_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("update_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint("tasks_run_address_sequence_key", ["run_id", "address", "sequence"])
    .execute();

  // One row per wait a run has made: kind 'sleep' (key = sleep name), 'event' (key = event
  // name), 'child' (key = child run id); sequence counts waits with the same key.
  await db.schema
    .createTable("run_waits")
    .addColumn("namespace", "text", (c) => c.notNull().defaultTo("default"))
    .addColumn("run_id", "uuid", (c) => c.notNull().references("runs.id").onDelete("cascade"))
    .addColumn("kind", "text", (c) => c.notNull().check(sql`kind in ('sleep','event','child')`))
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("sequence", "integer", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('waiting','completed','cancelled','received','timed_out','finished')`))
    .addColumn("duration_ms", "double precision")
    .addColumn("timeout_ms", "double precision")
    .addColumn("start_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    // When the sleep ends or the wait times out; null waits forever.
    .addColumn("deadline", "timestamptz")
    .addColumn("end_time", "timestamptz")
    .addColumn("event_id", "uuid")
    .addColumn("awaited_status", "text")
    .addColumn("child_status", "text")
    .addColumn("output", "jsonb")
    .addColumn("failure", "jsonb")
    .addPrimaryKeyConstraint("run_waits_pkey", ["run_id", "kind", "key", "sequence"])
    .execute();
  // Hot query: "is anyone waiting on this child?" when a child finishes.
  await db.schema
    .createIndex("run_waits_open_child_idx")
    .on("run_waits")
    .column("key")
    .where(sql.ref("kind"), "=", "child")
    .where(sql.ref("status"), "=", "waiting")
    .execute();

  await db.schema
    .createTable("child_runs")
    .addColumn("namespace", "text", (c) => c.notNull().defaultTo("default"))
    .addColumn("parent_run_id", "uuid", (c) => c.notNull().references("runs.id").onDelete("cascade"))
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("sequence", "integer", (c) => c.notNull())
    .addColumn("child_run_id", "uuid", (c) => c.notNull().references("runs.id"))
    .addColumn("workflow_name", "text", (c) => c.notNull())
    .addColumn("workflow_version_id", "text", (c) => c.notNull())
    .addColumn("create_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("child_runs_pkey", ["parent_run_id", "key", "sequence"])
    .execute();

  await db.schema
    .createTable("events")
    .addColumn("namespace", "text", (c) => c.notNull().defaultTo("default"))
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("run_id", "uuid", (c) => c.notNull().references("runs.id").onDelete("cascade"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("data", "jsonb")
    .addColumn("reference_id", "text")
    .addColumn("consume_time", "timestamptz")
    .addColumn("create_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex("events_reference_id_key")
    .on("events")
    .columns(["run_id", "name", "reference_id"])
    .unique()
    .where(sql.ref("reference_id"), "is not", null)
    .execute();
  // Hot query: the oldest unconsumed event of a name for a run (FIFO per name).
  await db.schema.createIndex("events_pending_idx").on("events").columns(["run_id", "name", "id"]).where(sql.ref("consume_time"), "is", null).execute();
  await db.schema.createIndex("events_run_idx").on("events").columns(["run_id", "id"]).execute();

  await db.schema
    .createTable("workers")
    .addColumn("namespace", "text", (c) => c.notNull().defaultTo("default"))
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("workflows", "jsonb", (c) => c.notNull())
    .addColumn("shards", "jsonb", (c) => c.notNull())
    .addColumn("last_seen_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema.createIndex("runs_lease_worker_idx").on("runs").column("lease_worker_id").where(sql.ref("lease_worker_id"), "is not", null).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const t of ["workers", "events", "child_runs", "run_waits", "tasks"]) await db.schema.dropTable(t).execute();
  await db.schema.alterTable("runs").dropColumn("failure_cause").execute();
}
