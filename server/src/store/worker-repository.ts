import { type Kysely, sql } from "kysely";
import type { Database } from "./database.js";
import type { WorkerRow } from "./workers.table.js";
import { jsonb } from "./json.js";

/** How a worker gets work. */
export type WorkerTransport = "session" | "stream" | "poll";

export async function upsertWorker(
  db: Kysely<Database>,
  w: {
    namespace: string;
    id: string;
    name: string;
    workflows: Array<{ workflowName: string; workflowVersionId: string }>;
    shards: string[];
    transport: WorkerTransport;
  },
): Promise<void> {
  // first_seen_time keeps its insert default: a worker id names one process of a worker.
  await db
    .insertInto("workers")
    .values({ namespace: w.namespace, id: w.id, name: w.name, workflows: jsonb(w.workflows), shards: jsonb(w.shards), transport: w.transport })
    .onConflict((oc) =>
      oc.column("id").doUpdateSet({
        namespace: w.namespace,
        name: w.name,
        workflows: jsonb(w.workflows),
        shards: jsonb(w.shards),
        transport: w.transport,
        last_seen_time: sql<Date>`now()`,
      }),
    )
    .execute();
}

/** A worker's stream or session ended; changes nothing when another transport registered since. */
export async function clearWorkerTransport(db: Kysely<Database>, namespace: string, id: string, transport: WorkerTransport): Promise<void> {
  await db.updateTable("workers").set({ transport: "" }).where("namespace", "=", namespace).where("id", "=", id).where("transport", "=", transport).execute();
}

export async function touchWorker(db: Kysely<Database>, namespace: string, id: string): Promise<void> {
  await db.updateTable("workers").set({ last_seen_time: sql<Date>`now()` }).where("namespace", "=", namespace).where("id", "=", id).execute();
}

/** Workers seen within `withinMs`, with the runs they hold leases on (never the lease tokens). */
export async function listRecentWorkers(db: Kysely<Database>, namespace: string, withinMs: number): Promise<Array<WorkerRow & { leasedRunIds: string[] }>> {
  const workers = await db
    .selectFrom("workers")
    .selectAll()
    .where("namespace", "=", namespace)
    .where("last_seen_time", ">", sql<Date>`now() - make_interval(secs => ${withinMs / 1000})`)
    .orderBy("name")
    .orderBy("id")
    .execute();
  if (workers.length === 0) return [];
  const leases = await db
    .selectFrom("runs")
    .select(["id", "lease_worker_id"])
    .where("namespace", "=", namespace)
    .where("status", "=", "running")
    .where(
      "lease_worker_id",
      "in",
      workers.map((w) => w.id),
    )
    .execute();
  return workers.map((w) => ({
    ...w,
    leasedRunIds: leases.filter((l) => l.lease_worker_id === w.id).map((l) => l.id),
  }));
}
