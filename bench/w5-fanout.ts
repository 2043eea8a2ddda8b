// W5: fan-out. One parent starts C [100] children (one task each) and waits for all of them;
// parent start call to the parent's observed completion. One fan-out per run of the workload
// after W5_WARMUP [1] uncounted one.
import { fanoutParentV1 } from "./workflows.js";
import type { BenchEnv } from "./lib/bench-env.js";
import { emit, envCount, envInt, type Figure } from "./lib/emit.js";
import { type AikiOptions, expectReached, workerConcurrency, withAiki } from "./lib/aiki.js";

export async function w5(env: BenchEnv, _round?: unknown, options: AikiOptions = {}): Promise<Figure[]> {
  const c = envInt("W5_C", 100);
  const warmup = envCount("W5_WARMUP", 1);
  const totalMs = await withAiki(env, options, async ({ client }) => {
    let ms = 0;
    for (let i = 0; i <= warmup; i++) {
      const t0 = performance.now();
      const parent = await fanoutParentV1.start(client, { children: c });
      const done = await parent.waitForStatus("completed", { timeout: { minutes: 5 } });
      expectReached(done, "W5 parent");
      ms = performance.now() - t0;
      if (done.success && (done.state.output as { completed: number }).completed !== c)
        throw new Error(`W5: ${JSON.stringify(done.state.output)} of ${c} children completed`);
    }
    return ms;
  });
  return [emit("W5", "fanout_total_ms", totalMs, { c, warmup, worker_concurrency: workerConcurrency() })];
}
