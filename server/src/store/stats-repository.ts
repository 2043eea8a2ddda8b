import { type Kysely, sql } from "kysely";
import type { RunStatus } from "../domain/run-status.js";
import type { Database } from "./database.js";

export interface RunCount {
  namespace: string;
  workflowName: string;
  status: RunStatus;
  count: number;
}

/** How many runs each workflow of each namespace has in each status: one grouped count. */
export async function countRunsByWorkflowAndStatus(db: Kysely<Database>): Promise<RunCount[]> {
  const rows = await db
    .selectFrom("runs")
    .select(["namespace", "workflow_name", "status", (eb) => eb.fn.countAll<string>().as("n")])
    .groupBy(["namespace", "workflow_name", "status"])
    .execute();
  return rows.map((r) => ({ namespace: r.namespace, workflowName: r.workflow_name, status: r.status, count: Number(r.n) }));
}

/** A round trip to the store; rejects when it cannot be reached. */
export async function pingStore(db: Kysely<Database>): Promise<void> {
  await sql`select 1`.execute(db);
}
