// The seed programs as end-to-end tests: real server, Postgres, Redis, a real @aiki/worker; once
// without authentication and once with AIKI_AUTH=on, the client and the worker each with its key.
import { type Client, client, silentLogger, WorkflowRunFailedError } from "@aiki/sdk";
import { type WorkerHandle, worker } from "@aiki/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey, createNamespace } from "@aiki/server";
import type { TestAiki } from "../test/support/aiki-server.js";
import { useTestAiki } from "../test/support/use-test-aiki.js";
import { userOnboardingV1, userOnboardingV2 } from "./onboarding/onboarding-workflow.js";
import { orderWorkflowV1 } from "./order-processing/order-workflow.js";
import { courierDeliveryV1 } from "./restaurant/courier-workflow.js";
import { defineRestaurantOrder, restaurantOrderV1 } from "./restaurant/restaurant-workflow.js";

// The seed's order, with the restaurant's 5-minute acceptance timeout shortened so the timeout
// path finishes in a test.
const impatientOrderV1 = defineRestaurantOrder("restaurant-order-impatient", { milliseconds: 300 });

describe.each([
  { mode: "AIKI_AUTH=off", auth: false },
  { mode: "AIKI_AUTH=on, with API keys", auth: true },
])("the seed programs, $mode", ({ auth }) => {
  const h = useTestAiki(auth ? { auth: {} } : {});
  let aiki: TestAiki;
  let aikiClient: Client;
  let workerClient: Client;
  let workerHandle: WorkerHandle;
  // With keys as an application and its workers would hold them: the client's (client, read) and
  // the worker's (worker) in one namespace, which then holds every run.
  const namespace = auth ? "seeds" : "default";

  beforeAll(async () => {
    aiki = h.aiki;
    let appKey: string | undefined;
    let workerKey: string | undefined;
    if (auth) {
      await createNamespace(aiki.deps, namespace);
      appKey = (await createApiKey(aiki.deps, { namespace, scopes: ["client", "read"], description: "seed programs" })).secret;
      workerKey = (await createApiKey(aiki.deps, { namespace, scopes: ["worker"], description: "examples-worker" })).secret;
    }
    aikiClient = client({ url: aiki.url, apiKey: appKey, logger: silentLogger });
    workerClient = client({ url: aiki.url, apiKey: workerKey, logger: silentLogger });
    workerHandle = await worker({
      name: "examples-worker",
      workflows: [restaurantOrderV1, impatientOrderV1, courierDeliveryV1, orderWorkflowV1, userOnboardingV1, userOnboardingV2],
    }).spawn(workerClient);
  });
  afterAll(async () => {
    await workerHandle?.stop();
    await workerClient?.close();
    await aikiClient?.close();
  });

  describe("restaurant order (seeds 000, 004)", () => {
    it("accepted path: events, a courier child by reference id, awake() ends the one-day sleep", async () => {
      const orderId = `order-${Date.now()}`;
      const handle = await restaurantOrderV1.start(aikiClient, { orderId, customerId: "customer-456", items: ["Burger", "Fries"] });
      expect((await handle.waitForStatus("awaiting_event", { timeout: 10_000 })).success).toBe(true);
      await handle.events.restaurantAccepted.send({ estimatedTime: 30 });

      const courier = await eventually(() => courierDeliveryV1.getHandleByReferenceId(aikiClient, orderId));
      expect(courier.run.id).not.toBe(handle.run.id);
      expect((await courier.waitForStatus("awaiting_event", { timeout: 10_000 })).success).toBe(true);
      await courier.events.foodReady.send();

      expect((await handle.waitForStatus("sleeping", { timeout: 15_000 })).success).toBe(true);
      await handle.awake();
      const result = await handle.waitForStatus("completed", { timeout: 10_000 });
      expect(result.success).toBe(true);
      if (result.success) expect(result.state.output).toEqual({ status: "completed", orderId });
      const courierDone = await courier.waitForStatus("completed", { timeout: 1_000 });
      expect(courierDone.success && courierDone.state.output).toEqual({ courierName: "Oluwafemi" });
    });

    it("timeout path: no acceptance within the timeout cancels the order", async () => {
      const handle = await impatientOrderV1.start(aikiClient, { orderId: `late-${Date.now()}`, customerId: "c", items: ["Soup"] });
      const result = await handle.waitForStatus("completed", { timeout: 10_000 });
      expect(result.success && result.state.output).toEqual({ status: "cancelled", reason: "timeout" });
    });
  });

  describe("order processing (seed 001)", () => {
    it("runs four tasks in sequence and returns their results", async () => {
      const handle = await orderWorkflowV1.start(aikiClient, { items: [{ id: "item-1", quantity: 2 }], total: 99.99, email: "customer@example.com" });
      // As the seed does it: waitForCompletion() resolves with the handler's typed return.
      const output = await handle.waitForCompletion({ timeout: 10_000 });
      expect(output.success).toBe(true);
      expect(output.orderId).toMatch(/^order-\d+$/);
      expect(output.paymentId).toMatch(/^pay-\d+$/);
    });

    it("a failing task fails the run: waitForCompletion rejects with WorkflowRunFailedError, cause task", async () => {
      const handle = await orderWorkflowV1.start(aikiClient, { items: [], total: 0, email: "x@example.com" });
      const error = await handle.waitForCompletion({ timeout: 10_000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(WorkflowRunFailedError);
      expect(error).toMatchObject({ runId: handle.run.id, status: "failed", failureCause: "task" });
      expect((error as WorkflowRunFailedError).failure?.cause?.message).toBe("Order must have items");
      expect(handle.run.state.status).toBe("failed");
    });
  });

  describe("onboarding versions (seeds 002, 003)", () => {
    it("1.0.0 and 2.0.0 run side by side, each its own code", async () => {
      const v1 = await userOnboardingV1.start(aikiClient, { userId: "u1" });
      const v2 = await userOnboardingV2.start(aikiClient, { userId: "u2" });
      // 1.0.0 returns nothing: resolving is the whole answer.
      const [, r2] = await Promise.all([v1.waitForCompletion({ timeout: 10_000 }), v2.waitForCompletion({ timeout: 10_000 })]);
      expect(v1.run.state.status).toBe("completed");
      expect(r2).toEqual({ profileId: "profile-u2" });
      expect(v1.run.versionId).toBe("1.0.0");
      expect(v2.run.versionId).toBe("2.0.0");
    });
  });

  it("left every run in the namespace of the keys", async () => {
    const namespaces = await aiki.deps.db.selectFrom("runs").select("namespace").distinct().execute();
    expect(namespaces.map((r) => r.namespace)).toEqual([namespace]);
  });
});

async function eventually<T>(fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
