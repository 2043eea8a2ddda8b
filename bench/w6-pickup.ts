// W6: pickup. With the worker idle in its long-poll, start one workflow of one task; start call
// to the task handler's entry. The handler prints its CLOCK_MONOTONIC reading (shared by every
// process on the machine) and this process subtracts its own, taken just before the start call.
// R [200] times after W6_WARMUP [5] uncounted ones, W6_IDLE_MS [50] of idleness before each.
import { setTimeout as sleep } from "node:timers/promises";
import { pickupV1 } from "./workflows.js";
import type { BenchEnv } from "./lib/bench-env.js";
import { emit, envCount, envInt, type Figure, percentile } from "./lib/emit.js";
import { type AikiOptions, expectReached, withAiki } from "./lib/aiki.js";

export async function w6(env: BenchEnv, _round?: unknown, options: AikiOptions = {}): Promise<Figure[]> {
  const r = envInt("W6_R", 200);
  const warmup = envCount("W6_WARMUP", 5);
  const idleMs = envCount("W6_IDLE_MS", 50);
  const samples = await withAiki(env, options, async ({ client, worker }) => {
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
  const params = { r, warmup, idle_ms: idleMs };
  return [emit("W6", "pickup_p50_ms", percentile(samples, 50), params), emit("W6", "pickup_p99_ms", percentile(samples, 99), params)];
}
