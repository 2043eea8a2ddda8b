// The replay executor against an in-memory lease server: replays, non-determinism, retries,
// suspensions and fencing, step by step.
import { afterAll, describe, expect, it } from "vitest";
import { RunFailureCause, RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { SleepStatus, TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { client, event, NonRetryableError, type Schema, silentLogger, task, TaskFailedError, workflow, type WorkflowVersion } from "@aiki/sdk";
import { fromValue, workflowVersionInternals } from "@aiki/sdk/internal";
import { RunExecution } from "../src/run-execution.js";
import { FakeLeaseServer } from "./support/fake-lease-server.js";

// Never called: executions talk to the fake through `rpc`.
const unusedClient = client({ url: "http://127.0.0.1:9", logger: silentLogger });
afterAll(() => unusedClient.close());

let wf = 0;
// biome-ignore lint/suspicious/noExplicitAny: any version
type AnyVersion = WorkflowVersion<any, any, any>;

function serverFor(version: AnyVersion, input?: unknown): FakeLeaseServer {
  return new FakeLeaseServer({ workflowName: version.name, versionId: version.versionId, input });
}

function execute(server: FakeLeaseServer, version: AnyVersion, options: { inlineRetryMaxDelayMs?: number; eagerTasks?: boolean } = {}) {
  const execution = new RunExecution({
    lease: server.lease(),
    rpc: server.rpc,
    version: workflowVersionInternals(version),
    client: unusedClient,
    logger: silentLogger,
    inlineRetryMaxDelayMs: options.inlineRetryMaxDelayMs ?? 1_000,
    random: () => 0.5,
    eagerTasks: options.eagerTasks,
  });
  return { execution, done: execution.execute() };
}

function counted<I = void, O = void>(name: string, fn: (input: I) => O | Promise<O>, opts?: Parameters<typeof task<I, O>>[0]["opts"]) {
  const calls: I[] = [];
  const t = task<I, O>({
    name,
    async handler(input: I) {
      calls.push(input);
      return fn(input);
    },
    opts,
  });
  return { t, calls };
}

const output = (server: FakeLeaseServer) => (server.end?.kind === "completed" ? fromValue(server.end.output) : undefined);

describe("tasks and replay", () => {
  it("runs tasks, records them, and returns cached outputs on replay without executing again", async () => {
    const double = counted("double", (n: number) => n * 2);
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run, input: number) {
        const a = await double.t.start(run, input);
        const b = await double.t.start(run, a);
        const c = await double.t.start(run, input);
        return { a, b, c };
      },
    });
    const server = serverFor(v, 3);
    expect(await execute(server, v).done).toBe("completed");
    expect(output(server)).toEqual({ a: 6, b: 12, c: 6 });
    expect(double.calls).toEqual([3, 6, 3]);
    // The same input twice: one address, sequences 0 and 1.
    expect(server.tasks.map((t) => [t.name, t.sequence])).toEqual([
      ["double", 0],
      ["double", 0],
      ["double", 1],
    ]);

    expect(await execute(server, v).done).toBe("completed");
    expect(double.calls).toHaveLength(3);
    expect(server.calls.filter((c) => c.startsWith("StartTask"))).toHaveLength(3);
  });

  it("throws a recorded failure again as TaskFailedError, catchable by the workflow", async () => {
    const flaky = counted("charge", (_: { amount: number }) => {
      throw new Error("card declined");
    });
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        try {
          await flaky.t.start(run, { amount: 5 });
          return "charged";
        } catch (error) {
          if (error instanceof TaskFailedError) return `${error.taskName}: ${error.failure.message} after ${error.attempts}`;
          throw error;
        }
      },
    });
    const server = serverFor(v);
    await execute(server, v).done;
    expect(output(server)).toBe("charge: card declined after 1");
    expect(server.tasks[0]?.status).toBe(TaskStatus.FAILED);

    await execute(server, v).done;
    expect(output(server)).toBe("charge: card declined after 1");
    expect(flaky.calls).toHaveLength(1);
  });

  it("fails the run with cause TASK when the failure escapes the handler", async () => {
    const boom = counted("boom", () => {
      throw new TypeError("nope");
    });
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        await boom.t.start(run);
      },
    });
    const server = serverFor(v);
    expect(await execute(server, v).done).toBe("failed");
    expect(server.end).toMatchObject({ kind: "failed", cause: RunFailureCause.TASK });
    if (server.end?.kind !== "failed") return;
    expect(server.end.failure?.type).toBe("TaskFailedError");
    expect(server.end.failure?.cause?.message).toBe("nope");
    expect(server.end.failure?.cause?.type).toBe("TypeError");
  });

  it("retries short delays inline with the policy's delays", async () => {
    let n = 0;
    const flaky = counted(
      "flaky",
      () => {
        if (++n < 3) throw new Error(`fail ${n}`);
        return "ok";
      },
      { retry: { type: "fixed", maxAttempts: 3, delayMs: 20 } },
    );
    const v = workflow({ name: `wf-${++wf}` }).v("1", { handler: (run) => flaky.t.start(run) });
    const server = serverFor(v);
    expect(await execute(server, v).done).toBe("completed");
    expect(output(server)).toBe("ok");
    expect(server.calls).toEqual([
      "StartTask flaky#0",
      "FailTask flaky#0",
      "StartTask flaky#0",
      "FailTask flaky#0",
      "StartTask flaky#0",
      // The success rides on the run's next write.
      "CompleteRun",
      "+completed flaky#0",
    ]);
    expect(server.tasks[0]?.attempts).toBe(3);
  });

  it("fails for good on NonRetryableError even with budget left", async () => {
    const stop = counted(
      "stop",
      () => {
        throw new NonRetryableError("invalid order");
      },
      { retry: { type: "fixed", maxAttempts: 5, delayMs: 1 } },
    );
    const v = workflow({ name: `wf-${++wf}` }).v("1", { handler: (run) => stop.t.start(run) });
    const server = serverFor(v);
    await execute(server, v).done;
    expect(stop.calls).toHaveLength(1);
    expect(server.tasks[0]?.failure?.nonRetryable).toBe(true);
    expect(server.end).toMatchObject({ kind: "failed", cause: RunFailureCause.TASK });
  });

  it("suspends on a long retry delay and resumes the task on replay once due", async () => {
    let n = 0;
    const slow = counted(
      "slow-retry",
      () => {
        if (++n === 1) throw new Error("first");
        return n;
      },
      { retry: { type: "exponential", maxAttempts: 2, baseDelayMs: 60_000 } },
    );
    const v = workflow({ name: `wf-${++wf}` }).v("1", { handler: (run) => slow.t.start(run) });
    const server = serverFor(v);
    expect(await execute(server, v).done).toBe("suspended");
    expect(server.end).toEqual({ kind: "suspended", wait: `task_retry ${server.tasks[0]?.id}` });
    expect(server.tasks[0]?.status).toBe(TaskStatus.AWAITING_RETRY);

    // Replayed early (e.g. resumed after a pause): suspends again instead of running early.
    expect(await execute(server, v).done).toBe("suspended");
    expect(slow.calls).toHaveLength(1);

    server.makeRetryDue();
    expect(await execute(server, v).done).toBe("completed");
    expect(output(server)).toBe(2);
  });

  it("validates task input and output with the task's schemas", async () => {
    const positive: Schema<number> = {
      parse(x: unknown) {
        if (typeof x !== "number" || x <= 0) throw new Error("must be positive");
        return x;
      },
    };
    const sqrt = task({ name: "sqrt", handler: (x: number) => Math.sqrt(x), schema: { input: positive } });
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        try {
          await sqrt.start(run, -4);
        } catch (error) {
          return (error as TaskFailedError).failure.type;
        }
      },
    });
    const server = serverFor(v);
    await execute(server, v).done;
    expect(output(server)).toBe("SchemaValidationError");
  });
});

