// npx tsx bench/profile.ts: where the hot path goes, for W1 (throughput) and W2 (latency).
//
// For each: RPCs per workflow by method (the server's aiki_rpc_requests_total, with its mean
// server-side time from aiki_rpc_duration_seconds), SQL statements per workflow
// (pg_stat_statements, loaded on this profiling Postgres only), commits and WAL fsyncs per
// workflow (pg_stat_database, pg_stat_wal; read after the server has stopped, so every backend
// has flushed its counters), CPU per workflow of each process (server, worker, the bench's
// client, Postgres, Redis; from /proc), and a CPU profile of the server and of the worker
// (node --cpu-prof) restricted to the workload's window. Prints markdown and writes
// bench/PROFILE.md. PROFILE_N [1000] workflows for W1, PROFILE_R [50] for W2.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { postgresPid } from "../test/support/servers.js";
import type { Aiki, AikiOptions } from "./lib/aiki.js";
import { type BenchEnv, startBenchEnv } from "./lib/bench-env.js";
import { summarizeProfile } from "./lib/cpu-profile.js";
import { envInt, type Figure } from "./lib/emit.js";
import { RoundContext } from "./lib/round.js";
import { w1 } from "./w1-throughput.js";
import { w2 } from "./w2-latency.js";

const n = envInt("PROFILE_N", 1000);
const r = envInt("PROFILE_R", 50);
const out: string[] = [];
const say = (line = "") => {
  out.push(line);
  console.log(line);
};

// ---------------------------------------------------------------- snapshots

const ticksMs = 10; // CLK_TCK = 100 on Linux

/** Involuntary context switches (preempted by another process: the machine is short of cores). */
function preemptions(pid: number): number {
  try {
    return Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** System (kernel) CPU time of a process, ms. */
function sysMs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[12]) * ticksMs;
  } catch {
    return 0;
  }
}

function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * ticksMs;
  } catch {
    return 0;
  }
}

/** CPU of the postmaster and every backend it forked (those alive now). */
function postgresCpuMs(env: BenchEnv): number {
  const master = postgresPid(env.pg);
  if (master === null) return 0;
  let total = cpuMs(master);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = readFileSync(`/proc/${entry}/stat`, "utf8").split(") ")[1]!.split(" ");
      if (Number(fields[1]) === master) total += cpuMs(Number(entry));
    } catch {
      // gone
    }
  }
  return total;
}

interface RpcStats {
  /** method → [count, total seconds] */
  byMethod: Map<string, { count: number; seconds: number }>;
}

async function scrapeRpcs(url: string): Promise<RpcStats> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const byMethod = new Map<string, { count: number; seconds: number }>();
  for (const line of text.split("\n")) {
    const count = /^aiki_rpc_requests_total\{([^}]*)\} (\S+)/.exec(line);
    const sum = /^aiki_rpc_duration_seconds_sum\{([^}]*)\} (\S+)/.exec(line);
    const m = count ?? sum;
    if (!m) continue;
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const key = `${labels.service?.replace(/^aiki\.v1\./, "")}/${labels.method}${labels.code && labels.code !== "OK" ? ` (${labels.code})` : ""}`;
    const entry = byMethod.get(key) ?? { count: 0, seconds: 0 };
    if (count) entry.count += Number(m[2]);
    else entry.seconds += Number(m[2]);
    byMethod.set(key, entry);
  }
  return { byMethod };
}

async function pgCounters(env: BenchEnv): Promise<Record<string, number>> {
  const c = new pg.Client({ connectionString: env.databaseUrl });
  await c.connect();
  try {
    const db = (
      await c.query(`select xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted from pg_stat_database where datname = current_database()`)
    ).rows[0];
    const wal = (await c.query(`select wal_records, wal_bytes, wal_write, wal_sync from pg_stat_wal`)).rows[0];
    return Object.fromEntries(Object.entries({ ...db, ...wal }).map(([k, v]) => [k, Number(v)]));
  } finally {
    await c.end();
  }
}

