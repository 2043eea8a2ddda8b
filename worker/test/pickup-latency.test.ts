// docs/semantics.md, Faults Aiki does not have, 5: ready work and timers must not be found only on
// a fixed 500 ms tick. Sequential pickups through the default lease stream and through the
// long-poll, and sequential short sleeps, on a real server with Redis. The bounds catch a gross
// regression (a 500 ms tick gives a median near 250 ms and a p90 near 450 ms), not the normal few
// milliseconds.
import { describe, expect, it } from "vitest";
import { task, workflow } from "@aiki/sdk";
import { gate, uniq, useRealAiki } from "./support/real-aiki.js";

const real = useRealAiki();

const median = (xs: number[]) => percentile(xs, 0.5);
function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

/** A one-task workflow whose task marks when run `i` was picked up. */
function probe(label: string) {
  const entered = new Map<number, ReturnType<typeof gate<number>>>();
  const arrival = (i: number) => {
    let g = entered.get(i);
    if (!g) {
      g = gate<number>();
      entered.set(i, g);
    }
    return g;
  };
  const step = task({
    name: "probe",
    handler(i: number) {
      arrival(i).open(performance.now());
      return i;
    },
  });
  const version = workflow({ name: uniq(label) }).v("1", { handler: (run, i: number) => step.start(run, i) });
  /** Start run i; milliseconds from the start call to its task's first line. */
  const pickup = async (i: number) => {
    const t0 = performance.now();
    const handle = await version.start(real.client, i);
    const ms = (await arrival(i).promise) - t0;
    expect((await handle.waitForStatus("completed", { timeout: 10_000 })).success).toBe(true);
    return ms;
  };
  return { version, pickup };
}

const summary = (xs: number[]) => `median ${median(xs).toFixed(1)} ms, p90 ${percentile(xs, 0.9).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;

describe("latency (no fixed 500 ms tick)", () => {
  it("20 pickups by stream, 20 by long-poll and 20 sleeps of 300 ms all land within a tick's fraction", async () => {
    const streamed = probe("stream-pickup");
    const polled = probe("poll-pickup");
    const stamps = new Map<number, number>();
    const stamp = task({
      name: "stamp",
      handler(i: number) {
        stamps.set(i, performance.now());
      },
    });
    const sleeps = 20;
    const sleeper = workflow({ name: uniq("sleeper") }).v("1", {
      async handler(run) {
        for (let i = 0; i < sleeps; i++) {
          await stamp.start(run, i);
          await run.sleep("tick", 300);
        }
        await stamp.start(run, sleeps);
      },
    });
    await real.spawn([streamed.version, sleeper]);
    await real.spawn([polled.version], { subscriber: { type: "grpc", mode: "poll" } });
    // One run each first, so connection setup is not measured.
    await streamed.pickup(-1);
    await polled.pickup(-1);

    const stream: number[] = [];
    for (let i = 0; i < 20; i++) stream.push(await streamed.pickup(i));
    const poll: number[] = [];
    for (let i = 0; i < 20; i++) poll.push(await polled.pickup(i));

    const handle = await sleeper.start(real.client, undefined);
    expect((await handle.waitForStatus("completed", { timeout: 30_000 })).success).toBe(true);
    const overshoot: number[] = [];
    for (let i = 0; i < sleeps; i++) overshoot.push(stamps.get(i + 1)! - stamps.get(i)! - 300);

    const report = `stream: ${summary(stream)}; poll: ${summary(poll)}; sleep overshoot: ${summary(overshoot)}`;
    console.log(`pickup latency — ${report}`);
    for (const [what, xs] of [
      ["stream pickup", stream],
      ["poll pickup", poll],
      ["sleep overshoot", overshoot],
    ] as const) {
      expect(median(xs), `${what} median (${report})`).toBeLessThan(100);
      expect(percentile(xs, 0.9), `${what} p90 (${report})`).toBeLessThan(250);
    }
    // A sleep never ends early.
    expect(Math.min(...overshoot)).toBeGreaterThanOrEqual(0);
  }, 60_000);
});