describe("task completions ride on the run's next write", () => {
  it("a task's success is carried by the next StartTask, the last one's by CompleteRun", async () => {
    const a = counted("a", () => 1);
    const b = counted("b", () => 2);
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        return (await a.t.start(run)) + (await b.t.start(run));
      },
    });
    const server = serverFor(v);
    expect(await execute(server, v).done).toBe("completed");
    expect(output(server)).toBe(3);
    expect(server.calls).toEqual(["StartTask a#0", "StartTask b#0", "+completed a#0", "CompleteRun", "+completed b#0"]);
    expect(server.tasks.map((t) => [t.name, t.status, fromValue(t.output)])).toEqual([
      ["a", TaskStatus.COMPLETED, 1],
      ["b", TaskStatus.COMPLETED, 2],
    ]);
  });

  it("by the SuspendRun that follows it, whether or not the run suspends", async () => {
    const a = counted("a", () => "x");
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        await a.t.start(run);
        await run.sleep("nap", { hours: 1 });
        return "done";
      },
    });
    const server = serverFor(v);
    expect(await execute(server, v).done).toBe("suspended");
    expect(server.calls).toEqual(["StartTask a#0", "SuspendRun sleep nap#0", "+completed a#0"]);
    expect(server.tasks[0]?.status).toBe(TaskStatus.COMPLETED);
  });

  it("is recorded on its own, a turn later, when no write follows at once", async () => {
    const a = counted("a", () => "x");
    let callsAfterPause: string[] = [];
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        await a.t.start(run);
        // Not a durable call: the completion must not wait for the next one.
        await new Promise((r) => setTimeout(r, 30));
        callsAfterPause = [...server.calls];
        return "done";
      },
    });
    const server = serverFor(v);
    expect(await execute(server, v).done).toBe("completed");
    expect(callsAfterPause).toEqual(["StartTask a#0", "CompleteTask a#0"]);
    expect(server.calls).toEqual(["StartTask a#0", "CompleteTask a#0", "CompleteRun"]);
  });

  it("is recorded before a write that cannot carry it: a failed run (so a workflow retry finds it cached), a child start", async () => {
    const a = counted("a", () => "x");
    const failing = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        await a.t.start(run);
        throw new Error("after a");
      },
    });
    const server = serverFor(failing);
    expect(await execute(server, failing).done).toBe("failed");
    expect(server.calls).toEqual(["StartTask a#0", "CompleteTask a#0", "FailRun"]);

    const child = workflow({ name: `wf-${++wf}` }).v("1", { handler: async () => 1 });
    const parent = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        await a.t.start(run);
        await child.startAsChild(run, undefined);
        return "ok";
      },
    });
    const second = serverFor(parent);
    expect(await execute(second, parent).done).toBe("completed");
    expect(second.calls.slice(0, 3)).toEqual(["StartTask a#0", "CompleteTask a#0", expect.stringMatching(/^StartChildRun /)]);
  });

  it("a lost lease drops what was not yet recorded: the task runs again on the next lease", async () => {
    const a = counted("a", () => {
      // The run is taken away while a runs: the write that carries a's success is refused.
      server.loseLeaseOnNextWrite = true;
      return "x";
    });
    const b = counted("b", () => "y");
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        await a.t.start(run);
        await b.t.start(run);
        return "done";
      },
    });
    const server = serverFor(v);
    expect(await execute(server, v).done).toBe("lease_lost");
    expect(server.tasks.map((t) => [t.name, t.status])).toEqual([["a", TaskStatus.RUNNING]]);
    expect(b.calls).toHaveLength(0);
  });
});

