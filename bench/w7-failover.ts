// W7: worker failover. Two worker processes: N [20] runs of one task each are leased by worker
// A, whose task never returns (BENCH_WORKER_HANG=1); worker B (same workflows, runs the task
// normally) is started and idle before A is SIGKILLed. Per run: kill to the task's entry on B
// (CLOCK_MONOTONIC, shared by every process on the machine, as in W6).
//
// By design this time is bounded below by the lease TTL: nothing tells the server a worker died,
// so a run moves on only when its lease expires, at the last heartbeat (every TTL/3) + TTL, i.e.
// between 2/3 TTL and TTL after the kill; then the timer fires, B is hinted, leases it, replays
// and enters attempt 2. The figure above the TTL is Aiki's own cost. The TTL used is the
// worker's leaseTtlMs: W7_LEASE_TTL_MS, else BENCH_WORKER_LEASE_TTL_MS, else the worker's
// default, 30 000 ms.
import { failoverV1 } from "./workflows.js";
import type { BenchEnv } from "./lib/bench-env.js";
import { emit, envInt, type Figure, percentile } from "./lib/emit.js";
import { type AikiOptions, expectReached, type Proc, startWorker, withAiki } from "./lib/aiki.js";

export async function w7(env: BenchEnv, _round?: unknown, options: AikiOptions = {}): Promise<Figure[]> {
  const n = envInt("W7_N", 20);
  const leaseTtlMs = envInt("W7_LEASE_TTL_MS", envInt("BENCH_WORKER_LEASE_TTL_MS", 30_000));
  const ttlEnv = { BENCH_WORKER_LEASE_TTL_MS: String(leaseTtlMs) };
  const workerEnv = { ...options.workerEnv, ...ttlEnv, BENCH_WORKER_HANG: "1", BENCH_WORKER_NAME: "w7-a" };
  const result = await withAiki(env, { ...options, workerEnv }, async ({ client, url, worker: a }) => {
    const tag = `w7-${process.pid}-${Date.now()}`;
    const entriesA = entries(a, tag);
    const handles = await Promise.all(Array.from({ length: n }, (_, i) => failoverV1.start(client, { tag: `${tag}-${i}` })));
    await entriesA.all(n, 60_000, "worker A");
    let b: Proc | undefined;
    try {
      // B is up and waiting before the kill: the figure is the hand-over, not a Node start-up.
      b = await startWorker(env, url, { ...ttlEnv, BENCH_WORKER_NAME: "w7-b" });
      const entriesB = entries(b, tag);
      const killNs = process.hrtime.bigint();
      await a.kill();
      const onB = await entriesB.all(n, leaseTtlMs + 120_000, "worker B");
      for (const [i, h] of handles.entries()) expectReached(await h.waitForStatus("completed", { timeout: { seconds: 60 } }), `W7 run ${i}`);
      return { ms: [...onB.values()].map((ns) => Number(ns - killNs) / 1e6).sort((x, y) => x - y) };
    } finally {
      await b?.stop();
    }
  });
  const params = { n, lease_ttl_ms: leaseTtlMs, min_ms: Math.round(result.ms[0]!), max_ms: Math.round(result.ms.at(-1)!) };
  return [
    emit("W7", "failover_p50_ms", percentile(result.ms, 50), params),
    emit("W7", "failover_p99_ms", percentile(result.ms, 99), params),
    emit("W7", "lease_ttl_ms", leaseTtlMs, params),
  ];
}

/** The first task entry (FAILOVER <tag> <ns>) a worker prints for each run of this round. */
function entries(worker: Proc, roundTag: string) {
  const seen = new Map<string, bigint>();
  let changed = () => {};
  worker.onLine((line) => {
    const m = /^FAILOVER (\S+) (\d+)$/.exec(line);
    if (!m || !m[1]!.startsWith(`${roundTag}-`) || seen.has(m[1]!)) return;
    seen.set(m[1]!, BigInt(m[2]!));
    changed();
  });
  return {
    all(count: number, timeoutMs: number, who: string): Promise<Map<string, bigint>> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`W7: ${who} entered ${seen.size} of ${count} tasks within ${timeoutMs} ms`)), timeoutMs);
        changed = () => {
          if (seen.size < count) return;
          clearTimeout(timer);
          resolve(seen);
        };
        changed();
      });
    },
  };
}
