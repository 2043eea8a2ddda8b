// W1: throughput. Start N [2000] workflows of three sequential tasks; time from the first start
// call to the last observed completion (waitForStatus("completed") returning).
import { threeStepsV1 } from "./workflows.js";
import type { BenchEnv } from "./lib/bench-env.js";
import { emit, envInt, type Figure } from "./lib/emit.js";
import { type AikiOptions, expectReached, forEachLimited, workerConcurrency, withAiki } from "./lib/aiki.js";
import type { RoundContext } from "./lib/round.js";

export async function w1(env: BenchEnv, round: RoundContext, options: AikiOptions = {}): Promise<Figure[]> {
  const n = envInt("W1_N", 2000);
  const startConcurrency = envInt("W1_START_CONCURRENCY", 50);
  const { elapsedMs } = await withAiki(env, options, async ({ client }) => {
    const waits: Promise<void>[] = [];
    const first = performance.now();
    let last = first;
    await forEachLimited(n, startConcurrency, async (i) => {
      const handle = await threeStepsV1.start(client, { i });
      waits.push(
        handle.waitForStatus("completed", { timeout: { minutes: 5 } }).then((r) => {
          expectReached(r, `W1 run ${i}`);
          last = Math.max(last, performance.now());
        }),
      );
    });
    await Promise.all(waits);
    return { elapsedMs: last - first };
  });
  const params = { n, tasks_per_workflow: 3, start_concurrency: startConcurrency, worker_concurrency: workerConcurrency(), elapsed_ms: Math.round(elapsedMs) };
  const workflowsPerS = n / (elapsedMs / 1000);
  const stepsPerS = (3 * n) / (elapsedMs / 1000);
  const figures = [emit("W1", "workflows_per_s", workflowsPerS, params), emit("W1", "steps_per_s", stepsPerS, params)];
  const w0 = round.latest("W0", "pg_step_tps");
  if (w0) figures.push(emit("W1", "steps_per_pg_tps", stepsPerS / w0.value, { ...params, pg_step_tps: w0.value }, 4));
  return figures;
}
