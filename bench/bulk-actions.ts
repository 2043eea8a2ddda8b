// Bulk actions per second (issue 17): BULK_RUNS [100000] queued runs, all tagged, seeded through
// the store's batch start (test/support/seed-tagged-runs.ts); then one batch operation pauses them all, one resumes them, one
// cancels them, each at the highest rate, on one server process with durable Postgres and Redis.
// Prints one JSON line per figure (runs per second of each action, from the start call to the
// operation's end) and one with the seeding time. Not a timed test: `npx tsx bench/bulk-actions.ts`.
// BULK_PAGE_SIZE [1000]: runs per page (one transaction).
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type BatchOperation, BatchOperationStatus, BatchService } from "@aiki/gen/aiki/v1/batch_service_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { BatchActionSchema } from "@aiki/gen/aiki/v1/batch_service_pb";
import type { Database } from "@aiki/server";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { seedTaggedRuns } from "../test/support/seed-tagged-runs.js";
import { startServerProcess } from "../test/support/server-process.js";
import { startBenchEnv } from "./lib/bench-env.js";
import { cpus, totalmem } from "node:os";
import { emit, envInt, type Figure } from "./lib/emit.js";
import { writeResults } from "./lib/results.js";

const runs = envInt("BULK_RUNS", 100_000);
const pageSize = envInt("BULK_PAGE_SIZE", 1000);
const maxRate = 1_000_000;

const env = await startBenchEnv();
const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: env.databaseUrl, max: 2 }) }) });
const server = await startServerProcess({
  DATABASE_URL: env.databaseUrl,
  REDIS_URL: env.redisUrl,
  AIKI_BATCH_MAX_RATE: String(maxRate),
  AIKI_BATCH_PAGE_SIZE: String(pageSize),
});
const figures: Figure[] = [];
try {
  const transport = createGrpcTransport({ baseUrl: server.url });
  const seedStart = performance.now();
  await seedTaggedRuns(db, runs, "bench-bulk", { bench: "bulk" });
  const params = { runs, page_size: pageSize };
  figures.push(emit("BULK", "seed_runs_per_s", runs / ((performance.now() - seedStart) / 1000), params, 0));

  const batches = createClient(BatchService, transport);
  const measure = async (name: string, action: MessageInitShape<typeof BatchActionSchema>) => {
    const started = performance.now();
    const { operation } = await batches.startBatchOperation({
      selection: { case: "filter", value: { tags: { bench: "bulk" } } },
      action,
      rate: maxRate,
    });
    let op: BatchOperation = operation!;
    while (op.status === BatchOperationStatus.RUNNING) {
      await new Promise((r) => setTimeout(r, 100));
      op = (await batches.getBatchOperation({ operationId: op.id })).operation!;
    }
    const seconds = (performance.now() - started) / 1000;
    if (op.status !== BatchOperationStatus.COMPLETED || op.done !== BigInt(runs)) {
      throw new Error(`${name}: ${BatchOperationStatus[op.status]} with ${op.done} done, ${op.skipped} skipped, ${op.failed} failed`);
    }
    figures.push(emit("BULK", `${name}_runs_per_s`, runs / seconds, params, 0));
  };
  await measure("pause", { action: { case: "pause", value: {} } });
  await measure("resume", { action: { case: "resume", value: {} } });
  await measure("cancel", { action: { case: "cancel", value: { reason: "bench" } } });
} finally {
  await server.stop();
  await db.destroy();
  await env.close();
}
writeResults({
  machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  command: `BULK_RUNS=${runs} BULK_PAGE_SIZE=${pageSize} npx tsx bench/bulk-actions.ts`,
  notes: [
    "deployment: one server process, durable Postgres and Redis, all on these cores; runs seeded queued and tagged through the store's batch start",
    "each figure: one batch operation selecting every run by tag at the highest rate, from the start call to the operation's end (polled every 100 ms)",
  ],
  rounds: [figures],
});
