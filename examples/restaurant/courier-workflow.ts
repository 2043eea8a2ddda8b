// Seed 000, step 2: courier delivery, a child workflow that runs independently.
import { event, workflow } from "@aiki/sdk";

export const courierDelivery = workflow({ name: "courier-delivery" });

export const courierDeliveryV1 = courierDelivery.v("1.0.0", {
  async handler(run, _input: { orderId: string; restaurantId: string }) {
    run.logger.info("Finding available courier...");

    // Simulate courier search
    await run.sleep("find-courier", { seconds: 2 });

    run.logger.info("Courier assigned, waiting for food to be ready...");

    // Wait for restaurant to signal food is ready
    await run.events.foodReady.wait();

    run.logger.info("Food ready! Courier picking up...");
    await run.sleep("delivery", { seconds: 2 });

    run.logger.info("Order delivered!");
    return { courierName: "Oluwafemi" };
  },
  events: {
    foodReady: event(),
  },
});