describe("non-determinism", () => {
  const a = counted("a", () => "A");
  const b = counted("b", () => "B");
  const c = counted("c", () => "C");

  async function recorded(order: ("a" | "b")[]) {
    const first = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        for (const name of order) await (name === "a" ? a : b).t.start(run);
        await run.sleep("pause", { hours: 1 });
      },
    });
    const server = serverFor(first);
    expect(await execute(server, first).done).toBe("suspended");
    server.finishSleep("pause", 0);
    return { server, name: first.name };
  }

  it("fails the run before a new task runs when recorded calls are unconsumed, naming them", async () => {
    const { server, name } = await recorded(["a", "b"]);
    const changed = workflow({ name }).v("1", {
      async handler(run) {
        await c.t.start(run);
        await a.t.start(run);
      },
    });
    const before = c.calls.length;
    expect(await execute(server, changed).done).toBe("failed");
    expect(c.calls).toHaveLength(before);
    expect(server.calls.filter((x) => x.startsWith("StartTask c"))).toEqual([]);
    expect(server.end).toMatchObject({ kind: "failed", cause: RunFailureCause.NON_DETERMINISM });
    if (server.end?.kind !== "failed") return;
    expect(server.end.failure?.type).toBe("NonDeterminismError");
    expect(server.end.failure?.nonRetryable).toBe(true);
    expect(server.end.failure?.message).toMatch(/task "c"/);
    expect(server.end.failure?.message).toMatch(/task "a" .* #0 \(completed\)/);
    expect(server.end.failure?.message).toMatch(/task "b" .* #0 \(completed\)/);
    expect(server.end.failure?.message).toMatch(/sleep "pause" #0 \(completed\)/);
  });

  it("allows appending, reordering and removing calls", async () => {
    const appended = await recorded(["a"]);
    const v1 = workflow({ name: appended.name }).v("1", {
      async handler(run) {
        await a.t.start(run);
        await run.sleep("pause", { hours: 1 });
        return b.t.start(run);
      },
    });
    expect(await execute(appended.server, v1).done).toBe("completed");

    const reordered = await recorded(["a", "b"]);
    const v2 = workflow({ name: reordered.name }).v("1", {
      async handler(run) {
        await b.t.start(run);
        await a.t.start(run);
        await run.sleep("pause", { hours: 1 });
        return c.t.start(run);
      },
    });
    expect(await execute(reordered.server, v2).done).toBe("completed");

    const removed = await recorded(["a", "b"]);
    const v3 = workflow({ name: removed.name }).v("1", {
      async handler(run) {
        await b.t.start(run);
        return "done";
      },
    });
    expect(await execute(removed.server, v3).done).toBe("completed");
  });

  it("lets concurrent branches of a replay catch up before judging a new call", async () => {
    // Branch 1 was slow the first time, so its second task was never recorded; on replay its
    // cached answer comes first and meets the new call while branch 2 still has entries to replay.
    const slowA = counted("slow-a", () => new Promise<string>((r) => setTimeout(() => r("A"), 40)));
    const b2 = counted("b2", () => "B");
    const x = counted("x", () => "X");
    const y = counted("y", () => "Y");
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        await Promise.all([
          (async () => {
            await slowA.t.start(run);
            await b2.t.start(run);
          })(),
          (async () => {
            await x.t.start(run);
            await y.t.start(run);
            await run.sleep("z", { minutes: 1 });
          })(),
        ]);
        return "done";
      },
    });
    const server = serverFor(v);
    expect(await execute(server, v).done).toBe("suspended");
    expect(server.tasks.map((t) => t.name).sort()).toEqual(["slow-a", "x", "y"]);
    server.finishSleep("z", 0);
    expect(await execute(server, v).done).toBe("completed");
    expect(b2.calls).toHaveLength(1);
    expect(slowA.calls).toHaveLength(1);
  });
});

