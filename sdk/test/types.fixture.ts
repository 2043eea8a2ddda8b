// Compile-time checks of the public types (run by the root typecheck, never executed): seed 000
// written against @aiki/sdk, plus `@ts-expect-error` lines that must stay errors.
import { client, event, type Schema, schedule, type ScheduleHandle, task, workflow, WorkflowRunFailedError } from "@aiki/sdk";

export const notifyRestaurant = task({
  name: "notify-restaurant",
  async handler(input: { orderId: string; items: string[] }) {
    console.log(`Notifying restaurant about order ${input.orderId}: ${input.items.join(", ")}`);
  },
  opts: { retry: { type: "exponential", maxAttempts: 3, baseDelayMs: 1000 } },
});

const notifyCustomer = task({
  name: "notify-customer",
  async handler(input: { customerId: string; message: string }) {
    return { delivered: true, to: input.customerId };
  },
});

const noInput = task({
  name: "no-input",
  handler() {
    return 42;
  },
});

const numberSchema: Schema<{ n: number }> = {
  parse(data: unknown) {
    if (typeof data === "object" && data !== null && typeof (data as { n?: unknown }).n === "number") return data as { n: number };
    throw new Error("not { n: number }");
  },
};

const courierDelivery = workflow({ name: "courier-delivery" });

export const courierDeliveryV1 = courierDelivery.v("1.0.0", {
  async handler(run, input: { orderId: string; restaurantId: string }) {
    run.logger.info("Finding available courier...");
    await run.sleep("find-courier", { seconds: 2 });
    const ready = await run.events.foodReady.wait();
    // biome-ignore lint/suspicious/noConfusingVoidType: what is checked is that an event without data types it as void
    const nothing: void = ready.data;
    void nothing;
    await run.sleep("delivery", 2000);
    return { courierName: "Oluwafemi", orderId: input.orderId };
  },
  events: { foodReady: event() },
});

const restaurantOrder = workflow({ name: "restaurant-order" });

export const restaurantOrderV1 = restaurantOrder.v("1.0.0", {
  async handler(run, input: { orderId: string; customerId: string; items: string[] }) {
    await notifyRestaurant.start(run, { orderId: input.orderId, items: input.items });

    const response = await run.events.restaurantAccepted.wait({ timeout: { minutes: 5 } });
    if (response.timeout) {
      return { status: "cancelled" as const, reason: "timeout" };
    }
    const minutes: number = response.data.estimatedTime;

    const sent = await notifyCustomer.start(run, { customerId: input.customerId, message: `ETA ${minutes}` });
    const delivered: boolean = sent.delivered;
    void delivered;
    const answer: number = await noInput.start(run);
    void answer;

    const deliveryHandle = await courierDeliveryV1
      .with()
      .opt("reference.id", input.orderId)
      .startAsChild(run, { orderId: input.orderId, restaurantId: "restaurant-1" });
    const deliveryResult = await deliveryHandle.waitForStatus("completed");
    if (!deliveryResult.success) {
      const cause: "run_terminated" | "timeout" = deliveryResult.cause;
      void cause;
      return { status: "failed" as const, reason: "delivery_failed" };
    }
    const { courierName } = deliveryResult.state.output;
    const name: string = courierName;
    void name;
    // @ts-expect-error: child handles have no waitForCompletion (see RunHandle.waitForCompletion)
    await deliveryHandle.waitForCompletion();

    const slept = await run.sleep("feedback-delay", { days: 1 });
    const cancelled: boolean = slept.cancelled;
    void cancelled;

    // @ts-expect-error: the task's input is { customerId, message }
    await notifyCustomer.start(run, { customerId: input.customerId });
    // @ts-expect-error: the task's input is an object, not a string
    await notifyRestaurant.start(run, input.orderId);
    // @ts-expect-error: no such event on this version
    await run.events.nope.wait();
    // @ts-expect-error: the child's input needs restaurantId
    await courierDeliveryV1.startAsChild(run, { orderId: input.orderId });

    return { status: "completed" as const, orderId: input.orderId };
  },
  events: {
    restaurantAccepted: event<{ estimatedTime: number }>(),
  },
});

export const withSchemas = workflow({ name: "schemas" }).v("1.0.0", {
  async handler(_run, input) {
    const n: number = input.n;
    return { doubled: n * 2 };
  },
  schema: { input: numberSchema },
  events: { validated: event({ schema: numberSchema }) },
});

