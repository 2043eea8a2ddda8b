// npm run bench [-- W1 W3]: runs the workloads of BENCHMARKS.md twice each on real, durable
// Postgres and Redis, prints JSON lines, and writes bench/RESULTS.md.
import { cpus, totalmem } from "node:os";
import { startBenchEnv } from "./lib/bench-env.js";
import type { Figure } from "./lib/emit.js";
import { writeResults } from "./lib/results.js";
import { w0 } from "./w0-pg-ceiling.js";

type Workload = (env: Awaited<ReturnType<typeof startBenchEnv>>) => Promise<Figure[]>;
const workloads: Record<string, Workload> = { W0: w0 };

const requested = process.argv.slice(2).map((a) => a.toUpperCase());
const unknown = requested.filter((w) => !(w in workloads));
if (unknown.length > 0) {
  console.error(`unknown workload(s) ${unknown.join(", ")}; known: ${Object.keys(workloads).join(", ")}`);
  process.exit(2);
}
const selected = requested.length > 0 ? requested : Object.keys(workloads);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);

const env = await startBenchEnv();
const figures: Figure[][] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    const these: Figure[] = [];
    for (const name of selected) these.push(...(await workloads[name]!(env)));
    figures.push(these);
  }
} finally {
  await env.close();
}
writeResults({
  machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  command: `npm run bench -- ${selected.join(" ")}`,
  rounds: figures,
});
