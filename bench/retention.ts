// Retention (docs/retention.md), on durable Postgres and Redis (bench/lib/bench-env.ts), the server
// and the bench worker in their own processes:
//
// - bytes_per_run: the disk a finished W2-like run takes (its row, 3 transitions, 3 task records,
//   with their indexes), from pg_total_relation_size before and after seeding RET_N runs.
// - purge_s / purge_runs_per_s: the server's own sweep (AIKI_RETENTION_DAYS=30, swept every
//   second) deleting RET_N [1000000] runs that ended 40 days ago.
// - w2_p50_ms_before / w2_p50_ms_during (and p99): W2 (one three-task workflow at a time) measured
//   with the same server before the old runs exist and while the sweep purges them.
//
//   npx tsx bench/retention.ts        (JSON lines on stdout; a section prepended to bench/RESULTS.md)
import { cpus, totalmem } from "node:os";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Client } from "@aiki/sdk";
import type { Database } from "@aiki/server";
import { threeStepsV1 } from "./workflows.js";
import { startBenchEnv } from "./lib/bench-env.js";
import { expectReached, withAiki } from "./lib/aiki.js";
import { emit, envInt, type Figure, percentile } from "./lib/emit.js";
import { writeResults } from "./lib/results.js";

const n = envInt("RET_N", 1_000_000);
const chunk = 50_000;

const env = await startBenchEnv();
const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: env.databaseUrl, max: 2 }) }) });
const figures: Figure[] = [];
let failure: unknown;

async function w2Samples(client: Client, count: number, until?: () => boolean): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < count || (until && !until()); i++) {
    const t0 = performance.now();
    const handle = await threeStepsV1.start(client, { i });
    expectReached(await handle.waitForStatus("completed", { timeout: { seconds: 30 } }), `W2 run ${i}`);
    ms.push(performance.now() - t0);
  }
  return ms;
}

const sorted = (ms: number[]) => [...ms].sort((a, b) => a - b);

async function tableBytes(): Promise<number> {
  const { rows } = await sql<{ bytes: string }>`
    select sum(pg_total_relation_size(c))::bigint as bytes
    from unnest(array['runs', 'run_transitions', 'tasks']::regclass[]) as c`.execute(db);
  return Number(rows[0]!.bytes);
}

/** RET_N finished runs shaped like W2's (3 transitions, 3 completed tasks), ended 40 days ago. */
async function seedOldRuns(): Promise<void> {
  for (let from = 0; from < n; from += chunk) {
    const size = Math.min(chunk, n - from);
    await sql`
      with new_runs as (
        insert into runs (id, workflow_name, workflow_version_id, status, revision, input, output, create_time, update_time, start_time, end_time)
        select gen_random_uuid(), 'old-three-steps', '1.0.0', 'completed', 3, '{"i": 1}', '{"total": 6}',
               now() - interval '41 days', now() - interval '40 days', now() - interval '41 days', now() - interval '40 days'
        from generate_series(1, ${size})
        returning id
      ),
      transitions as (
        insert into run_transitions (run_id, revision, from_status, to_status, actor)
        select id, r.revision, r.from_status, r.to_status, 'bench'
        from new_runs, (values (1, null, 'queued'), (2, 'queued', 'running'), (3, 'running', 'completed')) as r(revision, from_status, to_status)
      )
      insert into tasks (id, run_id, name, address, sequence, status, attempts, max_attempts, input, output, workflow_attempt)
      select gen_random_uuid(), id, 'step-' || s, 'step-' || s || ':0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef', 0,
             'completed', 1, 3, '{"n": 1}', '{"n": 2}', 1
      from new_runs, generate_series(1, 3) as s`.execute(db);
  }
  await sql`analyze runs`.execute(db);
}

try {
  const bytesBefore = await tableBytes();
  const seedStart = performance.now();
  await seedOldRuns();
  const seedMs = performance.now() - seedStart;
  const bytesPerRun = ((await tableBytes()) - bytesBefore) / n;
  figures.push(emit("RET", "bytes_per_run", bytesPerRun, { n, seed_s: Math.round(seedMs / 100) / 10 }, 0));

  // The sweep rests the first second; W2 "before" runs on a server whose retention is off.
  const before = await withAiki(env, { serverEnv: { AIKI_RETENTION_DAYS: "0" } }, ({ client }) => w2Samples(client, 220));
  const warm = sorted(before.slice(20));
  figures.push(emit("RET", "w2_p50_ms_before", percentile(warm, 50)), emit("RET", "w2_p99_ms_before", percentile(warm, 99)));

  const oldLeft = async () => Number((await sql<{ n: string }>`select count(*) as n from runs where workflow_name = 'old-three-steps'`.execute(db)).rows[0]!.n);
  await withAiki(env, { serverEnv: { AIKI_RETENTION_DAYS: "30", AIKI_RETENTION_SWEEP_MS: "1000" }, deadlineMs: 60 * 60_000 }, async ({ client }) => {
    const t0 = performance.now();
    let done = false;
    let purgeMs = 0;
    const watcher = (async () => {
      while ((await oldLeft()) > 0) await new Promise((resolve) => setTimeout(resolve, 250));
      purgeMs = performance.now() - t0;
      done = true;
    })();
    const during = sorted(await w2Samples(client, 0, () => done));
    await watcher;
    figures.push(
      emit("RET", "purge_s", purgeMs / 1000, { n }),
      emit("RET", "purge_runs_per_s", n / (purgeMs / 1000), { n }, 0),
      emit("RET", "w2_p50_ms_during", percentile(during, 50), { samples: during.length }),
      emit("RET", "w2_p99_ms_during", percentile(during, 99), { samples: during.length }),
    );
  });
} catch (error) {
  failure = error;
} finally {
  await db.destroy();
  await env.close();
}
if (failure) throw failure;
writeResults({
  machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  command: `RET_N=${n} npx tsx bench/retention.ts`,
  notes: [
    "deployment: server and bench worker in their own Node processes, durable Postgres and Redis: all on these cores",
    "runs seeded as W2's finished runs (3 transitions, 3 task records with small JSON), ended 40 days ago; the server's sweep (AIKI_RETENTION_DAYS=30, AIKI_RETENTION_SWEEP_MS=1000) purges them in one-statement batches of 200, resting as long as each batch took; W2 one workflow at a time throughout",
  ],
  rounds: [figures],
});
