// The deployment of bench/trace.ts and bench/trace-event.ts: the bench's server and worker, each
// with bench/lib/trace-hook.mjs loaded to stamp the trace points of common/src/trace-point.ts on CLOCK_MONOTONIC (which every process on the machine shares), and
// the client's own points beside them.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Client } from "@aiki/sdk";
import { withAiki } from "./aiki.js";
import pg from "pg";
import { startBenchEnv } from "./bench-env.js";

export interface Point {
  ns: bigint;
  proc: string;
  name: string;
  detail?: string;
}

export interface TracedRun {
  /** Every point of every process, in time order. */
  points: Point[];
  /** The measured windows [start, end] the client marked. */
  windows: Array<[bigint, bigint]>;
  loadBefore: number;
  loadAfter: number;
}

/** What the client part gets: the SDK client, `mark` for its own points, `measured` for a window. */
export interface TraceClient {
  aiki: Client;
  now(): bigint;
  mark(name: string, ns?: bigint): bigint;
  measured(from: bigint, to: bigint): void;
}

export async function tracedRun(run: (t: TraceClient) => Promise<void>): Promise<TracedRun> {
  const hook = fileURLToPath(new URL("./trace-hook.mjs", import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), "aiki-trace-"));
  const now = () => process.hrtime.bigint();
  // TRACE_STATEMENTS=1: Postgres's own time per statement (pg_stat_statements) on stderr, to tell
  // a statement's execution from its commit, its round trip and the server's wait to see its end.
  const statements = process.env.TRACE_STATEMENTS === "1";
  const env = await startBenchEnv({ statements });
  const points: Point[] = [];
  const windows: Array<[bigint, bigint]> = [];
  const loadBefore = loadavg()[0]!;
  try {
    await withAiki(
      env,
      {
        serverNodeArgs: ["--import", hook],
        workerNodeArgs: ["--import", hook],
        serverEnv: { AIKI_TRACE_DIR: dir, AIKI_TRACE_PROCESS: "server" },
        workerEnv: { AIKI_TRACE_DIR: dir, AIKI_TRACE_PROCESS: "worker" },
      },
      async ({ client: aiki }) =>
        run({
          aiki,
          now,
          mark(name, ns = now()) {
            points.push({ ns, proc: "client", name });
            return ns;
          },
          measured: (from, to) => void windows.push([from, to]),
        }),
    );
    if (statements) await printStatements(env.databaseUrl);
  } finally {
    await env.close();
  }
  const loadAfter = loadavg()[0]!;
  for (const file of readdirSync(dir)) {
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      if (!line) continue;
      const p = JSON.parse(line) as { ns: string; proc: string; name: string; detail?: string };
      points.push({ ...p, ns: BigInt(p.ns) });
    }
  }
  rmSync(dir, { recursive: true, force: true });
  points.sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
  return { points, windows, loadBefore, loadAfter };
}

async function printStatements(databaseUrl: string): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ calls: string; plans: string; mean: number; plan: number; query: string }>(
      `select calls, plans, mean_exec_time as mean, mean_plan_time as plan, query from pg_stat_statements where calls >= 50 order by total_exec_time + total_plan_time desc limit 12`,
    );
    console.error("Postgres per statement (pg_stat_statements: mean execution, and planning when planned; commit and round trip not included):");
    for (const r of rows) {
      const planned = `${r.plan.toFixed(3).padStart(6)} ms plan ×${r.plans}`;
      console.error(
        `${String(r.calls).padStart(7)} calls ${r.mean.toFixed(3).padStart(7)} ms exec ${planned.padEnd(20)}  ${r.query.replace(/\s+/g, " ").slice(0, 90)}`,
      );
    }
    const wal = (
      await db.query<{
        wal_records: string;
        wal_fpi: string;
        wal_bytes: string;
        wal_sync: string;
        wal_sync_time: number;
        wal_write: string;
        wal_write_time: number;
      }>("select * from pg_stat_wal")
    ).rows[0]!;
    console.error(
      `WAL: ${wal.wal_records} records, ${wal.wal_fpi} full pages, ${wal.wal_bytes} bytes; ${wal.wal_sync} syncs, ${(wal.wal_sync_time / Number(wal.wal_sync)).toFixed(3)} ms each; ${wal.wal_write} writes, ${(wal.wal_write_time / Number(wal.wal_write)).toFixed(3)} ms each`,
    );
  } finally {
    await db.end();
  }
}
