// Traces (docs/tracing.md) in one process with the in-memory exporter: a server, a worker and a
// client under a span of the test, and the span tree they leave under that span's trace id.
import { type Client, client, event, silentLogger, task, workflow } from "@aiki/sdk";
import { type WorkerHandle, worker } from "@aiki/worker";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { courierDeliveryV1 } from "../examples/restaurant/courier-workflow.js";
import { restaurantOrderV1 } from "../examples/restaurant/restaurant-workflow.js";
import type { TestAiki } from "./support/aiki-server.js";
import { useTestAiki } from "./support/use-test-aiki.js";

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
// Global for this test file's process: the server, the worker and the client all record here.
provider.register();
const tracer = trace.getTracer("tracing-test");

// A smaller workflow that shows what the seed does not: a retried task, an event sent from inside
// a task to a child run.
const tracedChildV1 = workflow({ name: "traced-child" }).v("1", {
  async handler(run) {
    const go = await run.events.go.wait();
    return { got: go.timeout ? 0 : go.data.n };
  },
  events: { go: event<{ n: number }>() },
});
let flakyCalls = 0;
const flaky = task({
  name: "flaky",
  async handler(_input: Record<string, never>) {
    flakyCalls++;
    if (flakyCalls === 1) throw new Error("first attempt fails");
    return "ok";
  },
  opts: { retry: { type: "fixed", maxAttempts: 3, delayMs: 10 } },
});
let appClient: Client;
const sendGo = task({
  name: "send-go",
  async handler(input: { childRef: string }) {
    const child = await tracedChildV1.getHandleByReferenceId(appClient, input.childRef);
    // Once the child waits: an event that came first would be taken by its first execution,
    // which then never suspends (and the test expects the wait's own span and a second one).
    await child.waitForStatus("awaiting_event", { timeout: 10_000 });
    await child.events.go.send({ n: 7 });
  },
});
const tracedParentV1 = workflow({ name: "traced-parent" }).v("1", {
  async handler(run, input: { ref: string }) {
    await flaky.start(run, {});
    // Due at once: SuspendRun answers it over, and this execution goes on past it.
    await run.sleep("nap", { seconds: 0 });
    const child = await tracedChildV1.with().opt("reference.id", input.ref).startAsChild(run, undefined);
    await sendGo.start(run, { childRef: input.ref });
    const done = await child.waitForStatus("completed");
    return done.success ? done.state.output : null;
  },
});

let aiki: TestAiki;
let workerClient: Client;
let workerHandle: WorkerHandle;

const h = useTestAiki();
beforeAll(async () => {
  aiki = h.aiki;
  appClient = client({ url: aiki.url, logger: silentLogger });
  workerClient = client({ url: aiki.url, logger: silentLogger });
  workerHandle = await worker({
    name: "tracing-worker",
    workflows: [restaurantOrderV1, courierDeliveryV1, tracedParentV1, tracedChildV1],
    opts: { logger: silentLogger },
  }).spawn(workerClient);
});
afterAll(async () => {
  await workerHandle?.stop();
  await workerClient?.close();
  await appClient?.close();
  await provider.shutdown();
  // Global state outlives the file if its process is reused.
  trace.disable();
  context.disable();
  propagation.disable();
});

/** The finished spans of one trace, with a way to walk up from any of them. */
function traceOf(traceId: string) {
  const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const parentOf = (s: ReadableSpan) => (s.parentSpanContext ? byId.get(s.parentSpanContext.spanId) : undefined);
  const ancestors = (s: ReadableSpan): ReadableSpan[] => {
    const chain: ReadableSpan[] = [];
    for (let p = parentOf(s); p; p = parentOf(p)) chain.push(p);
    return chain;
  };
  const named = (name: string) => spans.filter((s) => s.name === name);
  return { spans, parentOf, ancestors, named };
}

/** The worker ends an execution's span just after the server answered its last write. */
async function executionsEnded(traceId: string, workflowName: string): Promise<void> {
  await vi.waitFor(
    () => {
      const last = traceOf(traceId)
        .named(`run ${workflowName}`)
        .find((s) => s.attributes["aiki.outcome"] === "completed");
      if (!last) throw new Error(`no completed execution of ${workflowName} yet`);
    },
    { timeout: 5_000, interval: 20 },
  );
}

const names = (spans: ReadableSpan[]) => spans.map((s) => s.name);
const msOf = (time: [number, number]) => time[0] * 1_000 + time[1] / 1e6;

