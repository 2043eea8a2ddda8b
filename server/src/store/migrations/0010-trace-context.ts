import type { Kysely } from "kysely";

// Frozen once landed: later changes go in a new migration file.
// Tracing (docs/tracing.md): the W3C trace context a run continues, as its start carried it
// (or its parent's span for a child). Nullable and never indexed: it is only read with the run.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("runs").addColumn("traceparent", "text").addColumn("tracestate", "text").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("runs").dropColumn("traceparent").dropColumn("tracestate").execute();
}
