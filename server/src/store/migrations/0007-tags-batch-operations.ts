import { type Kysely, sql } from "kysely";

// Frozen once landed: later changes go in a new migration file.
// Run tags (and the tags a schedule gives its runs), and durable batch operations.

export async function up(db: Kysely<unknown>): Promise<void> {
  // A constant default: Postgres adds the column without rewriting the table.
  await sql`alter table runs add column tags jsonb not null default '{}'::jsonb`.execute(db);
  // jsonb_path_ops: smaller and faster than the default operator class, and `@>` (every tag of
  // the filter present) is the only operator the filters use.
  await sql`create index runs_tags_idx on runs using gin (tags jsonb_path_ops)`.execute(db);
  await sql`alter table schedules add column tags jsonb not null default '{}'::jsonb`.execute(db);

  await db.schema
    .createTable("batch_operations")
    .addColumn("namespace", "text", (c) => c.notNull())
    .addColumn("id", "uuid", (c) => c.primaryKey())
    .addColumn("request_id", "text")
    // What the request was, so a repeat of the request id with another request is a conflict.
    .addColumn("request_hash", "text")
    .addColumn("status", "text", (c) => c.notNull().check(sql`status in ('running', 'completed', 'cancelled', 'failed')`))
    .addColumn("status_reason", "text")
    // The run filter (store/run-repository.ts RunFilter as JSON), or null with run_ids.
    .addColumn("filter", "jsonb")
    .addColumn("run_ids", sql`uuid[]`)
    .addColumn("action", "jsonb", (c) => c.notNull())
    .addColumn("rate", "integer", (c) => c.notNull())
    .addColumn("requested_by", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("matching", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("done", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("skipped", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("failed", "bigint", (c) => c.notNull().defaultTo(0))
    .addColumn("failures", "jsonb", (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    // The last run id gone through: the next page starts after it. Committed with the page's
    // transitions, so a replica taking over never acts on a run twice.
    .addColumn("cursor", "uuid")
    // Which replica works on it and until when; another one takes it over once this passes.
    .addColumn("lease_owner", "text")
    .addColumn("lease_expires_time", "timestamptz")
    .addColumn("create_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("update_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("end_time", "timestamptz")
    .execute();
  await sql`create unique index batch_operations_request_idx on batch_operations (namespace, request_id) where request_id is not null`.execute(db);
  await sql`create index batch_operations_list_idx on batch_operations (namespace, id desc)`.execute(db);
  // The loops' claim reads only running operations.
  await sql`create index batch_operations_running_idx on batch_operations (lease_expires_time) where status = 'running'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("batch_operations").execute();
  await sql`alter table schedules drop column tags`.execute(db);
  await sql`drop index runs_tags_idx`.execute(db);
  await sql`alter table runs drop column tags`.execute(db);
}
