// docs/semantics.md, Replay, on a real server (Postgres, Redis) with a real worker: the address
// queue, cached outputs and failures, safe and unsafe code changes between executions, schemas, and
// the workflow retry policy. Code "changes" between executions through variables the handlers read;
// a one-hour sleep ended with awake() forces the replay.
import { createHash } from "node:crypto";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { ReplayMismatchError, type Schema, task, TaskFailedError, workflow } from "@aiki/sdk";
import { taskAddress } from "@aiki/sdk/internal";
import { tasksOf, transitionsOf, uniq, useRealAiki } from "./support/real-aiki.js";

const real = useRealAiki();

/** A task whose handler counts its calls and answers `name:n` for the n-th call with this input. */
function counted(name: string) {
  const calls: unknown[] = [];
  const t = task({
    name,
    async handler(input: string) {
      calls.push(input);
      return `${name}(${input}):${calls.filter((c) => c === input).length}`;
    },
  });
  return { t, calls };
}

describe("replay", () => {
  it("queues calls to one address in call order, returns recorded outputs and rethrows recorded failures without running them again", async () => {
    const echo = counted("echo");
    let boomCalls = 0;
    const boom = task({
      name: "boom",
      handler(_input: string): string {
        boomCalls++;
        throw new Error("kaboom");
      },
    });
    const seen: { outputs: string[]; caught: unknown[] }[] = [];
    const v = workflow({ name: uniq("queue") }).v("1", {
      async handler(run) {
        const outputs: string[] = [];
        const caught: unknown[] = [];
        seen.push({ outputs, caught });
        // Three calls to one address (same name, same input) and one to another.
        outputs.push(await echo.t.start(run, "x"));
        outputs.push(await echo.t.start(run, "y"));
        outputs.push(await echo.t.start(run, "x"));
        outputs.push(await echo.t.start(run, "x"));
        try {
          await boom.start(run, "z");
        } catch (error) {
          caught.push(error);
        }
        await run.sleep("replay-me", { hours: 1 });
        return outputs;
      },
    });
    await real.spawn([v]);
    const handle = await v.start(real.client, undefined);
    expect((await handle.waitForStatus("sleeping", { timeout: 10_000 })).success).toBe(true);
    await handle.awake();
    const done = await handle.waitForStatus("completed", { timeout: 10_000 });
    expect(done.success).toBe(true);

    const expected = ["echo(x):1", "echo(y):1", "echo(x):2", "echo(x):3"];
    expect(done.success && done.state.output).toEqual(expected);
    // Two executions; the second saw the same outputs in the same order from history.
    expect(seen).toHaveLength(2);
    expect(seen[1]!.outputs).toEqual(expected);
    // Each recorded task ran once, whatever the replays.
    expect(echo.calls).toEqual(["x", "y", "x", "x"]);
    expect(boomCalls).toBe(1);
    // The recorded failure came back as a TaskFailedError on the replay, as the first time.
    for (const { caught } of seen) {
      expect(caught).toHaveLength(1);
      expect(caught[0]).toBeInstanceOf(TaskFailedError);
      expect(caught[0]).toMatchObject({ taskName: "boom", attempts: 1, failure: { message: "kaboom" } });
    }
    const records = await tasksOf(real.client, handle.run.id);
    expect(records.map((r) => [r.name, r.sequence, r.status]).sort()).toEqual(
      [
        ["boom", 0, TaskStatus.FAILED],
        ["echo", 0, TaskStatus.COMPLETED],
        ["echo", 0, TaskStatus.COMPLETED],
        ["echo", 1, TaskStatus.COMPLETED],
        ["echo", 2, TaskStatus.COMPLETED],
      ].sort(),
    );
  });

  it("allows reordering, appending and removing task calls across replays", async () => {
    const a = counted("a");
    const b = counted("b");
    const c = counted("c");
    // What the handler does, changed by the test between executions.
    let plan: "first" | "reordered-and-appended" | "removed" = "first";
    const outputs: string[][] = [];
    const v = workflow({ name: uniq("changes") }).v("1", {
      async handler(run) {
        const out: string[] = [];
        outputs.push(out);
        if (plan === "first") {
          out.push(await a.t.start(run, "1"));
          out.push(await b.t.start(run, "1"));
          await run.sleep("one", { hours: 1 });
        } else if (plan === "reordered-and-appended") {
          out.push(await b.t.start(run, "1"));
          out.push(await a.t.start(run, "1"));
          await run.sleep("one", { hours: 1 });
          out.push(await c.t.start(run, "1"));
          await run.sleep("two", { hours: 1 });
        } else {
          // b removed
          out.push(await a.t.start(run, "1"));
          await run.sleep("one", { hours: 1 });
          out.push(await c.t.start(run, "1"));
          await run.sleep("two", { hours: 1 });
        }
        return out;
      },
    });
    await real.spawn([v]);
    const handle = await v.start(real.client, undefined);
    expect((await handle.waitForStatus("sleeping", { timeout: 10_000 })).success).toBe(true);

    plan = "reordered-and-appended";
    await handle.awake();
    // awake() answered with the run queued, so this can only be the next sleep: the replay got
    // past sleep "one" into the appended part.
    expect((await handle.waitForStatus("sleeping", { timeout: 10_000 })).success).toBe(true);
    expect((await transitionsOf(real.client, handle.run.id)).raw.at(-1)?.reason).toBe("sleep two");
    plan = "removed";
    await handle.awake();
    const done = await handle.waitForStatus("completed", { timeout: 10_000 });
    if (!done.success) throw new Error(`run ended ${done.cause}: ${JSON.stringify((await handle.refresh()).state)}`);
    expect(done.state.output).toEqual(["a(1):1", "c(1):1"]);
    expect(outputs).toEqual([
      ["a(1):1", "b(1):1"],
      ["b(1):1", "a(1):1", "c(1):1"],
      ["a(1):1", "c(1):1"],
    ]);
    expect([a.calls.length, b.calls.length, c.calls.length]).toEqual([1, 1, 1]);
  });
});

