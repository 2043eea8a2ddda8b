// Workers end to end on a real server: seed programs with only their imports changed, retries,
// suspension, control during execution, concurrency, sharding, shutdown and crash recovery.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { type Client, event, task, workflow } from "@aiki/sdk";
import { clientInternals } from "@aiki/sdk/internal";
import type { WorkerHandle, worker } from "@aiki/worker";
import { uniqueName, useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki();
let aikiClient: Client;

beforeAll(() => {
  aikiClient = h.client;
});

const uniq = uniqueName;

/** A worker on the harness's client, stopped after the test. */
// biome-ignore lint/suspicious/noExplicitAny: any versions
const spawn = (workflows: any[], opts: Parameters<typeof worker>[0]["opts"] = {}): Promise<WorkerHandle> => h.spawn(workflows, { opts });

const until = (check: () => boolean | Promise<boolean>, timeoutMs = 10_000) => h.until(check, { timeoutMs });

describe("seed 000: restaurant order (shortened)", () => {
  it("runs tasks, an event with timeout, a child with a reference id, sleeps, and returns typed output", async () => {
    const log: string[] = [];
    const notifyRestaurant = task({
      name: "notify-restaurant",
      async handler(input: { orderId: string; items: string[] }) {
        log.push(`restaurant ${input.orderId}: ${input.items.join(", ")}`);
      },
      opts: { retry: { type: "exponential", maxAttempts: 3, baseDelayMs: 100 } },
    });
    const notifyCustomer = task({
      name: "notify-customer",
      async handler(input: { customerId: string; message: string }) {
        log.push(`customer ${input.customerId}: ${input.message}`);
      },
    });
    const sendFeedbackEmail = task({
      name: "send-feedback-email",
      async handler(input: { orderId: string; customerId: string }) {
        log.push(`feedback ${input.orderId}`);
      },
    });

    const courierDeliveryV1 = workflow({ name: uniq("courier-delivery") }).v("1.0.0", {
      async handler(run, input: { orderId: string; restaurantId: string }) {
        run.logger.info("Finding available courier...");
        await run.sleep("find-courier", { milliseconds: 100 });
        await run.events.foodReady.wait();
        await run.sleep("delivery", { milliseconds: 100 });
        return { courierName: "Oluwafemi", orderId: input.orderId };
      },
      events: { foodReady: event() },
    });

    const restaurantOrderV1 = workflow({ name: uniq("restaurant-order") }).v("1.0.0", {
      async handler(run, input: { orderId: string; customerId: string; items: string[] }) {
        await notifyRestaurant.start(run, { orderId: input.orderId, items: input.items });
        const response = await run.events.restaurantAccepted.wait({ timeout: { minutes: 5 } });
        if (response.timeout) {
          await notifyCustomer.start(run, { customerId: input.customerId, message: "Restaurant didn't respond. Order cancelled." });
          return { status: "cancelled", reason: "timeout" };
        }
        await notifyCustomer.start(run, {
          customerId: input.customerId,
          message: `Order confirmed! Estimated time: ${response.data.estimatedTime} mins`,
        });
        const deliveryHandle = await courierDeliveryV1
          .with()
          .opt("reference.id", input.orderId)
          .startAsChild(run, { orderId: input.orderId, restaurantId: "restaurant-1" });
        const deliveryResult = await deliveryHandle.waitForStatus("completed");
        if (!deliveryResult.success) return { status: "failed", reason: "delivery_failed" };
        const { courierName } = deliveryResult.state.output;
        await notifyCustomer.start(run, { customerId: input.customerId, message: `Your order was delivered by ${courierName}. Enjoy!` });
        await run.sleep("feedback-delay", { milliseconds: 200 });
        await sendFeedbackEmail.start(run, { orderId: input.orderId, customerId: input.customerId });
        return { status: "completed", orderId: input.orderId };
      },
      events: { restaurantAccepted: event<{ estimatedTime: number }>() },
    });

    await spawn([restaurantOrderV1, courierDeliveryV1]);
    const orderId = uniq("order");
    const handle = await restaurantOrderV1.start(aikiClient, { orderId, customerId: "customer-456", items: ["Burger", "Fries"] });
    expect((await handle.waitForStatus("awaiting_event", { timeout: 10_000 })).success).toBe(true);
    await handle.events.restaurantAccepted.send({ estimatedTime: 30 });

    await until(async () => {
      try {
        const courier = await courierDeliveryV1.getHandleByReferenceId(aikiClient, orderId);
        return courier.run.state.status === "awaiting_event";
      } catch {
        return false;
      }
    });
    const courierHandle = await courierDeliveryV1.getHandleByReferenceId(aikiClient, orderId);
    await courierHandle.events.foodReady.send();

    const result = await handle.waitForStatus("completed", { timeout: 20_000 });
    expect(result.success).toBe(true);
    if (result.success) expect(result.state.output).toEqual({ status: "completed", orderId });
    // Each task ran once, whatever the number of replays.
    expect(log).toEqual([
      `restaurant ${orderId}: Burger, Fries`,
      "customer customer-456: Order confirmed! Estimated time: 30 mins",
      "customer customer-456: Your order was delivered by Oluwafemi. Enjoy!",
      `feedback ${orderId}`,
    ]);
    expect(courierHandle.run.parentRunId ?? (await courierHandle.refresh()).parentRunId).toBe(handle.run.id);
  });
});

describe("retries and suspension", () => {
  it("retries a failing task inline, then suspends for a long delay and completes after it", async () => {
    let calls = 0;
    const flaky = task({
      name: "flaky",
      async handler() {
        calls++;
        if (calls < 3) throw new Error(`attempt ${calls} failed`);
        return calls;
      },
      // attempt 1 -> 100 ms (inline), attempt 2 -> 1200 ms (suspends: above the inline limit below)
      opts: { retry: { type: "exponential", maxAttempts: 3, baseDelayMs: 100, factor: 12 } },
    });
    const v = workflow({ name: uniq("retry") }).v("1", { handler: (run) => flaky.start(run) });
    await spawn([v], { inlineRetryMaxDelayMs: 500 });
    const handle = await v.start(aikiClient);
    expect((await handle.waitForStatus("awaiting_retry", { timeout: 10_000 })).success).toBe(true);
    const done = await handle.waitForStatus("completed", { timeout: 10_000 });
    expect(done.success && done.state.output).toBe(3);
    const { tasks } = await clientInternals(aikiClient).tasks.listTasks({ runId: handle.run.id });
    expect(tasks.map((t) => [t.status, t.attempts])).toEqual([[TaskStatus.COMPLETED, 3]]);
  });

  it("fails the run with cause task once the budget is spent", async () => {
    const always = task({
      name: "always-fails",
      handler(): number {
        throw new Error("nope");
      },
      opts: { retry: { type: "fixed", maxAttempts: 2, delayMs: 10 } },
    });
    const v = workflow({ name: uniq("exhaust") }).v("1", { handler: (run) => always.start(run) });
    await spawn([v]);
    const handle = await v.start(aikiClient);
    const failed = await handle.waitForStatus("failed", { timeout: 10_000 });
    expect(failed.success).toBe(true);
    if (!failed.success) return;
    expect(failed.state.cause).toBe("task");
    expect(failed.state.failure.type).toBe("TaskFailedError");
    expect(failed.state.failure.message).toBe('task "always-fails" failed after 2 attempts: nope');
  });

  it("wakes a sleep early with awake(): the workflow sees cancelled", async () => {
    const v = workflow({ name: uniq("nap") }).v("1", {
      async handler(run) {
        return run.sleep("long-nap", { hours: 1 });
      },
    });
    await spawn([v]);
    const handle = await v.start(aikiClient);
    expect((await handle.waitForStatus("sleeping", { timeout: 10_000 })).success).toBe(true);
    await handle.awake();
    const done = await handle.waitForStatus("completed", { timeout: 10_000 });
    expect(done.success && done.state.output).toEqual({ cancelled: true });
  });

  it("times out an event wait", async () => {
    const v = workflow({ name: uniq("timeout") }).v("1", {
      async handler(run) {
        const r = await run.events.ping.wait({ timeout: 200 });
        return r.timeout;
      },
      events: { ping: event() },
    });
    await spawn([v]);
    const handle = await v.start(aikiClient);
    const done = await handle.waitForStatus("completed", { timeout: 10_000 });
    expect(done.success && done.state.output).toBe(true);
  });
});

describe("control during execution", () => {
  it("stops executing a paused run (its next write is refused) and finishes it after resume", async () => {
    let entered!: () => void;
    const inTask = new Promise<void>((r) => {
      entered = r;
    });
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let executions = 0;
    const blocking = task({
      name: "blocking",
      async handler() {
        executions++;
        entered();
        if (executions === 1) await gate;
        return executions;
      },
      // The attempt cut short by the pause counts, so a second one must be allowed.
      opts: { retry: { type: "fixed", maxAttempts: 2, delayMs: 0 } },
    });
    const v = workflow({ name: uniq("pause") }).v("1", { handler: (run) => blocking.start(run) });
    await spawn([v]);
    const handle = await v.start(aikiClient);
    await inTask;
    await handle.pause();
    release();
    // The stale CompleteTask is refused; nothing else is written.
    await new Promise((r) => setTimeout(r, 300));
    expect((await handle.refresh()).state.status).toBe("paused");
    await handle.resume();
    const done = await handle.waitForStatus("completed", { timeout: 10_000 });
    // The attempt that was running when the run was paused counts; the task runs again.
    expect(done.success && done.state.output).toBe(2);
  });

  it("cancelling a parent cancels its waiting child", async () => {
    const child = workflow({ name: uniq("child") }).v("1", {
      async handler(run) {
        await run.events.never.wait();
      },
      events: { never: event() },
    });
    const parent = workflow({ name: uniq("parent") }).v("1", {
      async handler(run) {
        const h = await child.startAsChild(run, undefined);
        return h.waitForStatus("completed");
      },
    });
    await spawn([parent, child]);
    const handle = await parent.start(aikiClient);
    expect((await handle.waitForStatus("awaiting_child_workflow", { timeout: 10_000 })).success).toBe(true);
    const { runs } = await clientInternals(aikiClient).runs.listChildRuns({ parentRunId: handle.run.id });
    expect(runs).toHaveLength(1);
    await handle.cancel("order withdrawn");
    const childHandle = await child.getHandleById(aikiClient, runs[0]!.id);
    expect((await childHandle.waitForStatus("cancelled", { timeout: 10_000 })).success).toBe(true);
  });

  it("a parent waiting for completed hears run_terminated when the child fails", async () => {
    const child = workflow({ name: uniq("failing-child") }).v("1", {
      async handler() {
        throw new Error("child broke");
      },
    });
    const parent = workflow({ name: uniq("parent") }).v("1", {
      async handler(run) {
        const h = await child.startAsChild(run, { n: 1 } as never);
        const r = await h.waitForStatus("completed");
        return r.success ? "ok" : r.cause;
      },
    });
    await spawn([parent, child]);
    const handle = await parent.start(aikiClient);
    const done = await handle.waitForStatus("completed", { timeout: 10_000 });
    expect(done.success && done.state.output).toBe("run_terminated");
  });
});

describe("worker options", () => {
  it("runs at most maxConcurrentWorkflowRuns at once", async () => {
    let running = 0;
    let peak = 0;
    const work = task({
      name: "work",
      async handler(i: number) {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 100));
        running--;
        return i;
      },
    });
    const v = workflow({ name: uniq("concurrency") }).v("1", { handler: (run, i: number) => work.start(run, i) });
    const handles = await Promise.all([1, 2, 3, 4, 5].map((i) => v.start(aikiClient, i)));
    await spawn([v], { maxConcurrentWorkflowRuns: 2 });
    const results = await Promise.all(handles.map((h) => h.waitForStatus("completed", { timeout: 15_000 })));
    expect(results.every((r) => r.success)).toBe(true);
    expect(peak).toBe(2);
  });

  it("gives a run's slot to the next run while its suspension is being answered", async () => {
    const waits = workflow({ name: uniq("slot-settling") }).v("1", {
      handler: async (run) => run.events.go.wait(),
      events: { go: event<string>() },
    });
    let nextEntered = false;
    const next = workflow({ name: uniq("slot-next") }).v("1", {
      handler: async () => {
        nextEntered = true;
        return "done";
      },
    });
    const locker = new pg.Client({ connectionString: h.aiki.database.url });
    await locker.connect();
    h.defer(() => locker.end());
    await spawn([waits, next], { maxConcurrentWorkflowRuns: 1 });
    // Suspending on the event writes run_waits: held here, the SuspendRun is in flight until commit.
    await locker.query("begin");
    await locker.query("lock table run_waits in exclusive mode");
    const first = await waits.start(aikiClient);
    await until(async () => (await locker.query("select count(*)::int as n from pg_locks where not granted")).rows[0].n > 0);
    const second = await next.start(aikiClient);
    // The one slot is free while the first run only waits for that answer: the second runs now.
    await until(() => nextEntered);
    await locker.query("commit");
    await first.events.go.send("went");
    expect(await first.waitForCompletion({ timeout: 10_000 })).toEqual({ data: "went", timeout: false });
    expect(await second.waitForCompletion({ timeout: 10_000 })).toBe("done");
  });

  it("serves only its shards", async () => {
    const v = workflow({ name: uniq("sharded") }).v("1", { handler: async () => "done" });
    await spawn([v], { shards: ["eu"] });
    const unsharded = await v.start(aikiClient);
    const eu = await v.with().opt("shard", "eu").start(aikiClient);
    expect((await eu.waitForStatus("completed", { timeout: 10_000 })).success).toBe(true);
    expect(await unsharded.waitForStatus("completed", { timeout: 300 })).toEqual({ success: false, cause: "timeout" });
  });

  it("stop() lets a run in flight finish within the grace time", async () => {
    let entered!: () => void;
    const inTask = new Promise<void>((r) => {
      entered = r;
    });
    const slow = task({
      name: "slow",
      async handler() {
        entered();
        await new Promise((r) => setTimeout(r, 300));
        return "finished";
      },
    });
    const v = workflow({ name: uniq("graceful") }).v("1", { handler: (run) => slow.start(run) });
    const w = await spawn([v], { gracefulShutdownTimeoutMs: 5_000 });
    const handle = await v.start(aikiClient);
    await inTask;
    await w.stop();
    expect((await handle.refresh()).state.status).toBe("completed");
  });

  it("stop() releases a run still in flight after the grace time; another worker finishes it", async () => {
    let first = true;
    let entered!: () => void;
    const inTask = new Promise<void>((r) => {
      entered = r;
    });
    const stuck = task({
      name: "stuck",
      async handler() {
        if (first) {
          first = false;
          entered();
          await new Promise((r) => setTimeout(r, 3_000));
        }
        return "second worker";
      },
      // The released attempt counts (its side effects may have happened), so allow another.
      opts: { retry: { type: "fixed", maxAttempts: 2, delayMs: 0 } },
    });
    const v = workflow({ name: uniq("release") }).v("1", { handler: (run) => stuck.start(run) });
    const w1 = await spawn([v], { gracefulShutdownTimeoutMs: 100 });
    const handle = await v.start(aikiClient);
    await inTask;
    await w1.stop();
    expect((await handle.refresh()).state.status).toBe("queued");
    await spawn([v]);
    const done = await handle.waitForStatus("completed", { timeout: 10_000 });
    expect(done.success && done.state.output).toBe("second worker");
  });

  it("resumes a run whose worker died (lease expired) from its history", async () => {
    const calls: string[] = [];
    const step = task({
      name: "step",
      async handler(name: string) {
        calls.push(name);
        return name;
      },
    });
    const v = workflow({ name: uniq("crash") }).v("1", {
      async handler(run) {
        await step.start(run, "one");
        return step.start(run, "two");
      },
    });
    const handle = await v.start(aikiClient);
    // A "worker" that leases the run, records step one, and dies without a heartbeat.
    const leases = clientInternals(aikiClient).leases;
    const { leases: got } = await leases.pollLeases({
      workerId: "doomed",
      workerName: "doomed",
      workflows: [{ workflowName: v.name, workflowVersionId: v.versionId }],
      maxLeases: 1,
      wait: durationFromMs(5_000),
      leaseTtl: durationFromMs(1_000),
    });
    const lease = got[0]!;
    const { taskAddress, toValue } = await import("@aiki/sdk/internal");
    const { task: started } = await clientInternals(aikiClient).tasks.startTask({
      runId: lease.run!.id,
      leaseToken: lease.leaseToken,
      name: "step",
      address: taskAddress("step", "one"),
      sequence: 0,
      input: toValue("one"),
      maxAttempts: 1,
    });
    await clientInternals(aikiClient).tasks.completeTask({
      runId: lease.run!.id,
      leaseToken: lease.leaseToken,
      taskId: started!.id,
      attempt: 1,
      output: toValue("one"),
    });
    await spawn([v]);
    const done = await handle.waitForStatus("completed", { timeout: 15_000 });
    expect(done.success && done.state.output).toBe("two");
    expect(calls).toEqual(["two"]);
  });

  it("fails a run whose code changed under it with cause non_determinism", async () => {
    const a = task({ name: "a", handler: () => "a" });
    const b = task({ name: "b", handler: () => "b" });
    const name = uniq("changed");
    const original = workflow({ name }).v("1", {
      async handler(run) {
        await a.start(run);
        await run.sleep("wait", { hours: 1 });
      },
    });
    const w = await spawn([original]);
    const handle = await original.start(aikiClient);
    expect((await handle.waitForStatus("sleeping", { timeout: 10_000 })).success).toBe(true);
    await w.stop();

    const changed = workflow({ name }).v("1", {
      async handler(run) {
        await b.start(run);
        await run.sleep("wait", { hours: 1 });
      },
    });
    await spawn([changed]);
    await handle.awake();
    const failed = await handle.waitForStatus("failed", { timeout: 10_000 });
    expect(failed.success).toBe(true);
    if (!failed.success) return;
    expect(failed.state.cause).toBe("non_determinism");
    expect(failed.state.failure.message).toMatch(/task "a"/);
  });
});