describe("sleeps, events, suspension", () => {
  it("suspends on a sleep, then replays it as done or cancelled", async () => {
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        const first = await run.sleep("nap", { seconds: 30 });
        const second = await run.sleep("nap", 0);
        return [first.cancelled, second.cancelled];
      },
    });
    const server = serverFor(v);
    expect(await execute(server, v).done).toBe("suspended");
    expect(server.end).toEqual({ kind: "suspended", wait: "sleep nap#0" });
    expect(server.calls).not.toContain("CompleteRun");

    server.finishSleep("nap", 0, SleepStatus.CANCELLED);
    expect(await execute(server, v).done).toBe("completed");
    expect(output(server)).toEqual([true, false]);
  });

  it("receives a pending event within the same execution, and times out", async () => {
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        const accepted = await run.events.accepted.wait();
        const maybe = await run.events.accepted.wait({ timeout: { minutes: 5 } });
        return { eta: accepted.data.eta, timedOut: maybe.timeout };
      },
      events: { accepted: event<{ eta: number }>() },
    });
    const server = serverFor(v);
    server.sendEvent("accepted", { eta: 30 });
    expect(await execute(server, v).done).toBe("suspended");
    expect(server.end).toEqual({ kind: "suspended", wait: "event accepted#1" });
    server.timeOutEventWait("accepted", 1);
    expect(await execute(server, v).done).toBe("completed");
    expect(output(server)).toEqual({ eta: 30, timedOut: true });
  });

  it("waits for tasks in flight before suspending, and writes nothing after", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow = task({
      name: "slow",
      async handler() {
        await gate;
        return 1;
      },
    });
    const after = counted("after", () => 2);
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        try {
          await Promise.all([slow.start(run), run.sleep("s", 1000)]);
        } catch {
          // Swallowing the end of the execution must not let the handler write again.
        }
        await after.t.start(run).catch(() => undefined);
        return "unreachable";
      },
    });
    const server = serverFor(v);
    const { done } = execute(server, v);
    await new Promise((r) => setTimeout(r, 30));
    expect(server.calls).toEqual(["StartTask slow#0"]);
    release();
    expect(await done).toBe("suspended");
    // The task's success is recorded by the suspension itself, in its transaction.
    expect(server.calls).toEqual(["StartTask slow#0", "SuspendRun sleep s#0", "+completed slow#0"]);
    expect(after.calls).toHaveLength(0);
  });

  it("parks a handler that swallows the end and calls again, instead of spinning", async () => {
    let attempts = 0;
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        for (;;) {
          attempts++;
          try {
            await run.sleep("retrying", 1000);
            return "slept";
          } catch {
            // a "retry on any error" loop
          }
        }
      },
    });
    const server = serverFor(v);
    expect(await execute(server, v).done).toBe("suspended");
    await new Promise((r) => setTimeout(r, 20));
    expect(attempts).toBe(2);
    expect(server.calls).toEqual(["SuspendRun sleep retrying#0"]);
  });

  it("stops quietly when a write finds the lease lost", async () => {
    const t1 = counted("t1", () => 1);
    const t2 = counted("t2", () => 2);
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        await t1.t.start(run);
        await t2.t.start(run);
      },
    });
    const server = serverFor(v);
    server.loseLeaseOnNextWrite = true;
    expect(await execute(server, v).done).toBe("lease_lost");
    expect(server.calls).toEqual(["StartTask t1#0"]);
    expect(t1.calls).toHaveLength(0);
  });

  it("stops on abort from outside (heartbeat says the lease is gone) with no more writes", async () => {
    let entered!: () => void;
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    const long = task({
      name: "long",
      async handler() {
        entered();
        await new Promise((r) => setTimeout(r, 50));
        return 1;
      },
    });
    const v = workflow({ name: `wf-${++wf}` }).v("1", { handler: (run) => long.start(run) });
    const server = serverFor(v);
    const { execution, done } = execute(server, v);
    await inside;
    execution.abort("lease_lost");
    expect(await done).toBe("lease_lost");
    await new Promise((r) => setTimeout(r, 80));
    expect(server.calls).toEqual(["StartTask long#0"]);
  });
});

