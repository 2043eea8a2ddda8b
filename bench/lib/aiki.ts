// The Aiki deployment a workload measures: the server as its own process on the bench env's
// Postgres and Redis, one worker process (bench/worker-main.ts; W7 starts a second one with
// startWorker), and a client in this process.
// Every process started here is stopped by pid when the workload ends, and killed if the bench
// process exits first.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Client, client, silentLogger } from "@aiki/sdk";
import type { BenchEnv } from "./bench-env.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

/** Children still running, killed (SIGKILL, by pid) if this process exits without stopping them. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }
});

export interface Proc {
  child: ChildProcess;
  pid: number;
  output(): string;
  /** Resolves with the first line of output matching `pattern` (from `fromOffset` on). */
  waitForLine(pattern: RegExp, timeoutMs: number, fromOffset?: number): Promise<RegExpExecArray>;
  /** Calls `onLine` for every complete stdout line from now on; returns the unsubscribe. */
  onLine(listener: (line: string) => void): () => void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now (a crash); resolves when it has exited. */
  kill(): Promise<void>;
}

function startProc(label: string, args: string[], env: Record<string, string | undefined>): Proc {
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let output = "";
  let partial = "";
  const lineListeners = new Set<(line: string) => void>();
  const changed = new Set<() => void>();
  child.stdout!.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    output += text;
    if (output.length > 4_000_000) output = output.slice(-2_000_000);
    partial += text;
    const lines = partial.split("\n");
    partial = lines.pop()!;
    for (const line of lines) for (const l of lineListeners) l(line);
    for (const c of [...changed]) c();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    for (const c of [...changed]) c();
  });
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      live.delete(child);
      for (const c of [...changed]) c();
      resolve();
    }),
  );
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    pid: child.pid!,
    output: () => output,
    waitForLine(pattern, timeoutMs, fromOffset = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = new RegExp(pattern.source, pattern.flags.replace("g", "")).exec(output.slice(fromOffset));
          if (match) {
            done();
            resolve(match);
          } else if (gone()) {
            done();
            reject(new Error(`${label} exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}:\n${output.slice(-4000)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${label} printed no line matching ${pattern} within ${timeoutMs} ms:\n${output.slice(-4000)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          changed.delete(check);
        };
        changed.add(check);
        check();
      });
    },
    onLine(listener) {
      lineListeners.add(listener);
      return () => void lineListeners.delete(listener);
    },
    async kill() {
      if (!gone()) child.kill("SIGKILL");
      await exited;
    },
    async stop(graceMs = 10_000) {
      if (gone()) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => {
        if (!gone()) child.kill("SIGKILL");
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface AikiOptions {
  /** Extra node flags for the server process (e.g. --cpu-prof). */
  serverNodeArgs?: string[];
  /** Extra node flags for the worker process. */
  workerNodeArgs?: string[];
  /** Extra environment of the server process (the trace's AIKI_TRACE_*, AIKI_RETENTION_DAYS). */
  serverEnv?: Record<string, string>;
  /** AIKI_LOG_LEVEL of the server [info: it prints its address at info]. */
  serverLogLevel?: string;
  /** Worker parameters (BENCH_WORKER_*), passed by environment. */
  workerEnv?: Record<string, string>;
  /** The workload fails (and its processes are stopped) if it takes longer [10 min]. */
  deadlineMs?: number;
  /** Called once the server and the worker are up, before the workload (profiling snapshots). */
  onReady?: (aiki: Aiki) => Promise<void>;
  /** Called after the workload, before anything is stopped. */
  onDone?: (aiki: Aiki) => Promise<void>;
}

export interface Aiki {
  url: string;
  server: Proc;
  worker: Proc;
  client: Client;
}

/** Worker concurrency used by every workload unless BENCH_WORKER_CONCURRENCY says otherwise. */
export const workerConcurrency = (): number => Number(process.env.BENCH_WORKER_CONCURRENCY ?? 100);

/**
 * Starts a bench worker process (bench/worker-main.ts) on the server at `url` and resolves once it
 * takes work. The bench's own BENCH_WORKER_SUBSCRIBER and BENCH_WORKER_LEASE_TTL_MS are passed on
 * unless `workerEnv` sets them.
 */
export async function startWorker(env: BenchEnv, url: string, workerEnv: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Proc> {
  const worker = startProc("worker", [...nodeArgs, "--import", "tsx", "bench/worker-main.ts"], {
    AIKI_URL: url,
    BENCH_REDIS_URL: env.redisUrl,
    BENCH_WORKER_CONCURRENCY: String(workerConcurrency()),
    BENCH_WORKER_SUBSCRIBER: process.env.BENCH_WORKER_SUBSCRIBER,
    BENCH_WORKER_LEASE_TTL_MS: process.env.BENCH_WORKER_LEASE_TTL_MS,
    BENCH_WORKER_EAGER_TASKS: process.env.BENCH_WORKER_EAGER_TASKS,
    AIKI_API_KEY: process.env.AIKI_API_KEY,
    ...workerEnv,
  });
  try {
    await worker.waitForLine(/WORKER_READY/, 60_000);
  } catch (error) {
    await worker.kill();
    throw error;
  }
  return worker;
}

/**
 * Starts the server and the worker, runs `body` with a client, then stops everything (client,
 * worker, server, in that order). `body` is given a signal that aborts at the deadline.
 */
export async function withAiki<T>(env: BenchEnv, options: AikiOptions, body: (aiki: Aiki, deadline: AbortSignal) => Promise<T>): Promise<T> {
  const server = startProc("server", [...(options.serverNodeArgs ?? []), "--import", "tsx", "server/src/main.ts"], {
    DATABASE_URL: env.databaseUrl,
    REDIS_URL: env.redisUrl,
    AIKI_PORT: "0",
    AIKI_HOST: "127.0.0.1",
    AIKI_LOG_LEVEL: options.serverLogLevel ?? "info",
    // With keys: AIKI_AUTH=on AIKI_ADMIN_KEY=<key> AIKI_API_KEY=<the same key> npm run bench.
    AIKI_AUTH: process.env.AIKI_AUTH,
    AIKI_ADMIN_KEY: process.env.AIKI_ADMIN_KEY,
    ...options.serverEnv,
  });
  let worker: Proc | undefined;
  let aikiClient: Client | undefined;
  const deadline = new AbortController();
  const deadlineMs = options.deadlineMs ?? 10 * 60_000;
  const timer = setTimeout(() => deadline.abort(new Error(`the workload passed its deadline of ${deadlineMs} ms`)), deadlineMs);
  try {
    const url = (await server.waitForLine(/aiki server listening on (\S+?)"/, 60_000))[1]!;
    worker = await startWorker(env, url, options.workerEnv, options.workerNodeArgs);
    // AIKI_API_KEY (e.g. the server's AIKI_ADMIN_KEY) when the server runs with AIKI_AUTH=on.
    aikiClient = client({ url, apiKey: process.env.AIKI_API_KEY, logger: silentLogger });
    const c = aikiClient;
    // At the deadline the client is closed, so every call in flight fails and `body` unwinds.
    deadline.signal.addEventListener("abort", () => void c.close());
    const aiki: Aiki = { url, server, worker, client: c };
    await options.onReady?.(aiki);
    const result = await body(aiki, deadline.signal);
    await options.onDone?.(aiki);
    return result;
  } catch (error) {
    if (deadline.signal.aborted) throw deadline.signal.reason;
    throw error;
  } finally {
    clearTimeout(timer);
    await aikiClient?.close();
    await worker?.stop();
    await server.stop();
  }
}

/** Resident set size of a process in MiB, from /proc/<pid>/status (VmRSS). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1]);
  return kb / 1024;
}

/** Runs `fn` for 0..count-1 with at most `limit` calls in flight; resolves when all are done. */
export async function forEachLimited(count: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
}

/** Milliseconds on CLOCK_MONOTONIC, shared by every process on the machine. */
export const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Throws unless a waitForStatus answered success. */
export function expectReached(result: { success: boolean; cause?: string }, what: string): void {
  if (!result.success) throw new Error(`${what} did not complete: ${result.cause}`);
}
