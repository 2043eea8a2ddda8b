// The bench worker: one process running every bench workflow through @aiki/worker, as deployed.
// `node --import tsx bench/worker-main.ts`; parameters by environment:
//   AIKI_URL                     the server (required)
//   BENCH_WORKER_CONCURRENCY     maxConcurrentWorkflowRuns [100]
//   BENCH_WORKER_POLL_WAIT_MS    how long one lease poll waits [20000]
//   BENCH_WORKER_SUBSCRIBER      how it takes work: session (one gRPC stream for leases and
//                                writes, the worker's default) | stream (gRPC server stream) |
//                                poll (gRPC long-poll) | redis (hints from Redis, BENCH_REDIS_URL)
//                                [session]
//   BENCH_REDIS_URL              the Redis the server publishes hints on (subscriber redis)
//   BENCH_WORKER_LEASE_TTL_MS    leaseTtlMs [the worker's default, 30000]
//   BENCH_WORKER_NAME            the worker's name [bench-worker]
//   BENCH_WORKER_HANG            1: W7's failover task never returns in this process
//   BENCH_WORKER_EAGER_TASKS     0: eagerTasks off (each task waits for its StartTask answer) [1]
// Prints `WORKER_READY <pid> ...` once it takes work; SIGTERM stops it gracefully.
import { client, silentLogger } from "@aiki/sdk";
import { type SubscriberOptions, worker } from "@aiki/worker";
import { allBenchWorkflows } from "./workflows.js";

const url = process.env.AIKI_URL;
if (!url) {
  console.error("AIKI_URL is required");
  process.exit(2);
}
const concurrency = Number(process.env.BENCH_WORKER_CONCURRENCY ?? 100);
const pollWaitMs = Number(process.env.BENCH_WORKER_POLL_WAIT_MS ?? 20_000);
const leaseTtlMs = process.env.BENCH_WORKER_LEASE_TTL_MS ? Number(process.env.BENCH_WORKER_LEASE_TTL_MS) : undefined;
const subscriberName = process.env.BENCH_WORKER_SUBSCRIBER || "session";
const subscribers: Record<string, SubscriberOptions> = {
  session: { type: "grpc", mode: "session" },
  stream: { type: "grpc", mode: "stream" },
  poll: { type: "grpc", mode: "poll" },
  redis: { type: "redis" },
};
const subscriber = subscribers[subscriberName];
if (!subscriber) {
  console.error(`BENCH_WORKER_SUBSCRIBER must be one of ${Object.keys(subscribers).join(", ")}, got "${subscriberName}"`);
  process.exit(2);
}
const redisUrl = process.env.BENCH_REDIS_URL;
if (subscriber.type === "redis" && !redisUrl) {
  console.error("BENCH_WORKER_SUBSCRIBER=redis needs BENCH_REDIS_URL");
  process.exit(2);
}

const aiki = client({ url, apiKey: process.env.AIKI_API_KEY, logger: silentLogger, ...(subscriber.type === "redis" && { redis: { url: redisUrl } }) });
const running = await worker({
  name: process.env.BENCH_WORKER_NAME || "bench-worker",
  workflows: allBenchWorkflows,
  subscriber,
  opts: {
    maxConcurrentWorkflowRuns: concurrency,
    pollWaitMs,
    ...(leaseTtlMs !== undefined && { leaseTtlMs }),
    gracefulShutdownTimeoutMs: 2_000,
    eagerTasks: process.env.BENCH_WORKER_EAGER_TASKS !== "0",
    logger: silentLogger,
  },
}).spawn(aiki);
process.stdout.write(`WORKER_READY ${process.pid} subscriber=${subscriberName} lease_ttl_ms=${leaseTtlMs ?? "default"}\n`);

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
