// Seed 000, step 1: the tasks, each an independent unit of work retried on its own.
import { task } from "@aiki/sdk";

export const notifyRestaurant = task({
  name: "notify-restaurant",
  async handler(input: { orderId: string; items: string[] }) {
    console.log(`Notifying restaurant about order ${input.orderId}`);
    console.log(`Items: ${input.items.join(", ")}`);
  },
  opts: {
    retry: {
      type: "exponential",
      maxAttempts: 3,
      baseDelayMs: 1000,
    },
  },
});

export const notifyCustomer = task({
  name: "notify-customer",
  async handler(input: { customerId: string; message: string }) {
    console.log(`To customer ${input.customerId}: ${input.message}`);
  },
});

export const sendFeedbackEmail = task({
  name: "send-feedback-email",
  async handler(input: { orderId: string; customerId: string }) {
    console.log(`Sending feedback request for order ${input.orderId}`);
  },
});
