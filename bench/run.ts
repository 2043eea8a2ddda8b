// npm run bench [-- W1 W3]: runs the workloads of docs/benchmarks.md twice each (BENCH_ROUNDS) on
// real, durable Postgres and Redis, prints JSON lines, and writes bench/RESULTS.md.
// W1 reports steps/s against the W0 ceiling of the same round, so selecting W1 runs W0 first.
import { execFileSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { type BenchEnv, startBenchEnv } from "./lib/bench-env.js";
import type { Figure } from "./lib/emit.js";
import { writeResults } from "./lib/results.js";
import { RoundContext } from "./lib/round.js";
import { w0 } from "./w0-pg-ceiling.js";
import { w1 } from "./w1-throughput.js";
import { w2 } from "./w2-latency.js";
import { w3 } from "./w3-event-rtt.js";
import { w4 } from "./w4-durable-sleep.js";
import { w5 } from "./w5-fanout.js";
import { w6 } from "./w6-pickup.js";
import { w7 } from "./w7-failover.js";

type Workload = (env: BenchEnv, round: RoundContext) => Promise<Figure[]>;
const workloads: Record<string, Workload> = { W0: w0, W1: w1, W2: w2, W3: w3, W4: w4, W5: w5, W6: w6, W7: w7 };

const requested = process.argv.slice(2).map((a) => a.toUpperCase());
const unknown = requested.filter((w) => !(w in workloads));
if (unknown.length > 0) {
  console.error(`unknown workload(s) ${unknown.join(", ")}; known: ${Object.keys(workloads).join(", ")}`);
  process.exit(2);
}
const wanted = new Set(requested.length > 0 ? requested : Object.keys(workloads));
if (wanted.has("W1")) wanted.add("W0");
// In the table's order, so W0 always precedes W1 within a round.
const selected = Object.keys(workloads).filter((w) => wanted.has(w));
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);

const env = await startBenchEnv();
const figures: Figure[][] = [];
let failure: unknown;
try {
  for (let round = 1; round <= rounds; round++) {
    const context = new RoundContext(round);
    figures.push(context.figures);
    for (const name of selected) {
      console.error(`[bench] round ${round}/${rounds}: ${name}`);
      context.figures.push(...(await workloads[name]!(env, context)));
    }
  }
} catch (error) {
  failure = error;
} finally {
  await env.close();
}
if (figures.some((r) => r.length > 0)) {
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const params = [...new Set(Object.keys(process.env).filter((k) => /^(W\d_|BENCH_)/.test(k)))].sort().map((k) => `${k}=${process.env[k]}`);
  writeResults({
    notes: [
      treeState(),
      `deployment: server and worker in their own Node processes (worker concurrency ${process.env.BENCH_WORKER_CONCURRENCY ?? 100}), client in the bench process, Postgres and Redis: all on these ${cpus().length} cores, so they contend for CPU`,
    ],
    machine,
    command: `${params.length > 0 ? `${params.join(" ")} ` : ""}npm run bench -- ${selected.join(" ")}`,
    rounds: figures,
  });
}
if (failure) {
  console.error(failure);
  process.exit(1);
}

/** The code measured: the commit, and what was uncommitted outside bench/ (others' work in progress). */
function treeState(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { encoding: "utf8" })
      .split("\n")
      .map((l) => l.slice(3).trim())
      .filter((p) => p !== "" && !p.startsWith("bench/"))
      .map((p) => p.split("/")[0]);
    const areas = [...new Set(dirty)];
    return `code: ${head}${areas.length > 0 ? ` with uncommitted changes in ${areas.join(", ")}` : ""}`;
  } catch {
    return "code: (no git)";
  }
}