async function resetStatements(env: BenchEnv): Promise<void> {
  const c = new pg.Client({ connectionString: env.databaseUrl });
  await c.connect();
  await c.query("select pg_stat_statements_reset()");
  await c.end();
}

async function readStatements(env: BenchEnv): Promise<Array<{ query: string; calls: number; totalMs: number; rows: number }>> {
  const c = new pg.Client({ connectionString: env.databaseUrl });
  await c.connect();
  try {
    const { rows } = await c.query(
      `select query, calls, total_exec_time, rows from pg_stat_statements
       where dbid = (select oid from pg_database where datname = current_database())
         and query not ilike '%pg_stat%' order by calls desc`,
    );
    return rows.map((row: { query: string; calls: string; total_exec_time: number; rows: string }) => ({
      query: row.query,
      calls: Number(row.calls),
      totalMs: row.total_exec_time,
      rows: Number(row.rows),
    }));
  } finally {
    await c.end();
  }
}

// ---------------------------------------------------------------- one profiled workload

interface Profiled {
  label: string;
  workflows: number;
  figures: Figure[];
  rpcs: Map<string, { count: number; seconds: number }>;
  statements: Awaited<ReturnType<typeof readStatements>>;
  pg: Record<string, number>;
  cpu: Record<string, number>;
  wallMs: number;
  profiles: { server?: string; worker?: string; windowUs: [number, number] };
}

async function profiled(
  env: BenchEnv,
  label: string,
  workflows: number,
  run: (options: AikiOptions) => Promise<Figure[]>,
  cpuProfile: boolean,
): Promise<Profiled> {
  const profDir = mkdtempSync(join(tmpdir(), "aiki-bench-prof-"));
  const profArgs = (who: string) => (cpuProfile ? ["--cpu-prof", "--cpu-prof-dir", join(profDir, who)] : []);
  let before: { rpcs: RpcStats; cpu: Record<string, number>; t: number; mono: number } | undefined;
  let after: typeof before;
  let pids: { server: number; worker: number } | undefined;
  const cpuNow = (aiki: Aiki) => ({
    server: cpuMs(aiki.server.pid),
    worker: cpuMs(aiki.worker.pid),
    "bench client": cpuMs(process.pid),
    postgres: postgresCpuMs(env),
    redis: cpuMs(env.redis.pid),
    "server (kernel part)": sysMs(aiki.server.pid),
    "worker (kernel part)": sysMs(aiki.worker.pid),
    "server preemptions": preemptions(aiki.server.pid),
    "worker preemptions": preemptions(aiki.worker.pid),
  });
  const pgBefore = await pgCounters(env);
  const figures = await run({
    serverNodeArgs: profArgs("server"),
    workerNodeArgs: profArgs("worker"),
    onReady: async (aiki) => {
      pids = { server: aiki.server.pid, worker: aiki.worker.pid };
      await resetStatements(env);
      before = { rpcs: await scrapeRpcs(aiki.url), cpu: cpuNow(aiki), t: performance.now(), mono: Number(process.hrtime.bigint() / 1000n) };
    },
    onDone: async (aiki) => {
      after = { rpcs: await scrapeRpcs(aiki.url), cpu: cpuNow(aiki), t: performance.now(), mono: Number(process.hrtime.bigint() / 1000n) };
    },
  });
  // The server has stopped: its backends exited and flushed their statistics.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const pgAfter = await pgCounters(env);
  const statements = await readStatements(env);
  const rpcs = new Map<string, { count: number; seconds: number }>();
  for (const [k, v] of after!.rpcs.byMethod) {
    const b = before!.rpcs.byMethod.get(k) ?? { count: 0, seconds: 0 };
    if (v.count - b.count > 0) rpcs.set(k, { count: v.count - b.count, seconds: v.seconds - b.seconds });
  }
  const b = before!;
  const cpu = Object.fromEntries(Object.entries(after!.cpu).map(([k, v]) => [k, v - (b.cpu[k as keyof typeof b.cpu] ?? 0)]));
  const pgDelta = Object.fromEntries(Object.entries(pgAfter).map(([k, v]) => [k, v - (pgBefore[k] ?? 0)]));
  const find = (who: "server" | "worker") => {
    if (!cpuProfile || !pids) return undefined;
    const dir = join(profDir, who);
    const files = readdirSync(dir).filter((f) => f.includes(`.${pids![who]}.0.`));
    return files[0] ? join(dir, files[0]) : undefined;
  };
  const result: Profiled = {
    label,
    workflows,
    figures,
    rpcs,
    statements,
    pg: pgDelta,
    cpu,
    wallMs: after!.t - before!.t,
    profiles: { server: find("server"), worker: find("worker"), windowUs: [before!.mono, after!.mono] },
  };
  // PROFILE_KEEP=1 keeps the .cpuprofile files (for DevTools, or bench/lib/cpu-profile.ts) and says where.
  if (process.env.PROFILE_KEEP === "1") console.error(`${label}: CPU profiles kept in ${profDir}`);
  else process.once("exit", () => rmSync(profDir, { recursive: true, force: true }));
  return result;
}

