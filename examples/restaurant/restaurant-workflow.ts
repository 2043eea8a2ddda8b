// Seed 000, step 3: the restaurant order, orchestrating events, a timeout, a child workflow and
// a one-day durable sleep. `defineRestaurantOrder` exists only so the end-to-end test can run
// the timeout path with a short timeout; `restaurantOrderV1` is the seed program as written.
import { type Duration, event, workflow } from "@aiki/sdk";
import { courierDeliveryV1 } from "./courier-workflow.js";
import { notifyCustomer, notifyRestaurant, sendFeedbackEmail } from "./tasks.js";

export function defineRestaurantOrder(name: string, acceptTimeout: Duration) {
  const restaurantOrder = workflow({ name });

  return restaurantOrder.v("1.0.0", {
    async handler(run, input: { orderId: string; customerId: string; items: string[] }) {
      // Step 1: Notify restaurant
      await notifyRestaurant.start(run, {
        orderId: input.orderId,
        items: input.items,
      });

      // Step 2: Wait for restaurant to accept (with 5 minute timeout)
      const response = await run.events.restaurantAccepted.wait({
        timeout: acceptTimeout,
      });

      if (response.timeout) {
        await notifyCustomer.start(run, {
          customerId: input.customerId,
          message: "Restaurant didn't respond. Order cancelled.",
        });
        return { status: "cancelled", reason: "timeout" };
      }

      // Step 3: Notify customer of acceptance
      await notifyCustomer.start(run, {
        customerId: input.customerId,
        message: `Order confirmed! Estimated time: ${response.data.estimatedTime} mins`,
      });

      // Step 4: Start courier delivery as child workflow
      // (with  reference ID for external access)
      const deliveryHandle = await courierDeliveryV1.with().opt("reference.id", input.orderId).startAsChild(run, {
        orderId: input.orderId,
        restaurantId: "restaurant-1",
      });

      // Step 5: Wait for delivery to complete
      const deliveryResult = await deliveryHandle.waitForStatus("completed");
      if (!deliveryResult.success) {
        return { status: "failed", reason: "delivery_failed" };
      }

      // Step 6: Notify customer of delivery (using child workflow output)
      const { courierName } = deliveryResult.state.output;
      await notifyCustomer.start(run, {
        customerId: input.customerId,
        message: `Your order was delivered by ${courierName}. Enjoy!`,
      });

      // Step 7: Sleep for 1 day, then request feedback
      await run.sleep("feedback-delay", { days: 1 });
      await sendFeedbackEmail.start(run, {
        orderId: input.orderId,
        customerId: input.customerId,
      });

      return { status: "completed", orderId: input.orderId };
    },
    events: {
      restaurantAccepted: event<{ estimatedTime: number }>(),
    },
  });
}

export const restaurantOrderV1 = defineRestaurantOrder("restaurant-order", { minutes: 5 });
