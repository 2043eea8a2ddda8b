// W2: latency. One workflow of three tasks at a time, R [200] times after W2_WARMUP [20]
// warm-ups; start call to observed completion.
import { threeStepsV1 } from "./workflows.js";
import type { BenchEnv } from "./lib/bench-env.js";
import { emit, envCount, envInt, type Figure, percentile } from "./lib/emit.js";
import { type AikiOptions, expectReached, withAiki } from "./lib/aiki.js";

export async function w2(env: BenchEnv, _round?: unknown, options: AikiOptions = {}): Promise<Figure[]> {
  const r = envInt("W2_R", 200);
  const warmup = envCount("W2_WARMUP", 20);
  const samples = await withAiki(env, options, async ({ client }) => {
    const ms: number[] = [];
    for (let i = 0; i < warmup + r; i++) {
      const t0 = performance.now();
      const handle = await threeStepsV1.start(client, { i });
      expectReached(await handle.waitForStatus("completed", { timeout: { seconds: 30 } }), `W2 run ${i}`);
      if (i >= warmup) ms.push(performance.now() - t0);
    }
    return ms.sort((a, b) => a - b);
  });
  const params = { r, warmup, tasks_per_workflow: 3, mean_ms: round2(samples.reduce((a, b) => a + b, 0) / samples.length) };
  return [emit("W2", "latency_p50_ms", percentile(samples, 50), params), emit("W2", "latency_p99_ms", percentile(samples, 99), params)];
}

const round2 = (x: number) => Math.round(x * 100) / 100;