describe("outcomes and children", () => {
  it("fails with HANDLER for a throw, and OUTPUT_SCHEMA (non-retryable) for a bad output", async () => {
    const throws = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler() {
        throw new RangeError("bad state");
      },
    });
    const s1 = serverFor(throws);
    await execute(s1, throws).done;
    expect(s1.end).toMatchObject({ kind: "failed", cause: RunFailureCause.HANDLER, failure: { message: "bad state", type: "RangeError" } });

    const badOutput = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler() {
        return { total: "ten" as unknown as number };
      },
      schema: {
        output: {
          parse(x: unknown) {
            if (typeof (x as { total?: unknown }).total !== "number") throw new Error("total must be a number");
            return x as { total: number };
          },
        },
      },
    });
    const s2 = serverFor(badOutput);
    await execute(s2, badOutput).done;
    expect(s2.end).toMatchObject({ kind: "failed", cause: RunFailureCause.OUTPUT_SCHEMA, failure: { type: "SchemaValidationError", nonRetryable: true } });
  });

  it("starts a child once across replays and waits for it durably", async () => {
    const child = workflow({ name: `child-${++wf}` }).v("1", {
      async handler(_run, input: { id: string }) {
        return { courier: `c-${input.id}` };
      },
    });
    const parent = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        const handle = await child.startAsChild(run, { id: "7" });
        const result = await handle.waitForStatus("completed");
        return result.success ? result.state.output.courier : result.cause;
      },
    });
    const server = serverFor(parent);
    expect(await execute(server, parent).done).toBe("suspended");
    expect(server.childRuns).toHaveLength(1);
    const childId = server.childRuns[0]!.childRunId;
    expect(server.childRuns[0]!.key).toMatch(/^input:[0-9a-f]{64}$/);
    expect(server.end).toEqual({ kind: "suspended", wait: `child ${childId}#0` });

    server.finishChild(childId, RunStatus.COMPLETED, { courier: "c-7" });
    expect(await execute(server, parent).done).toBe("completed");
    expect(output(server)).toBe("c-7");
    expect(server.calls.filter((c) => c.startsWith("StartChildRun"))).toHaveLength(1);
  });

  it("answers run_terminated for another terminal status, and fails CHILD_SCHEMA for a cached output off schema", async () => {
    const child = workflow({ name: `child-${++wf}` }).v("1", {
      async handler() {
        return { n: 1 };
      },
      schema: {
        output: {
          parse(x: unknown) {
            if (typeof (x as { n?: unknown }).n !== "number") throw new Error("n must be a number");
            return x as { n: number };
          },
        },
      },
    });
    const parent = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        const handle = await child.with().opt("reference.id", "kid").startAsChild(run, undefined);
        const result = await handle.waitForStatus("completed");
        return result.success ? result.state.output.n : result.cause;
      },
    });
    const cancelled = serverFor(parent);
    await execute(cancelled, parent).done;
    expect(cancelled.childRuns[0]!.key).toBe("kid");
    cancelled.finishChild(cancelled.childRuns[0]!.childRunId, RunStatus.CANCELLED);
    await execute(cancelled, parent).done;
    expect(output(cancelled)).toBe("run_terminated");

    const offSchema = serverFor(parent);
    await execute(offSchema, parent).done;
    offSchema.finishChild(offSchema.childRuns[0]!.childRunId, RunStatus.COMPLETED, { n: "one" });
    await execute(offSchema, parent).done;
    expect(offSchema.end).toMatchObject({ kind: "failed", cause: RunFailureCause.CHILD_SCHEMA });
  });
});