describe("non-determinism", () => {
  it("a task inserted before recorded ones fails the run naming them; it never runs, is not stored, and the run is not retried", async () => {
    const a = counted("a");
    const b = counted("b");
    const inserted = counted("inserted");
    let insert = false;
    const v = workflow({ name: uniq("inserted") }).v("1", {
      async handler(run) {
        if (insert) await inserted.t.start(run, "new");
        await a.t.start(run, "1");
        await b.t.start(run, "1");
        await run.sleep("nap", { hours: 1 });
        return "done";
      },
      // A workflow retry policy that would retry any retryable failure.
      opts: { retry: { type: "fixed", maxAttempts: 3, delayMs: 10 } },
    });
    await real.spawn([v]);
    const handle = await v.start(real.client, undefined);
    expect((await handle.waitForStatus("sleeping", { timeout: 10_000 })).success).toBe(true);
    insert = true;
    await handle.awake();
    const failed = await handle.waitForStatus("failed", { timeout: 10_000 });
    if (!failed.success) throw new Error(`run did not fail: ${failed.cause} ${JSON.stringify((await handle.refresh()).state)}`);
    expect(failed.state.cause).toBe("non_determinism");
    expect(failed.state.failure.type).toBe("NonDeterminismError");
    expect(failed.state.failure.nonRetryable).toBe(true);
    const message = failed.state.failure.message;
    expect(message).toMatch(/task "inserted"/);
    expect(message).toMatch(/task "a" \(a:[0-9a-f]+\) #0 \(completed\)/);
    expect(message).toMatch(/task "b" \(b:[0-9a-f]+\) #0 \(completed\)/);
    expect(message).toMatch(/sleep "nap" #0 \(cancelled\)/);
    expect(inserted.calls).toHaveLength(0);
    expect([a.calls.length, b.calls.length]).toEqual([1, 1]);
    expect((await tasksOf(real.client, handle.run.id)).map((t) => t.name).sort()).toEqual(["a", "b"]);
    // Not retried: one workflow attempt, and the run went to failed, never to awaiting_retry.
    const run = await handle.refresh();
    expect(run.attempts).toBe(1);
    const { path } = await transitionsOf(real.client, handle.run.id);
    expect(path).not.toContain("running>awaiting_retry");
    expect(path.at(-1)).toBe("running>failed");
  });
});

describe("replay addresses", () => {
  it("a record whose address is not the call's (written from 5.0 where the call has 5) fails the run naming both; the task ran exactly once", async () => {
    let doubleCalls = 0;
    const double = task({
      name: "double",
      async handler(input: { n: number }) {
        doubleCalls++;
        return input.n * 2;
      },
    });
    const v = workflow({ name: uniq("mismatch") }).v("1", {
      async handler(run, input: { n: number }) {
        const doubled = await double.start(run, { n: input.n });
        await run.sleep("nap", { hours: 1 });
        return doubled;
      },
      opts: { retry: { type: "fixed", maxAttempts: 3, delayMs: 10 } },
    });
    await real.spawn([v]);
    const handle = await v.start(real.client, { n: 5 });
    expect((await handle.waitForStatus("sleeping", { timeout: 10_000 })).success).toBe(true);
    expect(doubleCalls).toBe(1);

    // The history as a worker in another language would have written it before the server
    // verified addresses: its JSON wrote the input {"n":5} as {"n":5.0} and hashed that.
    const called = taskAddress("double", { n: 5 });
    const recorded = `double:${createHash("sha256").update('{"n":5.0}').digest("hex")}`;
    expect(recorded).not.toBe(called);
    const rewritten = await sql`update tasks set address = ${recorded} where run_id = ${handle.run.id} and name = 'double'`.execute(real.aiki.deps.db);
    expect(rewritten.numAffectedRows).toBe(1n);

    await handle.awake();
    const failed = await handle.waitForStatus("failed", { timeout: 10_000 });
    if (!failed.success) throw new Error(`run did not fail: ${failed.cause} ${JSON.stringify((await handle.refresh()).state)}`);
    expect(failed.state.cause).toBe("non_determinism");
    expect(failed.state.failure.type).toBe(ReplayMismatchError.name);
    expect(failed.state.failure.nonRetryable).toBe(true);
    expect(failed.state.failure.message).toContain(
      `task "double" was called at address ${called}, but its record (same task, same input) has address ${recorded}`,
    );
    // Never run again, nothing new recorded, and no workflow retry.
    expect(doubleCalls).toBe(1);
    const records = await tasksOf(real.client, handle.run.id);
    expect(records.map((r) => [r.address, r.status, r.attempts])).toEqual([[recorded, TaskStatus.COMPLETED, 1]]);
    expect((await handle.refresh()).attempts).toBe(1);
  });
});

/** A schema that accepts `{ n: number }`, or only `{ n: string }` once `strict.on` is set. */
function switchableSchema(strict: { on: boolean }): Schema<{ n: number }> {
  return {
    parse(x: unknown) {
      const n = (x as { n?: unknown } | null)?.n;
      if (strict.on ? typeof n !== "string" : typeof n !== "number") throw new Error(`n must be a ${strict.on ? "string" : "number"}`);
      return x as { n: number };
    },
  };
}

describe("schemas", () => {
  it("an output failing the workflow's schema fails the run without a workflow retry", async () => {
    let executions = 0;
    const v = workflow({ name: uniq("bad-output") }).v("1", {
      async handler() {
        executions++;
        return { n: "one" as unknown as number };
      },
      schema: { output: switchableSchema({ on: false }) },
      opts: { retry: { type: "fixed", maxAttempts: 3, delayMs: 10 } },
    });
    await real.spawn([v]);
    const handle = await v.start(real.client, undefined);
    const failed = await handle.waitForStatus("failed", { timeout: 10_000 });
    if (!failed.success) throw new Error(`run did not fail: ${failed.cause}`);
    expect(failed.state.cause).toBe("output_schema");
    expect(failed.state.failure).toMatchObject({ type: "SchemaValidationError", nonRetryable: true });
    expect(failed.state.failure.message).toMatch(/n must be a number/);
    expect(executions).toBe(1);
    expect((await handle.refresh()).attempts).toBe(1);
    expect((await transitionsOf(real.client, handle.run.id)).path).toEqual([">queued", "queued>running", "running>failed"]);
  });

  it("a cached child output is checked against the child's schema on replay", async () => {
    const strict = { on: false };
    let childRuns = 0;
    const child = workflow({ name: uniq("child") }).v("1", {
      async handler() {
        childRuns++;
        return { n: 1 };
      },
      schema: { output: switchableSchema(strict) },
    });
    const seen: unknown[] = [];
    const parent = workflow({ name: uniq("parent") }).v("1", {
      async handler(run) {
        const h = await child.startAsChild(run, undefined);
        const result = await h.waitForStatus("completed");
        seen.push(result.success ? result.state.output : result.cause);
        await run.sleep("later", { hours: 1 });
        return "replayed past the child";
      },
    });
    await real.spawn([parent, child]);
    const handle = await parent.start(real.client, undefined);
    expect((await handle.waitForStatus("sleeping", { timeout: 10_000 })).success).toBe(true);
    expect(seen).toEqual([{ n: 1 }]);
    // The child's schema changes under the recorded output; the replay must notice.
    strict.on = true;
    await handle.awake();
    const failed = await handle.waitForStatus("failed", { timeout: 10_000 });
    if (!failed.success) throw new Error(`run did not fail: ${failed.cause} ${JSON.stringify((await handle.refresh()).state)}`);
    expect(failed.state.cause).toBe("child_schema");
    expect(failed.state.failure.type).toBe("SchemaValidationError");
    expect(failed.state.failure.message).toMatch(/n must be a string/);
    expect(seen).toEqual([{ n: 1 }]);
    expect(childRuns).toBe(1);
  });
});

describe("workflow retry policy", () => {
  it("goes awaiting_retry after a task failure, then replays with completed tasks cached and the failed one on a fresh budget", async () => {
    const a = counted("a");
    let bCalls = 0;
    const b = task({
      name: "b",
      async handler(input: string) {
        bCalls++;
        if (bCalls === 1) throw new Error("b fails the first time");
        return `b(${input})`;
      },
      opts: { retry: { type: "fixed", maxAttempts: 1, delayMs: 0 } },
    });
    const attempts: number[] = [];
    const v = workflow({ name: uniq("wf-retry") }).v("1", {
      async handler(run) {
        attempts.push(run.attempt);
        const first = await a.t.start(run, "1");
        const second = await b.start(run, "1");
        return [first, second];
      },
    });
    await real.spawn([v]);
    const handle = await v.with().opt("retry", { type: "fixed", maxAttempts: 2, delayMs: 500 }).start(real.client, undefined);
    const retrying = await handle.waitForStatus("awaiting_retry", { timeout: 10_000 });
    expect(retrying.success).toBe(true);
    if (retrying.success) expect(retrying.state.failure?.message).toMatch(/b fails the first time/);
    const done = await handle.waitForStatus("completed", { timeout: 10_000 });
    if (!done.success) throw new Error(`run did not complete: ${done.cause} ${JSON.stringify((await handle.refresh()).state)}`);
    expect(done.state.output).toEqual(["a(1):1", "b(1)"]);
    expect(attempts).toEqual([1, 2]);
    expect(a.calls).toHaveLength(1);
    expect(bCalls).toBe(2);
    const run = await handle.refresh();
    expect(run.attempts).toBe(2);
    const records = await tasksOf(real.client, handle.run.id);
    const bRecord = records.find((t) => t.name === "b");
    // A fresh budget: one attempt of one allowed, in workflow attempt 2.
    expect(bRecord).toMatchObject({ status: TaskStatus.COMPLETED, attempts: 1, workflowAttempt: 2 });
    expect(records.find((t) => t.name === "a")).toMatchObject({ status: TaskStatus.COMPLETED, attempts: 1, workflowAttempt: 1 });
    expect((await transitionsOf(real.client, handle.run.id)).path).toEqual([
      ">queued",
      "queued>running",
      "running>awaiting_retry",
      "awaiting_retry>queued",
      "queued>running",
      "running>completed",
    ]);
  });
});