describe("traces", () => {
  it("the seed order under one trace id: client call → StartRun → run → tasks → courier child → events", async () => {
    const orderId = `order-${Date.now()}`;
    const traceId = await tracer.startActiveSpan("checkout", async (root) => {
      const handle = await restaurantOrderV1.start(appClient, { orderId, customerId: "c-1", items: ["Burger"] });
      expect((await handle.waitForStatus("awaiting_event", { timeout: 10_000 })).success).toBe(true);
      await handle.events.restaurantAccepted.send({ estimatedTime: 30 });
      expect((await handle.waitForStatus("awaiting_child_workflow", { timeout: 10_000 })).success).toBe(true);
      const courier = await courierDeliveryV1.getHandleByReferenceId(appClient, orderId);
      expect((await courier.waitForStatus("awaiting_event", { timeout: 10_000 })).success).toBe(true);
      await courier.events.foodReady.send();
      expect((await handle.waitForStatus("sleeping", { timeout: 15_000 })).success).toBe(true);
      await handle.awake();
      expect((await handle.waitForStatus("completed", { timeout: 10_000 })).success).toBe(true);
      root.end();
      return root.spanContext().traceId;
    });
    await executionsEnded(traceId, "restaurant-order");
    const t = traceOf(traceId);
    const root = t.named("checkout")[0]!;
    // The client's call, the server's span continuing it, and the run below the server's span.
    const clientStart = t.named("aiki.v1.RunService/StartRun").find((s) => s.kind === SpanKind.CLIENT)!;
    expect(t.parentOf(clientStart)).toBe(root);
    const serverStart = t.named("aiki.v1.RunService/StartRun").find((s) => s.kind === SpanKind.SERVER)!;
    expect(t.parentOf(serverStart)).toBe(clientStart);
    const orderRuns = t.named("run restaurant-order");
    // Executions: until the accept event, until the child, until the sleep, after it (at least).
    expect(orderRuns.length).toBeGreaterThanOrEqual(3);
    for (const run of orderRuns) {
      expect(t.parentOf(run)).toBe(serverStart);
      expect(run.attributes).toMatchObject({ "aiki.workflow": "restaurant-order", "aiki.workflow_version": "1.0.0", "aiki.attempt": 1 });
    }
    // Every task attempt hangs under an execution of the order.
    const taskSpans = t.spans.filter((s) => s.name.startsWith("task "));
    expect(new Set(names(taskSpans))).toEqual(new Set(["task notify-restaurant", "task notify-customer", "task send-feedback-email"]));
    for (const span of taskSpans) expect(orderRuns).toContain(t.parentOf(span));
    // The courier child: its executions descend from an execution of the order.
    const courierRuns = t.named("run courier-delivery");
    expect(courierRuns.length).toBeGreaterThanOrEqual(2);
    for (const run of courierRuns) expect(t.ancestors(run).some((a) => orderRuns.includes(a))).toBe(true);
    // Both events, sent under the test's span, reached the server in the same trace.
    const sends = t.named("aiki.v1.EventService/SendEvent").filter((s) => s.kind === SpanKind.SERVER);
    expect(sends.length).toBe(2);
    for (const s of sends) expect(t.ancestors(s)).toContain(root);
    expect(sends.map((s) => s.attributes["aiki.run_id"])).toContain(orderRuns[0]!.attributes["aiki.run_id"]);
    // Suspensions show on the execution that suspended; the queue wait as a lease span.
    const events = orderRuns.flatMap((r) => r.events.map((e) => e.name));
    expect(events).toEqual(expect.arrayContaining(["suspended on eventWait", "suspended on childWait", "suspended on sleep"]));
    expect(t.named("lease restaurant-order").length).toBeGreaterThanOrEqual(1);
    // The worker's writes on its session, traced by the server below the execution that made them.
    const writes = t.spans.filter((s) => s.name.startsWith("aiki.v1.WorkerLeaseService/Session.") && orderRuns.includes(t.parentOf(s)!));
    expect(names(writes)).toEqual(
      expect.arrayContaining([
        "aiki.v1.WorkerLeaseService/Session.startTask",
        "aiki.v1.WorkerLeaseService/Session.suspendRun",
        "aiki.v1.WorkerLeaseService/Session.startChildRun",
        "aiki.v1.WorkerLeaseService/Session.completeRun",
      ]),
    );
    // The store work of each traced call: store spans below the StartRun and the session calls' server spans.
    // A pipelined StartTask that a later write recorded says so; its store span is below that write's.
    const storeBelow = (call: ReadableSpan) => t.spans.filter((s) => s.name.startsWith("store ") && t.parentOf(s) === call);
    const writtenAlone = writes.filter((w) => w.attributes["aiki.written_with_later_write"] !== true);
    expect(names(writtenAlone)).toEqual(expect.arrayContaining(["aiki.v1.WorkerLeaseService/Session.completeRun"]));
    for (const write of [serverStart, ...writtenAlone]) {
      const stores = storeBelow(write);
      expect(stores.length, `store spans below ${write.name}`).toBeGreaterThanOrEqual(1);
      for (const store of stores) {
        expect(store.kind).toBe(SpanKind.CLIENT);
        expect(store.attributes["db.system"]).toBe("postgresql");
        expect(store.attributes["db.operation"]).toBe(store.name.slice("store ".length));
        // Within its call's span, give or take the 1 ms each span's own clock anchoring may differ by.
        expect(msOf(store.startTime)).toBeGreaterThanOrEqual(msOf(write.startTime) - 1);
        expect(msOf(store.endTime)).toBeLessThanOrEqual(msOf(write.endTime) + 1);
      }
    }
    // The waits as spans beside the executions, from their suspension to the end the server recorded.
    const accepted = t.named("wait event restaurantAccepted");
    expect(accepted.length).toBe(1);
    const feedback = t.named("sleep feedback-delay");
    expect(feedback.length).toBe(1);
    const testStart = msOf(root.startTime);
    const testEnd = msOf(root.endTime);
    for (const wait of [...accepted, ...feedback]) {
      expect(t.parentOf(wait)).toBe(serverStart);
      expect(wait.attributes["aiki.run_id"]).toBe(orderRuns[0]!.attributes["aiki.run_id"]);
      // Server and test share the machine's clock; the wait lies inside the test's span (1 ms of rounding).
      expect(msOf(wait.startTime)).toBeGreaterThanOrEqual(testStart - 1);
      expect(msOf(wait.endTime)).toBeGreaterThanOrEqual(msOf(wait.startTime));
      expect(msOf(wait.endTime)).toBeLessThanOrEqual(testEnd + 1);
    }
    expect(accepted[0]!.attributes).toMatchObject({ "aiki.wait.kind": "event wait", "aiki.wait.outcome": "received" });
    // awake() ended the one-day sleep early.
    expect(feedback[0]!.attributes).toMatchObject({ "aiki.wait.kind": "sleep", "aiki.wait.outcome": "cancelled" });
    expect(msOf(feedback[0]!.endTime) - msOf(feedback[0]!.startTime)).toBeLessThan(60_000);
    // The courier's two-second sleep lasted about that, below the order's execution that started the courier.
    const findCourier = t.named("sleep find-courier");
    expect(findCourier.length).toBe(1);
    expect(msOf(findCourier[0]!.endTime) - msOf(findCourier[0]!.startTime)).toBeGreaterThanOrEqual(1_900);
    expect(t.ancestors(findCourier[0]!).some((a) => orderRuns.includes(a))).toBe(true);
    // Nothing of this run went to another trace.
    const orderRunId = orderRuns[0]!.attributes["aiki.run_id"];
    const elsewhere = exporter.getFinishedSpans().filter((s) => s.attributes["aiki.run_id"] === orderRunId && s.spanContext().traceId !== traceId);
    expect(names(elsewhere)).toEqual([]);
  });

  it("retries as attempt spans, a child and an event sent from inside a task, under one trace id", async () => {
    const ref = `child-${Date.now()}`;
    const traceId = await tracer.startActiveSpan("request", async (root) => {
      const handle = await tracedParentV1.start(appClient, { ref });
      const output = await handle.waitForCompletion({ timeout: 15_000 });
      expect(output).toEqual({ got: 7 });
      root.end();
      return root.spanContext().traceId;
    });
    await executionsEnded(traceId, "traced-parent");
    const t = traceOf(traceId);
    const parentRuns = t.named("run traced-parent");
    const attempts = t.named("task flaky");
    expect(attempts.map((a) => a.attributes["aiki.attempt"]).sort()).toEqual([1, 2]);
    expect(attempts.find((a) => a.attributes["aiki.attempt"] === 1)?.status.code).toBe(SpanStatusCode.ERROR);
    for (const a of attempts) expect(parentRuns).toContain(t.parentOf(a));
    expect(parentRuns.flatMap((r) => r.events.map((e) => e.name))).toContain("task retry scheduled");
    // The child continues the parent's execution span.
    const childRuns = t.named("run traced-child");
    expect(childRuns.length).toBeGreaterThanOrEqual(2);
    for (const run of childRuns) expect(t.ancestors(run).some((a) => parentRuns.includes(a))).toBe(true);
    // The event sent from inside the send-go task: its client and server spans descend from the task's span.
    const sendTask = t.named("task send-go")[0]!;
    const serverSend = t.named("aiki.v1.EventService/SendEvent").find((s) => s.kind === SpanKind.SERVER)!;
    expect(t.ancestors(serverSend)).toContain(sendTask);
    expect(t.ancestors(sendTask)).toContain(t.named("request")[0]);
    // The child's wait for the event, beside the child's executions below the parent's execution.
    const go = t.named("wait event go");
    expect(go.length).toBe(1);
    expect(go[0]!.attributes).toMatchObject({ "aiki.wait.kind": "event wait", "aiki.wait.outcome": "received" });
    expect(parentRuns).toContain(t.parentOf(go[0]!));
    expect(msOf(go[0]!.startTime)).toBeLessThanOrEqual(msOf(serverSend.endTime) + 1);
    // A sleep over as soon as asked for is a span too, beside the execution that went on past it.
    const nap = t.named("sleep nap");
    expect(nap.length).toBe(1);
    expect(nap[0]!.attributes).toMatchObject({ "aiki.wait.kind": "sleep", "aiki.wait.outcome": "elapsed" });
    const serverStart = t.named("aiki.v1.RunService/StartRun").find((s) => s.kind === SpanKind.SERVER)!;
    expect(t.parentOf(nap[0]!)).toBe(serverStart);
    const napped = parentRuns.find((r) => r.events.some((e) => e.name === "sleep ended" && e.attributes?.["aiki.wait.name"] === "nap"));
    expect(napped).toBeDefined();
    expect(napped!.events.map((e) => e.name)).not.toContain("suspended on sleep");
  });
});
