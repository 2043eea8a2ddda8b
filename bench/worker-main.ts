// The bench worker: one process running every bench workflow through @aiki/worker, as deployed.
// `node --import tsx bench/worker-main.ts`; parameters by environment:
//   AIKI_URL                     the server (required)
//   BENCH_WORKER_CONCURRENCY     maxConcurrentWorkflowRuns [100]
//   BENCH_WORKER_POLL_WAIT_MS    how long one lease poll waits [20000]
// Prints `WORKER_READY <pid>` once it takes work; SIGTERM stops it gracefully.
import { client, silentLogger } from "@aiki/sdk";
import { worker } from "@aiki/worker";
import { allBenchWorkflows } from "./workflows.js";

const url = process.env.AIKI_URL;
if (!url) {
  console.error("AIKI_URL is required");
  process.exit(2);
}
const concurrency = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 100);
const pollWaitMs = Number(process.env.BENCH_WORKER_POLL_WAIT_MS ?? 20_000);

const aiki = client({ url, logger: silentLogger });
const running = await worker({
  name: "bench-worker",
  workflows: allBenchWorkflows,
  opts: { maxConcurrentWorkflowRuns: concurrency, pollWaitMs, gracefulShutdownTimeoutMs: 2_000, logger: silentLogger },
}).spawn(aiki);
process.stdout.write(`WORKER_READY ${process.pid}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await running.stop();
  await aiki.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