describe("eager tasks (eagerTasks)", () => {
  /** Notes when each StartTask is sent and answered; the answer comes a few turns later. */
  function watchStarts(server: FakeLeaseServer, events: string[]) {
    const startTask = server.rpc.tasks.startTask;
    server.rpc.tasks.startTask = (async (req: Parameters<typeof startTask>[0], options?: Parameters<typeof startTask>[1]) => {
      events.push(`sent ${req.name}`);
      for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
      const answer = await startTask(req, options);
      events.push(`answered ${req.name}`);
      return answer;
    }) as typeof startTask;
  }

  for (const eagerTasks of [false, true]) {
    it(`a task never started runs ${eagerTasks ? "while its StartTask is in flight" : "once its StartTask answered"}; its outcome is recorded after the answer either way`, async () => {
      const events: string[] = [];
      const a = counted("a", () => events.push("ran a"));
      const b = counted("b", () => events.push("ran b"));
      const v = workflow({ name: `wf-${++wf}` }).v("1", {
        async handler(run) {
          await a.t.start(run);
          await b.t.start(run);
          return "done";
        },
      });
      const server = serverFor(v);
      watchStarts(server, events);
      expect(await execute(server, v, { eagerTasks }).done).toBe("completed");
      expect(events).toEqual(
        eagerTasks ? ["sent a", "ran a", "answered a", "sent b", "ran b", "answered b"] : ["sent a", "answered a", "ran a", "sent b", "answered b", "ran b"],
      );
      // a's completion rides on b's StartTask, b's on CompleteRun: after their own StartTask answers.
      expect(server.calls).toEqual(["StartTask a#0", "StartTask b#0", "+completed a#0", "CompleteRun", "+completed b#0"]);
      expect(server.tasks.map((t) => [t.name, t.status, t.attempts])).toEqual([
        ["a", TaskStatus.COMPLETED, 1],
        ["b", TaskStatus.COMPLETED, 1],
      ]);
    });
  }

  it("never runs a task the history has a record of early: a replay returns the cached output", async () => {
    const double = counted("double", (n: number) => n * 2);
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run, input: number) {
        return (await double.t.start(run, input)) + (await double.t.start(run, input + 1));
      },
    });
    const server = serverFor(v, 3);
    expect(await execute(server, v, { eagerTasks: true }).done).toBe("completed");
    expect(double.calls).toEqual([3, 4]);
    expect(await execute(server, v, { eagerTasks: true }).done).toBe("completed");
    expect(double.calls).toEqual([3, 4]);
    expect(output(server)).toBe(14);
  });

  it("a failure of an eager attempt is recorded against the attempt StartTask counted, then retried as usual", async () => {
    let tries = 0;
    const flaky = counted(
      "flaky",
      () => {
        if (++tries === 1) throw new Error("first try fails");
        return tries;
      },
      { retry: { type: "fixed", maxAttempts: 3, delayMs: 1 } },
    );
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        return flaky.t.start(run);
      },
    });
    const server = serverFor(v);
    expect(await execute(server, v, { eagerTasks: true }).done).toBe("completed");
    expect(output(server)).toBe(2);
    expect(server.calls.filter((c) => /Task/.test(c))).toEqual(["StartTask flaky#0", "FailTask flaky#0", "StartTask flaky#0"]);
    expect(server.tasks.map((t) => [t.status, t.attempts])).toEqual([[TaskStatus.COMPLETED, 2]]);
  });

  it("a task whose StartTask finds the lease lost has run once, and nothing of it is written", async () => {
    let ran!: () => void;
    const taskRan = new Promise<void>((resolve) => {
      ran = resolve;
    });
    const t1 = counted("t1", () => {
      ran();
      return 1;
    });
    const v = workflow({ name: `wf-${++wf}` }).v("1", {
      async handler(run) {
        await t1.t.start(run);
      },
    });
    const server = serverFor(v);
    server.loseLeaseOnNextWrite = true;
    // The refusal comes back only once the task has begun (a round trip slower than the task's start).
    const startTask = server.rpc.tasks.startTask;
    server.rpc.tasks.startTask = (async (req: Parameters<typeof startTask>[0], options?: Parameters<typeof startTask>[1]) => {
      await taskRan;
      return startTask(req, options);
    }) as typeof startTask;
    expect(await execute(server, v, { eagerTasks: true }).done).toBe("lease_lost");
    expect(server.calls).toEqual(["StartTask t1#0"]);
    expect(t1.calls).toHaveLength(1);
  });
});
