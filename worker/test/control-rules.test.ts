// docs/semantics.md, Control during execution, Children, and Leases and fencing (heartbeats), on a
// real server with a real worker: a pause or cancel while a task or the handler is in flight fences
// the worker's next write; cancel cascades down, completion does not; a cancelled child wakes its
// parent; a long task on a short lease stays leased.
import { describe, expect, it } from "vitest";
import { TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { event, task, workflow } from "@aiki/sdk";
import { clientInternals } from "@aiki/sdk/internal";
import { gate, recordingLogger, tasksOf, transitionsOf, uniq, useRealAiki } from "./support/real-aiki.js";

const real = useRealAiki();

// Heartbeats go every third of the lease TTL. A long TTL keeps them out of the way, so the first
// to learn that the lease is gone is the execution's own next write.
// eagerTasks off: these tests act once a task has entered its handler and expect its StartTask
// to have committed by then (with eager tasks a task may run while its StartTask is in flight,
// so a pause or cancel at that moment refuses the StartTask instead; see the eager test below).
const quietHeartbeats = { leaseTtlMs: 60_000, eagerTasks: false };

/** Task "a": counts its calls. */
function countedA() {
  let calls = 0;
  const t = task({
    name: "a",
    async handler(input: string) {
      calls++;
      return `a(${input})`;
    },
  });
  return { t, calls: () => calls };
}

/** Task "b": the first call enters `entered` and waits for `release`. */
function blockingB() {
  const entered = gate();
  const release = gate();
  let calls = 0;
  const t = task({
    name: "b",
    async handler(input: string) {
      calls++;
      if (calls === 1) {
        entered.open();
        await release.promise;
      }
      return `b(${input}):${calls}`;
    },
  });
  return { t, entered, release, calls: () => calls };
}

describe("pause during execution", () => {
  it("task A done, pause during task B: B's completion is refused and the worker stops; resume replays A from history and completes", async () => {
    const log = recordingLogger();
    const a = countedA();
    const b = blockingB();
    const v = workflow({ name: uniq("pause-mid-run") }).v("1", {
      async handler(run) {
        return [await a.t.start(run, "1"), await b.t.start(run, "1")];
      },
    });
    await real.spawn([v], { opts: { ...quietHeartbeats, logger: log } });
    const handle = await v.start(real.client, undefined);
    await b.entered.promise;
    await handle.pause("operator");
    b.release.open();
    // The worker's next write (the CompleteRun that carries B's success) finds the lease gone;
    // it stops that run, and B's success is not recorded.
    await log.waitFor(/^CompleteRun refused: the lease is lost/);
    expect((await handle.refresh()).state.status).toBe("paused");
    const bWhilePaused = (await tasksOf(real.client, handle.run.id)).find((t) => t.name === "b");
    expect(bWhilePaused?.status).not.toBe(TaskStatus.COMPLETED);

    await handle.resume();
    const done = await handle.waitForStatus("completed", { timeout: 10_000 });
    if (!done.success) throw new Error(`run did not complete: ${done.cause} ${JSON.stringify((await handle.refresh()).state)}`);
    expect(done.state.output).toEqual(["a(1)", "b(1):2"]);
    expect(a.calls()).toBe(1);
    expect(b.calls()).toBe(2);
    expect((await handle.refresh()).attempts).toBe(1);
  });
});

describe("cancel during execution", () => {
  it("a task's completion after a cancel is refused; the run stays cancelled", async () => {
    const log = recordingLogger();
    const b = blockingB();
    const v = workflow({ name: uniq("cancel-in-task") }).v("1", {
      async handler(run) {
        return b.t.start(run, "1");
      },
    });
    await real.spawn([v], { opts: { ...quietHeartbeats, logger: log } });
    const handle = await v.start(real.client, undefined);
    await b.entered.promise;
    await handle.cancel("withdrawn");
    b.release.open();
    // The task's success rides on the run's next write, the CompleteRun: refused.
    await log.waitFor(/^CompleteRun refused: the lease is lost/);
    const run = await handle.refresh();
    expect(run.state).toEqual({ status: "cancelled", reason: "withdrawn" });
    const [record] = await tasksOf(real.client, handle.run.id);
    expect(record?.status).not.toBe(TaskStatus.COMPLETED);
    expect(record?.output).toBeUndefined();
    expect(b.calls()).toBe(1);
    expect((await transitionsOf(real.client, handle.run.id)).path.at(-1)).toBe("running>cancelled");
  });

  it("the handler's return after a cancel is refused (CompleteRun); the run stays cancelled", async () => {
    const log = recordingLogger();
    const entered = gate();
    const release = gate();
    const a = countedA();
    const v = workflow({ name: uniq("cancel-in-handler") }).v("1", {
      async handler(run) {
        await a.t.start(run, "1");
        entered.open();
        await release.promise;
        return "too late";
      },
    });
    await real.spawn([v], { opts: { ...quietHeartbeats, logger: log } });
    const handle = await v.start(real.client, undefined);
    await entered.promise;
    await handle.cancel();
    release.open();
    await log.waitFor(/^CompleteRun refused: the lease is lost/);
    const run = await handle.refresh();
    expect(run.state.status).toBe("cancelled");
    expect(run.output).toBeUndefined();
    expect((await transitionsOf(real.client, handle.run.id)).path.filter((p) => p.endsWith(">completed"))).toEqual([]);
  });

  it("cancelling a parent cancels every non-terminal descendant, even one running a task, whose completion is then refused", async () => {
    const log = recordingLogger();
    const b = blockingB();
    let grandchildId: string | undefined;
    const grandchild = workflow({ name: uniq("grandchild") }).v("1", {
      async handler(run) {
        grandchildId = run.id;
        return b.t.start(run, "deep");
      },
    });
    const child = workflow({ name: uniq("child") }).v("1", {
      async handler(run) {
        const h = await grandchild.startAsChild(run, undefined);
        return (await h.waitForStatus("completed")).success;
      },
    });
    const parent = workflow({ name: uniq("parent") }).v("1", {
      async handler(run) {
        const h = await child.startAsChild(run, undefined);
        return (await h.waitForStatus("completed")).success;
      },
    });
    await real.spawn([parent, child, grandchild], { opts: { ...quietHeartbeats, logger: log } });
    const handle = await parent.start(real.client, undefined);
    await b.entered.promise;
    const { runs: children } = await clientInternals(real.client).runs.listChildRuns({ parentRunId: handle.run.id });
    expect(children).toHaveLength(1);
    const childHandle = await child.getHandleById(real.client, children[0]!.id);
    const grandchildHandle = await grandchild.getHandleById(real.client, grandchildId!);
    expect(grandchildHandle.run.parentRunId).toBe(childHandle.run.id);
    expect(grandchildHandle.run.state.status).toBe("running");

    await handle.cancel("order withdrawn");
    // The cascade is part of the cancel: no waiting needed.
    expect((await childHandle.refresh()).state.status).toBe("cancelled");
    expect((await grandchildHandle.refresh()).state.status).toBe("cancelled");
    b.release.open();
    // The grandchild's task success rides on its CompleteRun: refused.
    await log.waitFor(/^CompleteRun refused: the lease is lost/);
    expect((await grandchildHandle.refresh()).state.status).toBe("cancelled");
    expect((await tasksOf(real.client, grandchildId!))[0]?.status).not.toBe(TaskStatus.COMPLETED);
    expect((await handle.refresh()).state.status).toBe("cancelled");
  });
});

describe("children", () => {
  it("a parent that completes leaves its children alone: a child waiting for an event goes on and completes when it arrives", async () => {
    const child = workflow({ name: uniq("lingering-child") }).v("1", {
      async handler(run) {
        const { data } = await run.events.go.wait();
        return `got ${data}`;
      },
      events: { go: event<string>() },
    });
    const parent = workflow({ name: uniq("parent") }).v("1", {
      async handler(run) {
        const h = await child.startAsChild(run, undefined);
        return h.run.id;
      },
    });
    await real.spawn([parent, child]);
    const handle = await parent.start(real.client, undefined);
    const done = await handle.waitForStatus("completed", { timeout: 10_000 });
    if (!done.success) throw new Error(`parent did not complete: ${done.cause}`);
    const childHandle = await child.getHandleById(real.client, done.state.output);
    expect(childHandle.run.parentRunId).toBe(handle.run.id);
    // run_terminated here would mean the parent's completion ended the child.
    expect(await childHandle.waitForStatus("awaiting_event", { timeout: 10_000 })).toMatchObject({ success: true });
    await childHandle.events.go.send("late news");
    const childDone = await childHandle.waitForStatus("completed", { timeout: 10_000 });
    expect(childDone.success && childDone.state.output).toBe("got late news");
    expect((await transitionsOf(real.client, childHandle.run.id)).path.some((p) => p.endsWith(">cancelled"))).toBe(false);
  });

  it("a parent waiting for completed hears run_terminated when its child is cancelled", async () => {
    const child = workflow({ name: uniq("doomed-child") }).v("1", {
      async handler(run) {
        await run.events.never.wait();
        return "unreachable";
      },
      events: { never: event() },
    });
    const parent = workflow({ name: uniq("parent") }).v("1", {
      async handler(run) {
        const h = await child.startAsChild(run, undefined);
        const r = await h.waitForStatus("completed");
        return r.success ? "completed" : r.cause;
      },
    });
    await real.spawn([parent, child]);
    const handle = await parent.start(real.client, undefined);
    expect((await handle.waitForStatus("awaiting_child_workflow", { timeout: 10_000 })).success).toBe(true);
    const { runs: children } = await clientInternals(real.client).runs.listChildRuns({ parentRunId: handle.run.id });
    expect(children).toHaveLength(1);
    const childHandle = await child.getHandleById(real.client, children[0]!.id);
    expect((await childHandle.waitForStatus("awaiting_event", { timeout: 10_000 })).success).toBe(true);
    await childHandle.cancel("not needed");
    const done = await handle.waitForStatus("completed", { timeout: 10_000 });
    if (!done.success) throw new Error(`parent did not complete: ${done.cause} ${JSON.stringify((await handle.refresh()).state)}`);
    expect(done.state.output).toBe("run_terminated");
  });
});

describe("heartbeats", () => {
  it("keep a task much longer than the lease TTL alive: one attempt, no lease expiry", async () => {
    let calls = 0;
    const long = task({
      name: "long",
      async handler() {
        calls++;
        await new Promise((r) => setTimeout(r, 3_000));
        return "finished";
      },
      opts: { retry: { type: "fixed", maxAttempts: 3, delayMs: 0 } },
    });
    const v = workflow({ name: uniq("long-task") }).v("1", { handler: (run) => long.start(run) });
    await real.spawn([v], { opts: { leaseTtlMs: 1_000 } });
    const handle = await v.start(real.client, undefined);
    const done = await handle.waitForStatus("completed", { timeout: 15_000 });
    if (!done.success) throw new Error(`run did not complete: ${done.cause}`);
    expect(done.state.output).toBe("finished");
    expect(calls).toBe(1);
    expect((await handle.refresh()).attempts).toBe(1);
    expect((await tasksOf(real.client, handle.run.id)).map((t) => [t.status, t.attempts])).toEqual([[TaskStatus.COMPLETED, 1]]);
    const { path, raw } = await transitionsOf(real.client, handle.run.id);
    expect(path).toEqual([">queued", "queued>running", "running>completed"]);
    expect(raw.filter((t) => /expired/.test(t.reason))).toEqual([]);
  }, 30_000);
});
