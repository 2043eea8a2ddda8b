// The deployment of bench/trace.ts and bench/trace-event.ts: the bench's server and worker, each
// with bench/lib/trace-hook.mjs loaded to stamp the trace points of common/src/trace-point.ts on CLOCK_MONOTONIC (which every process on the machine shares), and
// the client's own points beside them.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Client } from "@aiki/sdk";
import { withAiki } from "./aiki.js";
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
  const env = await startBenchEnv();
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
      ({ client: aiki }) =>
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