export async function clientSide(): Promise<void> {
  const aiki = client({ url: "http://127.0.0.1:9850" });
  const awaited = await client({ url: "http://127.0.0.1:9850" });
  void awaited;

  const handle = await restaurantOrderV1.start(aiki, { orderId: "o-1", customerId: "c-1", items: ["Burger"] });
  const id: string = handle.run.id;
  void id;
  await handle.events.restaurantAccepted.send({ estimatedTime: 30 });
  await handle.events.restaurantAccepted.with().opt("reference.id", "accept-1").send({ estimatedTime: 30 });
  // @ts-expect-error: estimatedTime is a number
  await handle.events.restaurantAccepted.send({ estimatedTime: "soon" });
  // @ts-expect-error: the payload is required
  await handle.events.restaurantAccepted.send();

  const result = await handle.waitForStatus("completed", { timeout: { minutes: 1 } });
  if (result.success) {
    const status: "cancelled" | "failed" | "completed" = result.state.output.status;
    void status;
  } else {
    const cause: "run_terminated" | "timeout" | "aborted" = result.cause;
    void cause;
  }
  const failed = await handle.waitForStatus("failed");
  if (failed.success) {
    const message: string = failed.state.failure.message;
    void message;
  }

  // waitForCompletion: the output typed by the handler's return, errors typed by their class
  const output = await handle.waitForCompletion({ timeout: { minutes: 1 }, abortSignal: AbortSignal.timeout(60_000) });
  const outcome: "cancelled" | "failed" | "completed" = output.status;
  void outcome;
  // @ts-expect-error: the output is the handler's return, not a run state
  void output.state;
  try {
    const doubledOutput: number = (await (await withSchemas.getHandleById(aiki, "r-1")).waitForCompletion()).doubled;
    void doubledOutput;
  } catch (error) {
    if (error instanceof WorkflowRunFailedError) {
      const ended: "failed" | "cancelled" = error.status;
      const failureMessage: string | undefined = error.failure?.message;
      const failureCause: "task" | "handler" | "non_determinism" | "output_schema" | "child_schema" | undefined = error.failureCause;
      const reason: string | undefined = error.reason;
      void [ended, failureMessage, failureCause, reason];
    }
  }
  // @ts-expect-error: waitForCompletion takes options, not a status
  await handle.waitForCompletion("completed");

  const courier = await courierDeliveryV1.getHandleByReferenceId(aiki, "o-1");
  const delivered: { courierName: string; orderId: string } = await courier.waitForCompletion();
  void delivered;
  await courier.events.foodReady.send();
  await courierDeliveryV1.events.foodReady.send(aiki, [courier.run.id]);
  await restaurantOrderV1.events.restaurantAccepted.sendByReferenceId(aiki, "o-1", { estimatedTime: 5 });
  // @ts-expect-error: wrong payload through the version too
  await restaurantOrderV1.events.restaurantAccepted.send(aiki, "id", { minutes: 5 });

  // @ts-expect-error: the workflow's input needs customerId and items
  await restaurantOrderV1.start(aiki, { orderId: "o-2" });
  // @ts-expect-error: unknown start option
  restaurantOrderV1.with().opt("priority", 1);
  // @ts-expect-error: a shard is a string
  restaurantOrderV1.with().opt("shard", 7);

  await restaurantOrderV1
    .with()
    .opt("reference", { id: "o-3", conflictPolicy: "return_existing" })
    .opt("shard", "us-east")
    .opt("retry", { type: "fixed", maxAttempts: 3, delayMs: 100 })
    .opt("trigger", { type: "delayed", delay: { minutes: 1 } })
    .start(aiki, { orderId: "o-3", customerId: "c", items: [] });

  const doubled = await withSchemas.start(aiki, { n: 2 });
  const done = await doubled.waitForStatus("completed");
  if (done.success) {
    const d: number = done.state.output.doubled;
    void d;
  }
  await withSchemas.events.validated.send(aiki, doubled.run.id, { n: 1 });
  // @ts-expect-error: event data typed by its schema
  await withSchemas.events.validated.send(aiki, doubled.run.id, { n: "1" });

  await handle.cancel("no longer needed");

  const nightly: ScheduleHandle<{ orderId: string; customerId: string; items: string[] }> = await schedule({
    type: "cron",
    expression: "0 3 * * *",
    timezone: "Europe/Berlin",
    overlapPolicy: "skip",
    name: "nightly-order",
  }).activate(aiki, restaurantOrderV1, { orderId: "o-n", customerId: "c", items: [] });
  const scheduleId: string = nightly.id;
  void scheduleId;
  await nightly.pause();
  await nightly.resume();
  const state = await nightly.refresh();
  const status: "active" | "paused" = state.status;
  void status;
  await nightly.delete();
  await schedule({ type: "interval", every: { minutes: 5 } }).activate(aiki, withSchemas, { n: 1 }, { shard: "eu" });
  // @ts-expect-error: the input is typed by the version
  await schedule({ type: "interval", every: 60_000 }).activate(aiki, withSchemas, { n: "1" });
  // @ts-expect-error: the input needs customerId and items
  await schedule({ type: "interval", every: 60_000 }).activate(aiki, restaurantOrderV1, { orderId: "o" });
  // @ts-expect-error: no such overlap policy
  schedule({ type: "interval", every: 60_000, overlapPolicy: "queue" });
  // @ts-expect-error: a cron schedule needs an expression
  schedule({ type: "cron", every: 60_000 });
  await aiki.close();
}
