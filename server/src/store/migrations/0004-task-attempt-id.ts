import type { Kysely } from "kysely";

// Frozen once landed: later changes go in a new migration file.
// The id of a task's current attempt, so a StartTask retried after a lost answer is idempotent.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("tasks").addColumn("attempt_id", "text").execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable("tasks").dropColumn("attempt_id").execute();
}
