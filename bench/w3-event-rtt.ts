// W3: event round-trip. A workflow waits for an event; once it is observed waiting
// (waitForStatus("awaiting_event")), the event is sent; send call to observed completion.
// Repeated R [200] times, one at a time, after W3_WARMUP [5] warm-ups that are not counted.
import { eventV1 } from "./workflows.js";
import type { BenchEnv } from "./lib/bench-env.js";
import { emit, envCount, envInt, type Figure, percentile } from "./lib/emit.js";
import { type AikiOptions, expectReached, withAiki } from "./lib/aiki.js";

export async function w3(env: BenchEnv, _round?: unknown, options: AikiOptions = {}): Promise<Figure[]> {
  const r = envInt("W3_R", 200);
  const warmup = envCount("W3_WARMUP", 5);
  const samples = await withAiki(env, options, async ({ client }) => {
    const ms: number[] = [];
    for (let i = 0; i < warmup + r; i++) {
      const handle = await eventV1.start(client, { i });
      expectReached(await handle.waitForStatus("awaiting_event", { timeout: { seconds: 30 } }), `W3 run ${i} waiting`);
      const t0 = performance.now();
      await handle.events.go.send({ n: i });
      expectReached(await handle.waitForStatus("completed", { timeout: { seconds: 30 } }), `W3 run ${i}`);
      if (i >= warmup) ms.push(performance.now() - t0);
    }
    return ms.sort((a, b) => a - b);
  });
  const params = { r, warmup };
  return [emit("W3", "event_rtt_p50_ms", percentile(samples, 50), params), emit("W3", "event_rtt_p99_ms", percentile(samples, 99), params)];
}
