// Compile-time checks of the worker's public types (root typecheck; never executed): seed 000's
// infrastructure step against @aiki/worker.
import { client, event, task, workflow } from "@aiki/sdk";
import { worker } from "@aiki/worker";

const sendFeedbackEmail = task({
  name: "send-feedback-email",
  async handler(input: { orderId: string; customerId: string }) {
    console.log(`Sending feedback request for order ${input.orderId}`);
  },
});

const courierDeliveryV1 = workflow({ name: "courier-delivery" }).v("1.0.0", {
  async handler(run, input: { orderId: string }) {
    await run.events.foodReady.wait();
    return { courierName: "Oluwafemi", orderId: input.orderId };
  },
  events: { foodReady: event() },
});

const restaurantOrderV1 = workflow({ name: "restaurant-order" }).v("1.0.0", {
  async handler(run, input: { orderId: string; customerId: string }) {
    await sendFeedbackEmail.start(run, input);
  },
});

export async function main(): Promise<void> {
  const aikiClient = await client({ url: "http://127.0.0.1:9850", redis: { host: "localhost", port: 6379 } });
  const aikiWorker = worker({
    name: "restaurant-worker",
    workflows: [restaurantOrderV1, courierDeliveryV1],
    subscriber: { type: "redis" },
    opts: { maxConcurrentWorkflowRuns: 5, shards: ["us-east"], gracefulShutdownTimeoutMs: 5_000 },
  });
  const workerHandle = await aikiWorker.spawn(aikiClient);
  const id: string = workerHandle.id;
  void id;
  // @ts-expect-error: workflows are workflow versions
  worker({ name: "bad", workflows: [sendFeedbackEmail] });
  process.on("SIGINT", async () => {
    await workerHandle.stop();
    await aikiClient.close();
  });
}