// ---------------------------------------------------------------- report

const f1 = (x: number) => (Math.round(x * 10) / 10).toString();
const f2 = (x: number) => (Math.round(x * 100) / 100).toString();

function report(p: Profiled): void {
  const per = (x: number) => x / p.workflows;
  say(`## ${p.label}`);
  say();
  say(`Figures: ${p.figures.map((f) => `${f.metric} = ${f.value}`).join(", ")}. Window ${f1(p.wallMs / 1000)} s, ${p.workflows} workflows.`);
  say();
  const totalRpcs = [...p.rpcs.values()].reduce((a, b) => a + b.count, 0);
  say(`### RPCs per workflow: ${f2(per(totalRpcs))}`);
  say();
  say("| rpc | per workflow | mean server time (ms) |");
  say("|---|---|---|");
  for (const [k, v] of [...p.rpcs.entries()].sort((a, b) => b[1].count - a[1].count)) {
    say(`| ${k} | ${f2(per(v.count))} | ${f2((v.seconds / v.count) * 1000)} |`);
  }
  say();
  const stmtCalls = p.statements.reduce((a, s) => a + s.calls, 0);
  const nonTx = p.statements.filter((s) => !/^(begin|commit|rollback)/i.test(s.query.trim()));
  const commitStmts = p.statements.filter((s) => /^commit/i.test(s.query.trim())).reduce((a, s) => a + s.calls, 0);
  const dbMs = p.statements.reduce((a, s) => a + s.totalMs, 0);
  say(
    `### Postgres per workflow: ${f2(per(stmtCalls))} statements (${f2(per(nonTx.reduce((a, s) => a + s.calls, 0)))} besides BEGIN/COMMIT), ` +
      `${f2(per(p.pg.xact_commit ?? 0))} commits (${f2(per(commitStmts))} explicit COMMITs), ${f2(per(p.pg.wal_sync ?? 0))} WAL fsyncs, ` +
      `${f2(per(p.pg.wal_records ?? 0))} WAL records, ${f1(per(p.pg.wal_bytes ?? 0))} WAL bytes, ${f2(per(dbMs))} ms statement execution time`,
  );
  say();
  say("| statement | per workflow | mean ms |");
  say("|---|---|---|");
  for (const s of p.statements.slice(0, 25)) {
    const q = s.query.replace(/\s+/g, " ").trim();
    say(`| \`${q.length > 150 ? `${q.slice(0, 150)}…` : q}\` | ${f2(per(s.calls))} | ${f2(s.totalMs / s.calls)} |`);
  }
  say();
  const processes = Object.entries(p.cpu).filter(([k]) => !k.includes("(") && !k.includes("preemptions"));
  const cpuTotal = processes.reduce((a, [, v]) => a + v, 0);
  say(`### CPU per workflow: ${f2(per(cpuTotal))} ms in all (machine: 2 cores → at most ${f1(2000 / per(cpuTotal))} workflows/s if CPU were the only limit)`);
  say();
  say("| process | CPU ms per workflow | share | cores busy (avg) |");
  say("|---|---|---|---|");
  for (const [k, v] of processes.sort((a, b) => b[1] - a[1])) {
    say(`| ${k} | ${f2(per(v))} | ${Math.round((v / cpuTotal) * 100)}% | ${f2(v / p.wallMs)} |`);
  }
  say();
  say(
    `Kernel part: server ${f2(per(p.cpu["server (kernel part)"] ?? 0))} ms, worker ${f2(per(p.cpu["worker (kernel part)"] ?? 0))} ms per workflow. ` +
      `Involuntary context switches (preempted for another process): server ${f2(per(p.cpu["server preemptions"] ?? 0))}, worker ${f2(per(p.cpu["worker preemptions"] ?? 0))} per workflow.`,
  );
  say();
  for (const who of ["server", "worker"] as const) {
    const file = p.profiles[who];
    if (!file) continue;
    const s = summarizeProfile(file, {
      top: 30,
      window: p.profiles.windowUs,
      inclusive: [
        "startRun",
        "pollLeases",
        "claimReadyRuns",
        "startTask",
        "completeTask",
        "completeRun",
        "waitForRunStatus",
        "requireLease",
        "loadHistories",
        "runToPb",
        "historyToPb",
        "publishRunChange",
        "errorsAndLogs",
        "executeQuery",
        "compileQuery",
        "query",
        "rpcFinished",
      ],
    });
    say(`### ${who} CPU profile (window of the workload: ${f1(s.busyMs)} ms busy of ${f1(s.totalMs)} ms; ${f2(s.busyMs / p.workflows)} ms per workflow)`);
    say();
    say("By area (self time):");
    say();
    say("| area | ms | share of busy |");
    say("|---|---|---|");
    for (const a of s.areas.slice(0, 14)) say(`| ${a.area} | ${f1(a.selfMs)} | ${Math.round((a.selfMs / s.busyMs) * 100)}% |`);
    say();
    say("Top functions (self time):");
    say();
    say("| function | where | ms | share of busy |");
    say("|---|---|---|---|");
    for (const fn of s.functions.slice(0, 25)) say(`| ${fn.name} | ${fn.where} | ${f1(fn.selfMs)} | ${Math.round((fn.selfMs / s.busyMs) * 100)}% |`);
    say();
    if (s.inclusive.length > 0) {
      say("Inclusive time of named frames (synchronous part only: time spent awaiting is not on the stack):");
      say();
      say("| frame | ms | share of busy |");
      say("|---|---|---|");
      for (const i of s.inclusive) say(`| ${i.name} | ${f1(i.totalMs)} | ${Math.round((i.totalMs / s.busyMs) * 100)}% |`);
      say();
    }
  }
}

// ---------------------------------------------------------------- main

const env = await startBenchEnv({ statements: true });
const results: Profiled[] = [];
try {
  process.env.W1_N = String(n);
  results.push(await profiled(env, `W1 throughput (N=${n}, counted and CPU-profiled)`, n, (o) => w1(env, new RoundContext(1), o), true));
  process.env.W2_R = String(r);
  process.env.W2_WARMUP = "5";
  results.push(await profiled(env, `W2 latency (R=${r} after 5 warm-ups; counts include the warm-ups)`, r + 5, (o) => w2(env, undefined, o), true));
} finally {
  await env.close();
}
say(`# Hot-path profile (${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC)`);
say();
say(
  "Written by `npx tsx bench/profile.ts`. Same deployment as the figures: server and worker processes, the client in the bench process, durable Postgres (with pg_stat_statements loaded here only) and Redis, all on this 2-core machine.",
);
say();
for (const p of results) report(p);
writeFileSync(fileURLToPath(new URL("PROFILE.md", import.meta.url)), `${out.join("\n")}\n`);
