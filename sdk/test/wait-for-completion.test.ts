// handle.waitForCompletion() against a real server and worker: the output of a completed run,
// WorkflowRunFailedError for a failed or cancelled one, DOMException TimeoutError / the abort
// reason when the caller gives up.
import { type Client, event, task, workflow, WorkflowRunFailedError } from "@aiki/sdk";
import { type WorkerHandle, worker } from "@aiki/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

class CardDeclined extends Error {
  override name = "CardDeclined";
}

const charge = task({
  name: "wfc-charge",
  async handler(input: { amount: number }) {
    if (input.amount < 0) throw new TypeError(`cannot charge ${input.amount}`, { cause: new CardDeclined("issuer said no") });
    return { chargeId: `ch-${input.amount}` };
  },
});

const checkout = workflow({ name: "wfc-checkout" });
const checkoutV1 = checkout.v("1.0.0", {
  async handler(run, input: { amount: number; failIn?: "handler" }) {
    if (input.failIn === "handler") throw new RangeError("amount out of range", { cause: new CardDeclined("limit") });
    const { chargeId } = await charge.start(run, { amount: input.amount });
    return { chargeId, amount: input.amount };
  },
});

// No worker runs this one: its runs stay queued until cancelled.
const unserved = workflow({ name: "wfc-unserved" });
const unservedV1 = unserved.v("1.0.0", {
  async handler(_run, input: { n: number }) {
    return { n: input.n };
  },
  events: { go: event() },
});

// The worker serves every test of the file: spawned here, not by h.spawn (which stops its workers after each test).
const h = useTestAiki();
let aikiClient: Client;
let running: WorkerHandle;

beforeAll(async () => {
  aikiClient = h.client;
  running = await worker({ name: "wfc-worker", workflows: [checkoutV1] }).spawn(aikiClient);
});
afterAll(async () => {
  await running?.stop();
});

/** The rejection of a promise that must reject (fails the test when it resolves). */
async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

