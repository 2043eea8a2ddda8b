// The workflows of the benchmark workloads, defined with the public SDK. The worker process
// (bench/worker-main.ts) registers all of them; the bench process starts them with a client.
// Task handlers do no I/O of their own (W6's and W7's print one timestamp line, which is the measurement).
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

/**
 * W4 (the docs/benchmarks.md mode): one durable sleep of `sleepMs`, then completes, returning when the
 * worker resumed it (epoch ms). Reading the clock in a handler is not replay-safe in general;
 * here it only measures: the line after the sleep runs once, in the execution that resumes the
 * run after the timer fired.
 */
export const sleepV1 = workflow({ name: "bench-sleep" }).v("1.0.0", {
  async handler(run, input: { i: number; sleepMs: number }) {
    await run.sleep("nap", { milliseconds: input.sleepMs });
    return { i: input.i, resumedAtMs: Date.now() };
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

/**
 * W4 (W4_MODE=concurrent): sleeps until a common wake time (`wakeAtMs`, epoch ms), so every
 * sleeper of a round is asleep at once and all are due together, then returns when the worker
 * resumed it. Reading the clock in a handler is not replay-safe in general; here it only
 * measures: the line after the sleep runs once, in the execution that resumes the run after the
 * timer fired.
 */
export const sleepUntilV1 = workflow({ name: "bench-sleep-until" }).v("1.0.0", {
  async handler(run, input: { i: number; wakeAtMs: number }) {
    await run.sleep("nap", { milliseconds: Math.max(1, input.wakeAtMs - Date.now()) });
    return { i: input.i, resumedAtMs: Date.now() };
  },
});

/**
 * W7: one task that prints when it is entered (CLOCK_MONOTONIC, like W6) and, in a worker
 * started with BENCH_WORKER_HANG=1, never returns: that worker is the one W7 kills. Retries
 * allow the attempt the killed worker used up.
 */
const failoverStep = task({
  name: "bench-failover-step",
  async handler(input: { tag: string }) {
    process.stdout.write(`FAILOVER ${input.tag} ${process.hrtime.bigint()}\n`);
    if (process.env.BENCH_WORKER_HANG === "1") await new Promise(() => {});
    return { ok: true };
  },
  opts: { retry: { type: "fixed", maxAttempts: 3, delayMs: 0 } },
});

export const failoverV1 = workflow({ name: "bench-failover" }).v("1.0.0", {
  async handler(run, input: { tag: string }) {
    return failoverStep.start(run, input);
  },
});

export const allBenchWorkflows = [threeStepsV1, eventV1, sleepV1, sleepUntilV1, fanoutChildV1, fanoutParentV1, pickupV1, failoverV1];
