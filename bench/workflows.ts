// The workflows of the benchmark workloads, defined with the public SDK. The worker process
// (bench/worker-main.ts) registers all of them; the bench process starts them with a client.
// Task handlers do no I/O of their own (W6's prints one timestamp line, which is the measurement).
import { event, task, workflow } from "@aiki/sdk";

/** A small JSON object, as W1 and W2 ask. */
const step = task({
  name: "bench-step",
  handler(input: { n: number }) {
    return { n: input.n, ok: true };
  },
});

/** W1, W2: three sequential tasks. */
export const threeStepsV1 = workflow({ name: "bench-three-steps" }).v("1.0.0", {
  async handler(run, _input: { i: number }) {
    const a = await step.start(run, { n: 1 });
    const b = await step.start(run, { n: 2 });
    const c = await step.start(run, { n: 3 });
    return { sum: a.n + b.n + c.n };
  },
});

/** W3: waits for one event, then completes. */
export const eventV1 = workflow({ name: "bench-event" }).v("1.0.0", {
  async handler(run, _input: { i: number }) {
    const got = await run.events.go.wait();
    return { n: got.data.n };
  },
  events: { go: event<{ n: number }>() },
});

/** W4: one durable sleep, then completes. */
export const sleepV1 = workflow({ name: "bench-sleep" }).v("1.0.0", {
  async handler(run, input: { i: number; sleepMs: number }) {
    await run.sleep("nap", { milliseconds: input.sleepMs });
    return { i: input.i };
  },
});

const childStep = task({
  name: "bench-child-step",
  handler(input: { i: number }) {
    return { i: input.i, ok: true };
  },
});

/** W5: a child with one task. */
export const fanoutChildV1 = workflow({ name: "bench-fanout-child" }).v("1.0.0", {
  async handler(run, input: { i: number }) {
    return childStep.start(run, input);
  },
});

/** W5: starts `children` children and waits for all of them. */
export const fanoutParentV1 = workflow({ name: "bench-fanout-parent" }).v("1.0.0", {
  async handler(run, input: { children: number }) {
    const handles = await Promise.all(Array.from({ length: input.children }, (_, i) => fanoutChildV1.startAsChild(run, { i })));
    const results = await Promise.all(handles.map((h) => h.waitForStatus("completed")));
    return { completed: results.filter((r) => r.success).length };
  },
});

/**
 * W6: one task whose handler prints the moment it is entered, on CLOCK_MONOTONIC
 * (process.hrtime), which every process on the machine shares, so the bench process can subtract
 * its own reading taken before the start call.
 */
const pickupStep = task({
  name: "bench-pickup-step",
  handler(input: { tag: string }) {
    const now = process.hrtime.bigint();
    process.stdout.write(`PICKUP ${input.tag} ${now}\n`);
    return { ok: true };
  },
});

export const pickupV1 = workflow({ name: "bench-pickup" }).v("1.0.0", {
  async handler(run, input: { tag: string }) {
    return pickupStep.start(run, input);
  },
});

export const allBenchWorkflows = [threeStepsV1, eventV1, sleepV1, fanoutChildV1, fanoutParentV1, pickupV1];
