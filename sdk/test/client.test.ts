// The client side of the SDK against a real server (RunService, EventService): no worker runs
// here, so runs stay where the client puts them.
import { beforeAll, describe, expect, it } from "vitest";
import {
  type Client,
  client,
  event,
  InvalidTransitionError,
  RunNotFoundError,
  SchemaValidationError,
  silentLogger,
  workflow,
  WorkflowRunConflictError,
} from "@aiki/sdk";
import { clientInternals } from "@aiki/sdk/internal";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki();
let aiki: TestAiki;
let aikiClient: Client;

beforeAll(() => {
  aiki = h.aiki;
  aikiClient = h.client;
});

const orderSchema = {
  parse(data: unknown): { orderId: string; total: number } {
    const d = data as { orderId?: unknown; total?: unknown };
    if (typeof d?.orderId !== "string" || typeof d.total !== "number") throw new Error("expected { orderId: string, total: number }");
    return { orderId: d.orderId, total: d.total };
  },
};

const order = workflow({ name: "client-order" });
const orderV1 = order.v("1.0.0", {
  async handler(_run, input: { orderId: string; total: number }) {
    return { charged: input.total };
  },
  events: {
    accepted: event<{ etaMinutes: number }>(),
    validated: event({
      schema: {
        parse(data: unknown): { ok: boolean } {
          if (typeof (data as { ok?: unknown })?.ok !== "boolean") throw new Error("expected { ok: boolean }");
          return data as { ok: boolean };
        },
      },
    }),
  },
  schema: { input: orderSchema },
});

const nextOrder = () => ({ orderId: h.uniqueName("o"), total: 10 });

describe("client", () => {
  it("is usable with and without await and has no then", async () => {
    const awaited = await client({ url: aiki.url, logger: silentLogger });
    expect("then" in awaited).toBe(false);
    const handle = await orderV1.start(awaited, nextOrder());
    expect(handle.run.state.status).toBe("queued");
    await awaited.close();
  });

  it("refuses calls after close, and close cancels waits in flight", async () => {
    const c = client({ url: aiki.url, logger: silentLogger });
    const handle = await orderV1.start(c, nextOrder());
    const waiting = handle.waitForStatus("completed");
    await new Promise((r) => setTimeout(r, 50));
    await c.close();
    await expect(waiting).rejects.toThrow(/closed|cancel/i);
    await expect(orderV1.start(c, nextOrder())).rejects.toThrow(/closed/);
  });
});

describe("start and handles", () => {
  it("starts a run and reads it back by id and by reference id", async () => {
    const input = nextOrder();
    const handle = await orderV1.with().opt("reference.id", input.orderId).start(aikiClient, input);
    expect(handle.run).toMatchObject({ name: "client-order", versionId: "1.0.0", input, referenceId: input.orderId, attempts: 1 });
    expect(handle.run.state).toEqual({ status: "queued", reason: undefined, wakeAt: undefined, failure: undefined });
    expect(handle.run.createdAt).toBeInstanceOf(Date);

    const byId = await orderV1.getHandleById(aikiClient, handle.run.id);
    expect(byId.run.id).toBe(handle.run.id);
    const byRef = await orderV1.getHandleByReferenceId(aikiClient, input.orderId);
    expect(byRef.run.id).toBe(handle.run.id);
  });

  it("answers RunNotFoundError for unknown runs and for runs of another version", async () => {
    const missing = await orderV1.getHandleById(aikiClient, "00000000-0000-4000-8000-000000000000").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(RunNotFoundError);
    expect((missing as RunNotFoundError).runId).toBe("00000000-0000-4000-8000-000000000000");

    const byRef = await orderV1.getHandleByReferenceId(aikiClient, "no-such-ref").catch((e: unknown) => e);
    expect(byRef).toBeInstanceOf(RunNotFoundError);
    expect((byRef as RunNotFoundError).reference).toEqual({ workflowName: "client-order", versionId: "1.0.0", referenceId: "no-such-ref" });

    const other = order.v("2.0.0", { async handler() {} });
    const handle = await orderV1.start(aikiClient, nextOrder());
    await expect(other.getHandleById(aikiClient, handle.run.id)).rejects.toBeInstanceOf(RunNotFoundError);
  });

  it("refuses input failing the schema with SchemaValidationError, creating nothing", async () => {
    const list = () => clientInternals(aikiClient).runs.listRuns({ workflowName: "client-order", pageSize: 1000 });
    const before = (await list()).runs.length;
    const error = await orderV1.start(aikiClient, { orderId: 1 } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaValidationError);
    expect((error as SchemaValidationError).subject).toBe('workflow "client-order" 1.0.0 input');
    expect((await list()).runs.length).toBe(before);
  });

  it("applies reference conflict policies", async () => {
    const input = nextOrder();
    const first = await orderV1.with().opt("reference.id", input.orderId).start(aikiClient, input);
    const same = await orderV1.with().opt("reference.id", input.orderId).start(aikiClient, input);
    expect(same.run.id).toBe(first.run.id);

    const conflict = await orderV1
      .with()
      .opt("reference.id", input.orderId)
      .start(aikiClient, { ...input, total: 99 })
      .catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(WorkflowRunConflictError);
    expect(conflict).toMatchObject({ existingRunId: first.run.id, referenceId: input.orderId });

    const existing = await orderV1
      .with()
      .opt("reference", { id: input.orderId, conflictPolicy: "return_existing" })
      .start(aikiClient, { ...input, total: 99 });
    expect(existing.run.id).toBe(first.run.id);
  });

  it('passes tags (opt("tags") merges), and refuses tags that are not strings', async () => {
    const handle = await orderV1.with().opt("tags", { tenant: "acme" }).opt("tags", { incident: "inc-1" }).start(aikiClient, nextOrder());
    expect(handle.run.tags).toEqual({ tenant: "acme", incident: "inc-1" });
    const byId = await orderV1.getHandleById(aikiClient, handle.run.id);
    expect(byId.run.tags).toEqual({ tenant: "acme", incident: "inc-1" });
    expect(() => orderV1.with().opt("tags", { n: 1 } as never)).toThrow(TypeError);
  });

  it("passes shard, retry and a delayed trigger", async () => {
    const handle = await orderV1
      .with()
      .opt("shard", "eu")
      .opt("retry", { type: "fixed", maxAttempts: 2, delayMs: 10 })
      .opt("trigger", { type: "delayed", delay: { minutes: 10 } })
      .start(aikiClient, nextOrder());
    expect(handle.run.shard).toBe("eu");
    expect(handle.run.tags).toEqual({});
    expect(handle.run.state.status).toBe("scheduled");
    expect(handle.run.wakeAt!.getTime()).toBeGreaterThan(Date.now() + 9 * 60_000);
  });
});

