// W6: pickup. With the worker idle and waiting for work, start one workflow of one task; start
// call to the task handler's entry. The handler prints its CLOCK_MONOTONIC reading (shared by
// every process on the machine) and this process subtracts its own, taken just before the start
// call. R [200] times after W6_WARMUP [5] uncounted ones, W6_IDLE_MS [50] of idleness before each.
// Each round measures every subscriber of W6_SUBSCRIBERS [session,stream,poll] (each with its own
// server and worker): `session` is the worker's default (a Session stream carrying leases and
// writes), `stream` the StreamLeases server stream, `poll` the PollLeases long-poll, `redis`
// Redis hints; pickup_p50_ms/pickup_p99_ms are the default's.
import { setTimeout as sleep } from "node:timers/promises";
import { pickupV1 } from "./workflows.js";
import type { BenchEnv } from "./lib/bench-env.js";
import { emit, envCount, envInt, type Figure, percentile } from "./lib/emit.js";
import { type AikiOptions, expectReached, withAiki } from "./lib/aiki.js";

const known = ["session", "stream", "poll", "redis"];

export async function w6(env: BenchEnv, _round?: unknown, options: AikiOptions = {}): Promise<Figure[]> {
  const r = envInt("W6_R", 200);
  const warmup = envCount("W6_WARMUP", 5);
  const idleMs = envCount("W6_IDLE_MS", 50);
  const subscribers = (process.env.W6_SUBSCRIBERS || "session,stream,poll").split(",").map((s) => s.trim());
  const unknown = subscribers.filter((s) => !known.includes(s));
  if (unknown.length > 0 || subscribers.length === 0) throw new Error(`W6_SUBSCRIBERS: each of ${known.join(", ")}, got "${process.env.W6_SUBSCRIBERS}"`);
  const figures: Figure[] = [];
  for (const subscriber of subscribers) {
    const samples = await pickups(env, { ...options, workerEnv: { ...options.workerEnv, BENCH_WORKER_SUBSCRIBER: subscriber } }, r, warmup, idleMs);
    const params = { r, warmup, idle_ms: idleMs, subscriber };
    figures.push(
      emit("W6", `pickup_${subscriber}_p50_ms`, percentile(samples, 50), params),
      emit("W6", `pickup_${subscriber}_p99_ms`, percentile(samples, 99), params),
    );
    if (subscriber === "session") {
      figures.push(emit("W6", "pickup_p50_ms", percentile(samples, 50), params), emit("W6", "pickup_p99_ms", percentile(samples, 99), params));
    }
  }
  return figures;
}

/** Start call to handler entry, in ms, sorted, with one server and one worker using `options.workerEnv`. */
async function pickups(env: BenchEnv, options: AikiOptions, r: number, warmup: number, idleMs: number): Promise<number[]> {
  return withAiki(env, options, async ({ client, worker }) => {
    const subscriber = options.workerEnv?.BENCH_WORKER_SUBSCRIBER;
    if (!new RegExp(`WORKER_READY \\d+ subscriber=${subscriber} `).test(worker.output())) throw new Error(`W6: the worker did not take work by ${subscriber}`);
    const waiting = new Map<string, (ns: bigint) => void>();
    const off = worker.onLine((line) => {
      const m = /^PICKUP (\S+) (\d+)$/.exec(line);
      if (!m) return;
      const ns = BigInt(m[2]!);
      // The first entry counts (a retried attempt would print again).
      waiting.get(m[1]!)?.(ns);
      waiting.delete(m[1]!);
    });
    try {
      const ms: number[] = [];
      for (let i = 0; i < warmup + r; i++) {
        await sleep(idleMs);
        const tag = `p${i}-${process.pid}-${Date.now()}`;
        const entered = new Promise<bigint>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`W6: no handler entry for ${tag} within 30 s`)), 30_000);
          waiting.set(tag, (ns) => {
            clearTimeout(timer);
            resolve(ns);
          });
        });
        entered.catch(() => {});
        const t0 = process.hrtime.bigint();
        const handle = await pickupV1.start(client, { tag });
        const entryNs = await entered;
        if (i >= warmup) ms.push(Number(entryNs - t0) / 1e6);
        expectReached(await handle.waitForStatus("completed", { timeout: { seconds: 30 } }), `W6 run ${i}`);
      }
      return ms.sort((a, b) => a - b);
    } finally {
      off();
    }
  });
}
