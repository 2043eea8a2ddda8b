// docs/semantics.md, Rerun, on a real server (Postgres, Redis) with a real worker: a failed run
// rerun from its last failure after a code fix executes only the failed step and what follows
// (the copied steps' code is not run again), both runs show the lineage and the source is not
// changed; a rerun whose code or input diverges from the copied prefix fails with
// non-determinism naming the copied step; a run that is not finished cannot be rerun; a rerun
// from the start executes everything; a rerun from a chosen task copies only what precedes it;
// a rerun may wait on a child its copied prefix started.
import { describe, expect, it } from "vitest";
import { toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { event, InvalidArgumentError, InvalidTransitionError, task, workflow } from "@aiki/sdk";
import { clientInternals } from "@aiki/sdk/internal";
import { taskAddress } from "../../server/src/engine/canonical-json.js";
import { gate, tasksOf, uniq, useRealAiki } from "./support/real-aiki.js";

const real = useRealAiki();

/**
 * reserve → (event "paid") → ship → notify, with a call counter per task; `notify` fails every
 * attempt (two, retried inline) until the test sets `fixed`. `reserve`'s input is the order id.
 */
function orderFlow() {
  const calls = { reserve: 0, ship: 0, notify: 0 };
  const state = { fixed: false, diverge: false };
  const reserve = task({
    name: "reserve",
    async handler(orderId: string) {
      calls.reserve++;
      return `reserved ${orderId}`;
    },
  });
  const ship = task({
    name: "ship",
    async handler(input: { reservation: string; amount: number }) {
      calls.ship++;
      return `shipped ${input.reservation} for ${input.amount}`;
    },
  });
  const notify = task({
    name: "notify",
    async handler(shipment: string) {
      calls.notify++;
      if (!state.fixed) throw new Error("mail server says no");
      return `notified: ${shipment}`;
    },
    opts: { retry: { type: "fixed", maxAttempts: 2, delayMs: 0 } },
  });
  const version = workflow({ name: uniq("rerun-order") }).v("1", {
    async handler(run, input: { orderId: string }) {
      // The "diverged" code reserves under another key: another address than the recorded one.
      const reservation = await reserve.start(run, state.diverge ? `${input.orderId}-v2` : input.orderId);
      const paid = await run.events.paid.wait();
      const shipment = await ship.start(run, { reservation, amount: paid.timeout ? 0 : paid.data.amount });
      return notify.start(run, shipment);
    },
    events: { paid: event<{ amount: number }>() },
  });
  return { version, calls, state, ship };
}

/** A source run of orderFlow that failed at `notify` after its two attempts. */
async function failedOrder(flow: ReturnType<typeof orderFlow>, orderId: string) {
  const handle = await flow.version.start(real.client, { orderId });
  expect((await handle.waitForStatus("awaiting_event", { timeout: 10_000 })).success).toBe(true);
  await handle.events.paid.send({ amount: 42 });
  const failed = await handle.waitForStatus("failed", { timeout: 10_000 });
  if (!failed.success) throw new Error(`the source did not fail: ${failed.cause}`);
  expect(failed.state.cause).toBe("task");
  expect(flow.calls).toEqual({ reserve: 1, ship: 1, notify: 2 });
  return handle;
}

const history = async (runId: string) => (await clientInternals(real.client).runs.getRunHistory({ runId })).history!;

describe("rerun from the last failure", () => {
  it("after a code fix: reserve and ship are not executed again, notify is, the rerun completes; both runs show the lineage and the source is unchanged", async () => {
    const flow = orderFlow();
    await real.spawn([flow.version]);
    const source = await failedOrder(flow, "o-1");
    const sourceBefore = await source.refresh();
    const sourceTasksBefore = await tasksOf(real.client, source.run.id);

    flow.state.fixed = true;
    const rerun = await source.rerun({ from: "last_failure" });
    expect(await rerun.waitForCompletion({ timeout: 10_000 })).toBe("notified: shipped reserved o-1 for 42");
    // Only the failed step ran again: once, and it succeeded.
    expect(flow.calls).toEqual({ reserve: 1, ship: 1, notify: 3 });

    // The lineage, on both sides.
    const notifyAddress = taskAddress("notify", "shipped reserved o-1 for 42");
    expect(rerun.run.rerunOf).toBe(source.run.id);
    expect(rerun.run.fromStep).toEqual({ kind: "task", address: notifyAddress, sequence: 0, lastFailure: true });
    expect(rerun.run.input).toEqual({ orderId: "o-1" });
    expect((await source.reruns()).map((r) => r.id)).toEqual([rerun.run.id]);
    expect((await rerun.reruns()).map((r) => r.id)).toEqual([]);

    // The rerun's history: the copied records (reserve, the consumed event, ship) and notify's fresh record.
    const copied = await history(rerun.run.id);
    expect(copied.tasks.map((t) => [t.name, t.status, t.attempts])).toEqual([
      ["reserve", TaskStatus.COMPLETED, 1],
      ["ship", TaskStatus.COMPLETED, 1],
      ["notify", TaskStatus.COMPLETED, 1],
    ]);
    expect(copied.tasks.every((t) => t.runId === rerun.run.id)).toBe(true);
    expect(copied.eventWaits.map((w) => [w.eventName, w.event?.data ? toJson(ValueSchema, w.event.data) : undefined])).toEqual([["paid", { amount: 42 }]]);
    expect(copied.eventWaits[0]!.event!.runId).toBe(rerun.run.id);

    // The source is as it was: same status, revision, tasks; its event still its own.
    const sourceAfter = await source.refresh();
    expect([sourceAfter.state.status, sourceAfter.revision, sourceAfter.rerunOf]).toEqual([sourceBefore.state.status, sourceBefore.revision, undefined]);
    expect(await tasksOf(real.client, source.run.id)).toEqual(sourceTasksBefore);
    const sourceHistory = await history(source.run.id);
    expect(sourceHistory.eventWaits[0]!.event!.runId).toBe(source.run.id);
  });

  it("a rerun whose code diverges from the copied prefix fails with non-determinism naming the copied step; nothing of it runs", async () => {
    const flow = orderFlow();
    await real.spawn([flow.version]);
    const source = await failedOrder(flow, "o-2");
    flow.state.fixed = true;
    flow.state.diverge = true;
    const rerun = await source.rerun({ from: "last_failure" });
    const failed = await rerun.waitForStatus("failed", { timeout: 10_000 });
    if (!failed.success) throw new Error(`the rerun did not fail: ${failed.cause} ${JSON.stringify((await rerun.refresh()).state)}`);
    expect(failed.state.cause).toBe("non_determinism");
    expect(failed.state.failure.type).toBe("NonDeterminismError");
    const message = failed.state.failure.message;
    expect(message).toContain(`task "reserve" (${taskAddress("reserve", "o-2-v2")})`);
    expect(message).toContain(`task "reserve" (${taskAddress("reserve", "o-2")}) #0 (completed)`);
    expect(message).toContain(`task "ship" (${taskAddress("ship", { reservation: "reserved o-2", amount: 42 })}) #0 (completed)`);
    // The diverging call was refused before it ran, and nothing after it ran either.
    expect(flow.calls).toEqual({ reserve: 1, ship: 1, notify: 2 });
    expect((await tasksOf(real.client, rerun.run.id)).map((t) => t.name)).toEqual(["reserve", "ship"]);
  });

  it("a rerun with a new input that changes a copied task's address fails the same way, naming that task", async () => {
    const flow = orderFlow();
    await real.spawn([flow.version]);
    const source = await failedOrder(flow, "o-3");
    flow.state.fixed = true;
    const rerun = await source.rerun({ from: "last_failure", input: { orderId: "o-3b" } });
    expect(rerun.run.input).toEqual({ orderId: "o-3b" });
    const failed = await rerun.waitForStatus("failed", { timeout: 10_000 });
    if (!failed.success) throw new Error(`the rerun did not fail: ${failed.cause} ${JSON.stringify((await rerun.refresh()).state)}`);
    expect(failed.state.cause).toBe("non_determinism");
    expect(failed.state.failure.message).toContain(`task "reserve" (${taskAddress("reserve", "o-3")}) #0 (completed)`);
    expect(flow.calls).toEqual({ reserve: 1, ship: 1, notify: 2 });
  });
});

describe("rerun from elsewhere", () => {
  it("from the start: nothing is copied and every step executes again (the event is waited for again)", async () => {
    const flow = orderFlow();
    await real.spawn([flow.version]);
    const source = await failedOrder(flow, "o-4");
    flow.state.fixed = true;
    const rerun = await source.rerun({ from: "start" });
    expect(rerun.run.fromStep).toEqual({ kind: "start" });
    expect((await rerun.waitForStatus("awaiting_event", { timeout: 10_000 })).success).toBe(true);
    await rerun.events.paid.send({ amount: 7 });
    expect(await rerun.waitForCompletion({ timeout: 10_000 })).toBe("notified: shipped reserved o-4 for 7");
    expect(flow.calls).toEqual({ reserve: 2, ship: 2, notify: 3 });
  });

  it("from a chosen task: what precedes it is copied (reserve, the event), it and what follows execute again", async () => {
    const flow = orderFlow();
    await real.spawn([flow.version]);
    const source = await failedOrder(flow, "o-5");
    flow.state.fixed = true;
    const shipAddress = taskAddress("ship", { reservation: "reserved o-5", amount: 42 });
    const rerun = await source.rerun({ from: { task: shipAddress } });
    expect(await rerun.waitForCompletion({ timeout: 10_000 })).toBe("notified: shipped reserved o-5 for 42");
    expect(flow.calls).toEqual({ reserve: 1, ship: 2, notify: 3 });
    expect(rerun.run.fromStep).toEqual({ kind: "task", address: shipAddress, sequence: 0, lastFailure: false });
    // The same step named by the task and the input it was called with.
    const same = await source.rerun({ from: { task: flow.ship, input: { reservation: "reserved o-5", amount: 42 } } });
    expect(same.run.fromStep).toEqual({ kind: "task", address: shipAddress, sequence: 0, lastFailure: false });
    expect(await same.waitForCompletion({ timeout: 10_000 })).toBe("notified: shipped reserved o-5 for 42");
    expect(flow.calls).toEqual({ reserve: 1, ship: 3, notify: 4 });
    // A step the source does not have is refused, naming the field.
    const unknown = await source.rerun({ from: { task: shipAddress, sequence: 1 } }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(InvalidArgumentError);
    expect((unknown as InvalidArgumentError).fieldViolations.map((v) => v.field)).toEqual(["step"]);
  });

  it("a rerun whose copied prefix started a child waits on that (finished) child live; the child is not run again", async () => {
    let childCalls = 0;
    let fixed = false;
    const child = workflow({ name: uniq("rerun-child") }).v("1", {
      async handler(_run, n: number) {
        childCalls++;
        return n * 10;
      },
    });
    const risky = task({
      name: "risky",
      async handler() {
        if (!fixed) throw new Error("not yet");
        return 1;
      },
    });
    const parent = workflow({ name: uniq("rerun-parent") }).v("1", {
      async handler(run) {
        const handle = await child.startAsChild(run, 4);
        const extra = await risky.start(run, undefined);
        const result = await handle.waitForStatus("completed");
        return result.success ? result.state.output + extra : -1;
      },
    });
    await real.spawn([parent, child]);
    const source = await parent.start(real.client, undefined);
    expect((await source.waitForStatus("failed", { timeout: 10_000 })).success).toBe(true);
    const [childRun] = (await clientInternals(real.client).runs.listChildRuns({ parentRunId: source.run.id })).runs;
    // The copy carries a child start only once the child has finished.
    expect(await (await child.getHandleById(real.client, childRun!.id)).waitForCompletion({ timeout: 10_000 })).toBe(40);

    fixed = true;
    const rerun = await source.rerun({ from: "last_failure" });
    expect(await rerun.waitForCompletion({ timeout: 10_000 })).toBe(41);
    expect(childCalls).toBe(1);
    const copied = await history(rerun.run.id);
    expect(copied.childRuns.map((c) => c.childRunId)).toEqual([childRun!.id]);
    expect(copied.childWaits.map((w) => w.childRunId)).toEqual([childRun!.id]);
  });
});

describe("rerun on another version", () => {
  it("a run that failed on version 1 reruns from its last failure on version 2, whose code calls the same first steps", async () => {
    let fetches = 0;
    const fetchTask = task({
      name: "fetch",
      async handler(id: string) {
        fetches++;
        return { id, price: 10 };
      },
    });
    const charge = task({
      name: "charge",
      async handler(input: { price: number; currency?: string }) {
        if (!input.currency) throw new Error("no currency");
        return `${input.price} ${input.currency}`;
      },
    });
    const wf = workflow({ name: uniq("rerun-versions") });
    const v1 = wf.v("1", {
      async handler(run, id: string) {
        const item = await fetchTask.start(run, id);
        return charge.start(run, { price: item.price });
      },
    });
    const v2 = wf.v("2", {
      async handler(run, id: string) {
        const item = await fetchTask.start(run, id);
        return charge.start(run, { price: item.price, currency: "EUR" });
      },
    });
    await real.spawn([v1, v2]);
    const source = await v1.start(real.client, "item-1");
    expect((await source.waitForStatus("failed", { timeout: 10_000 })).success).toBe(true);
    const rerun = await v2.rerun(real.client, source.run.id, { from: "last_failure" });
    expect(rerun.run.versionId).toBe("2");
    expect(await rerun.waitForCompletion({ timeout: 10_000 })).toBe("10 EUR");
    expect(fetches).toBe(1);
  });
});

describe("what cannot be rerun", () => {
  it("a run that is not finished: InvalidTransitionError (FAILED_PRECONDITION) naming its status; nothing is created", async () => {
    const entered = gate();
    const release = gate();
    const slow = task({
      name: "slow",
      async handler() {
        entered.open();
        await release.promise;
        return "done";
      },
    });
    const v = workflow({ name: uniq("rerun-running") }).v("1", {
      async handler(run) {
        return slow.start(run, undefined);
      },
    });
    await real.spawn([v]);
    const handle = await v.start(real.client, undefined);
    await entered.promise;
    const error = await handle.rerun({ from: "start" }).catch((e: unknown) => e);
    release.open();
    expect(error).toBeInstanceOf(InvalidTransitionError);
    const refused = error as InvalidTransitionError;
    expect([refused.code, refused.runId, refused.currentStatus, refused.action]).toEqual(["failed_precondition", handle.run.id, "running", "rerun"]);
    expect(await handle.reruns()).toEqual([]);
    expect(await handle.waitForCompletion({ timeout: 10_000 })).toBe("done");
  });
});