describe("controls", () => {
  it("pauses, resumes and cancels, and refuses transitions the state forbids", async () => {
    const handle = await orderV1.start(aikiClient, nextOrder());
    await handle.pause();
    expect(handle.run.state.status).toBe("paused");
    await handle.resume();
    expect(handle.run.state.status).toBe("queued");

    const refused = await handle.resume().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InvalidTransitionError);
    expect(refused).toMatchObject({ runId: handle.run.id, currentStatus: "queued", action: "resume" });

    await expect(handle.awake()).rejects.toMatchObject({ currentStatus: "queued", action: "awake" });

    await handle.cancel("customer changed their mind");
    expect(handle.run.state).toEqual({ status: "cancelled", reason: "customer changed their mind" });
    await expect(handle.cancel()).rejects.toBeInstanceOf(InvalidTransitionError);
    const refreshed = await handle.refresh();
    expect(refreshed.endedAt).toBeInstanceOf(Date);
  });
});

describe("waitForStatus", () => {
  it("answers at once for a finished run, from a fresh handle too", async () => {
    const handle = await orderV1.start(aikiClient, nextOrder());
    await handle.cancel();
    const fresh = await orderV1.getHandleById(aikiClient, handle.run.id);
    const t0 = Date.now();
    expect(await fresh.waitForStatus("completed")).toEqual({ success: false, cause: "run_terminated" });
    const cancelled = await fresh.waitForStatus("cancelled");
    expect(cancelled.success).toBe(true);
    if (cancelled.success) expect(cancelled.state.status).toBe("cancelled");
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  it("wakes when the run changes, not on a client poll", async () => {
    const handle = await orderV1.start(aikiClient, nextOrder());
    const waiting = handle.waitForStatus("paused");
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const other = await orderV1.getHandleById(aikiClient, handle.run.id);
    await other.pause();
    const result = await waiting;
    expect(result.success).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(handle.run.state.status).toBe("paused");
  });

  it("times out and aborts", async () => {
    const handle = await orderV1.start(aikiClient, nextOrder());
    const t0 = Date.now();
    expect(await handle.waitForStatus("completed", { timeout: 200 })).toEqual({ success: false, cause: "timeout" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);

    const controller = new AbortController();
    const waiting = handle.waitForStatus("completed", { abortSignal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    expect(await waiting).toEqual({ success: false, cause: "aborted" });
  });
});

describe("events", () => {
  it("sends typed events; schema failures send nothing; terminal runs refuse", async () => {
    const handle = await orderV1.start(aikiClient, nextOrder());
    await handle.events.accepted.send({ etaMinutes: 5 });
    await handle.events.accepted.with().opt("reference.id", "accept-1").send({ etaMinutes: 5 });
    await handle.events.accepted.with().opt("reference.id", "accept-1").send({ etaMinutes: 5 });
    await orderV1.events.accepted.send(aikiClient, [handle.run.id], { etaMinutes: 6 });

    const bad = await handle.events.validated.send({ ok: "yes" } as never).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(SchemaValidationError);

    const { events } = await clientInternals(aikiClient).events.listEvents({ runId: handle.run.id });
    expect(events.map((e) => e.name)).toEqual(["accepted", "accepted", "accepted"]);

    await handle.cancel();
    const refused = await handle.events.accepted.send({ etaMinutes: 1 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InvalidTransitionError);
    expect(refused).toMatchObject({ currentStatus: "cancelled", action: "send_event" });
  });

  it("sends by reference id", async () => {
    const input = nextOrder();
    const handle = await orderV1.with().opt("reference.id", input.orderId).start(aikiClient, input);
    await orderV1.events.accepted.sendByReferenceId(aikiClient, input.orderId, { etaMinutes: 3 });
    const { events } = await clientInternals(aikiClient).events.listEvents({ runId: handle.run.id });
    expect(events).toHaveLength(1);
    await expect(orderV1.events.accepted.sendByReferenceId(aikiClient, "nobody", { etaMinutes: 3 })).rejects.toBeInstanceOf(RunNotFoundError);
  });
});
