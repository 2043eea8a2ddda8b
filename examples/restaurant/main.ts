// `npm run example`: seed 000's restaurant order, end to end, printing each step as it happens.
// It starts the server on the embedded store (or uses AIKI_URL), a worker, and plays the
// restaurant and the courier: it sends their events when the workflows wait for them. The
// one-day feedback sleep is ended early with awake(), so the run finishes in seconds.
import process from "node:process";
import { AikiRpcError, client } from "@aiki/sdk";
import { worker } from "@aiki/worker";
import { startEmbeddedServer } from "../embedded-server.js";
import { courierDeliveryV1 } from "./courier-workflow.js";
import { restaurantOrderV1 } from "./restaurant-workflow.js";

const embedded = process.env.AIKI_URL ? undefined : await startEmbeddedServer();
const url = process.env.AIKI_URL ?? embedded!.url;
console.log(`Aiki server: ${url}${embedded ? " (embedded store, temporary folder)" : ""}`);

// AIKI_API_KEY: a key with client, worker and read scopes, for a server with AIKI_AUTH=on.
const aikiClient = await client({ url, apiKey: process.env.AIKI_API_KEY });
const aikiWorker = worker({
  name: "restaurant-worker",
  workflows: [restaurantOrderV1, courierDeliveryV1],
});
const workerHandle = await aikiWorker.spawn(aikiClient);

try {
  const orderId = `order-${Date.now()}`;
  const handle = await restaurantOrderV1.start(aikiClient, {
    orderId,
    customerId: "customer-456",
    items: ["Burger", "Fries", "Drink"],
  });
  console.log("Workflow started:", handle.run.id);

  // The restaurant accepts once the order waits for it.
  await handle.waitForStatus("awaiting_event", { timeout: { seconds: 30 } });
  await handle.events.restaurantAccepted.send({ estimatedTime: 30 });
  console.log("Restaurant accepted the order!");

  // The courier workflow is a child with the order id as reference id; the food is ready
  // once it waits for that.
  const courierHandle = await waitForCourier(orderId);
  await courierHandle.waitForStatus("awaiting_event", { timeout: { seconds: 30 } });
  await courierHandle.events.foodReady.send();
  console.log("Food is ready for pickup!");

  // The order now sleeps a day before asking for feedback; wake it now rather than tomorrow.
  await handle.waitForStatus("sleeping", { timeout: { seconds: 30 } });
  console.log("The order sleeps for one day before the feedback email; ending that sleep early with awake()");
  await handle.awake();

  const result = await handle.waitForStatus("completed", { timeout: { seconds: 30 } });
  if (!result.success) throw new Error(`the order did not complete: ${result.cause}`);
  console.log("Order completed:", result.state.output);
} catch (error) {
  if (!(error instanceof AikiRpcError && (error.code === "unauthenticated" || error.code === "permission_denied"))) throw error;
  // A server with AIKI_AUTH=on: say what to set rather than print a stack.
  console.error(`The server refused the call: ${error.message}`);
  console.error("With AIKI_AUTH=on, set AIKI_API_KEY to a key with the client, worker and read scopes (docs/security.md).");
  process.exitCode = 1;
} finally {
  await workerHandle.stop();
  await aikiClient.close();
  await embedded?.stop();
}

async function waitForCourier(orderId: string) {
  for (let i = 0; i < 100; i++) {
    try {
      return await courierDeliveryV1.getHandleByReferenceId(aikiClient, orderId);
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`no courier run for ${orderId}`);
}