describe("waitForCompletion", () => {
  it("resolves with the output of a completed run", async () => {
    const handle = await checkoutV1.start(aikiClient, { amount: 12 });
    const output = await handle.waitForCompletion({ timeout: 10_000 });
    expect(output).toEqual({ chargeId: "ch-12", amount: 12 });
    expect(handle.run.state.status).toBe("completed");
  });

  it("rejects with WorkflowRunFailedError carrying the failure when the handler fails", async () => {
    const handle = await checkoutV1.start(aikiClient, { amount: 1, failIn: "handler" });
    const error = await rejectionOf(handle.waitForCompletion({ timeout: 10_000 }));
    expect(error).toBeInstanceOf(WorkflowRunFailedError);
    const failed = error as WorkflowRunFailedError;
    expect(failed.runId).toBe(handle.run.id);
    expect(failed.status).toBe("failed");
    expect(failed.failureCause).toBe("handler");
    expect(failed.reason).toBeUndefined();
    expect(failed.failure).toMatchObject({ message: "amount out of range", type: "RangeError", cause: { message: "limit", type: "CardDeclined" } });
    expect(failed.message).toBe(`workflow run ${handle.run.id} failed (handler): amount out of range`);
    // The cause chain reads like the errors the handler threw.
    const cause = failed.cause as Error;
    expect(cause).toBeInstanceOf(Error);
    expect([cause.name, cause.message]).toEqual(["RangeError", "amount out of range"]);
    expect([(cause.cause as Error).name, (cause.cause as Error).message]).toEqual(["CardDeclined", "limit"]);
  });

  it("a failed task fails the run with cause task and the task's failure in the chain", async () => {
    const handle = await checkoutV1.start(aikiClient, { amount: -5 });
    const error = await rejectionOf(handle.waitForCompletion({ timeout: 10_000 }));
    expect(error).toBeInstanceOf(WorkflowRunFailedError);
    const failed = error as WorkflowRunFailedError;
    expect(failed.status).toBe("failed");
    expect(failed.failureCause).toBe("task");
    expect(failed.failure?.type).toBe("TaskFailedError");
    expect(failed.failure?.cause).toMatchObject({ message: "cannot charge -5", type: "TypeError", cause: { message: "issuer said no", type: "CardDeclined" } });
    expect((failed.cause as Error).name).toBe("TaskFailedError");
    expect(((failed.cause as Error).cause as Error).message).toBe("cannot charge -5");
  });

  it("rejects with WorkflowRunFailedError status cancelled and the reason when the run is cancelled while waited on", async () => {
    const handle = await unservedV1.start(aikiClient, { n: 1 });
    const waiting = rejectionOf(handle.waitForCompletion({ timeout: 10_000 }));
    await handle.cancel("customer left");
    const error = await waiting;
    expect(error).toBeInstanceOf(WorkflowRunFailedError);
    const cancelled = error as WorkflowRunFailedError;
    expect(cancelled.runId).toBe(handle.run.id);
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.reason).toBe("customer left");
    expect(cancelled.failure).toBeUndefined();
    expect(cancelled.failureCause).toBeUndefined();
    expect(cancelled.cause).toBeUndefined();
    expect(cancelled.message).toBe(`workflow run ${handle.run.id} was cancelled: customer left`);
  });

  it("answers at once on a fresh handle to a run that already ended", async () => {
    const done = await checkoutV1.with().opt("reference.id", `done-${Date.now()}`).start(aikiClient, { amount: 3 });
    await done.waitForCompletion({ timeout: 10_000 });
    const failedFirst = await checkoutV1.start(aikiClient, { amount: 1, failIn: "handler" });
    await rejectionOf(failedFirst.waitForCompletion({ timeout: 10_000 }));
    const cancelledFirst = await unservedV1.start(aikiClient, { n: 2 });
    await cancelledFirst.cancel("ops");

    // A zero timeout gives up after a single zero-hold call: only a run that has ended answers it.
    const fresh = await checkoutV1.getHandleByReferenceId(aikiClient, done.run.referenceId!);
    expect(fresh.run.state.status).toBe("completed");
    expect(await fresh.waitForCompletion({ timeout: 0 })).toEqual({ chargeId: "ch-3", amount: 3 });

    const freshFailed = await checkoutV1.getHandleById(aikiClient, failedFirst.run.id);
    const failed = await rejectionOf(freshFailed.waitForCompletion({ timeout: 0 }));
    expect(failed).toBeInstanceOf(WorkflowRunFailedError);
    expect((failed as WorkflowRunFailedError).failure?.message).toBe("amount out of range");

    const freshCancelled = await unservedV1.getHandleById(aikiClient, cancelledFirst.run.id);
    const cancelled = await rejectionOf(freshCancelled.waitForCompletion({ timeout: 0 }));
    expect(cancelled).toMatchObject({ status: "cancelled", reason: "ops" });
  });

  it("rejects with a DOMException TimeoutError when the timeout passes; the run goes on", async () => {
    const handle = await unservedV1.start(aikiClient, { n: 3 });
    const started = Date.now();
    const error = await rejectionOf(handle.waitForCompletion({ timeout: { milliseconds: 300 } }));
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(DOMException);
    expect((error as DOMException).name).toBe("TimeoutError");
    expect((error as DOMException).message).toBe(`gave up waiting for workflow run ${handle.run.id} to complete after 300 ms; it was queued`);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(5_000);
    expect((await handle.refresh()).state.status).toBe("queued");

    // A zero timeout asks once and gives up.
    const zero = await rejectionOf(handle.waitForCompletion({ timeout: 0 }));
    expect((zero as DOMException).name).toBe("TimeoutError");
    await handle.cancel();
  });

  it("rejects with the abort signal's reason when aborted, before or during the wait", async () => {
    const handle = await unservedV1.start(aikiClient, { n: 4 });
    const controller = new AbortController();
    const waiting = rejectionOf(handle.waitForCompletion({ abortSignal: controller.signal }));
    const reason = new Error("shutting down");
    controller.abort(reason);
    expect(await waiting).toBe(reason);

    const preAborted = await rejectionOf(handle.waitForCompletion({ abortSignal: AbortSignal.abort() }));
    expect((preAborted as DOMException).name).toBe("AbortError");
    expect((await handle.refresh()).state.status).toBe("queued");
    await handle.cancel();
  });
});
