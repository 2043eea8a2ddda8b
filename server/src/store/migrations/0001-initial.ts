import { type Kysely, sql } from "kysely";

// Frozen once landed: later changes go in a new migration file.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("runs")
    .addColumn("namespace", "text", (c) => c.notNull().defaultTo("default"))
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("workflow_name", "text", (c) => c.notNull())
    .addColumn("workflow_version_id", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) =>
      c
        .notNull()
        .check(
          sql`status in ('scheduled','queued','running','paused','sleeping','awaiting_event','awaiting_retry','awaiting_child_workflow','completed','failed','cancelled')`,
        ),
    )
    .addColumn("revision", "integer", (c) => c.notNull())
    .addColumn("input", "jsonb")
    .addColumn("output", "jsonb")
    .addColumn("failure", "jsonb")
    .addColumn("status_reason", "text")
    // '' means unsharded, so "ready runs for these shards" is a plain equality/ANY match.
    .addColumn("shard", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("reference_id", "text")
    .addColumn("parent_run_id", "uuid", (c) => c.references("runs.id"))
    .addColumn("retry_policy", "jsonb")
    .addColumn("attempt", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("start_request_id", "text")
    .addColumn("start_request_hash", "text")
    .addColumn("wake_time", "timestamptz")
    .addColumn("lease_token", "uuid")
    .addColumn("lease_worker_id", "text")
    .addColumn("lease_expires_time", "timestamptz")
    .addColumn("create_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("update_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("start_time", "timestamptz")
    .addColumn("end_time", "timestamptz")
    .execute();

  await db.schema
    .createIndex("runs_reference_id_key")
    .on("runs")
    .columns(["namespace", "workflow_name", "workflow_version_id", "reference_id"])
    .unique()
    .where(sql.ref("reference_id"), "is not", null)
    .execute();
  await db.schema
    .createIndex("runs_start_request_id_key")
    .on("runs")
    .columns(["namespace", "start_request_id"])
    .unique()
    .where(sql.ref("start_request_id"), "is not", null)
    .execute();
  // Hot query: claim the oldest queued runs of a workflow version on given shards.
  await db.schema
    .createIndex("runs_ready_idx")
    .on("runs")
    .columns(["namespace", "workflow_name", "workflow_version_id", "shard", "create_time"])
    .where(sql.ref("status"), "=", "queued")
    .execute();
  // Hot query: timers that are due, ordered by wake time.
  await db.schema.createIndex("runs_wake_time_idx").on("runs").column("wake_time").where(sql.ref("wake_time"), "is not", null).execute();
  // Hot query: expired leases.
  await db.schema
    .createIndex("runs_lease_expires_time_idx")
    .on("runs")
    .column("lease_expires_time")
    .where(sql.ref("lease_expires_time"), "is not", null)
    .execute();
  await db.schema.createIndex("runs_list_idx").on("runs").columns(["namespace", "workflow_name", "id"]).execute();
  await db.schema.createIndex("runs_parent_run_id_idx").on("runs").column("parent_run_id").execute();

  await db.schema
    .createTable("run_transitions")
    .addColumn("namespace", "text", (c) => c.notNull().defaultTo("default"))
    .addColumn("run_id", "uuid", (c) => c.notNull().references("runs.id").onDelete("cascade"))
    .addColumn("revision", "integer", (c) => c.notNull())
    .addColumn("from_status", "text")
    .addColumn("to_status", "text", (c) => c.notNull())
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint("run_transitions_pkey", ["run_id", "revision"])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("run_transitions").execute();
  await db.schema.dropTable("runs").execute();
}
