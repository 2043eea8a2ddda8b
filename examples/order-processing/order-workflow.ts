// Seed 001 (order processing), written in the current `handler(run, input)` style.
import { task, workflow } from "@aiki/sdk";

export const validateOrder = task({
  name: "validate-order",
  async handler(input: { items: Array<{ id: string; quantity: number }>; total: number }) {
    const { items, total } = input;
    if (items.length === 0) {
      throw new Error("Order must have items");
    }
    return { valid: true, orderId: `order-${Date.now()}`, total };
  },
});

export const processPayment = task({
  name: "process-payment",
  async handler(input: { orderId: string; amount: number }) {
    console.log(`Processing payment for ${input.orderId}: $${input.amount}`);
    return { paymentId: `pay-${Date.now()}`, status: "completed" };
  },
});

export const updateInventory = task({
  name: "update-inventory",
  async handler(input: { items: Array<{ id: string; quantity: number }> }) {
    for (const item of input.items) console.log(`Updating inventory for ${item.id}`);
    return { updated: true };
  },
});

export const sendConfirmation = task({
  name: "send-confirmation",
  async handler(input: { email: string; orderId: string }) {
    console.log(`Sending confirmation to ${input.email} for order ${input.orderId}`);
    return { sent: true };
  },
});

export const orderWorkflow = workflow({ name: "order-processing" });

export const orderWorkflowV1 = orderWorkflow.v("1.0.0", {
  async handler(run, input: { items: Array<{ id: string; quantity: number }>; total: number; email: string }) {
    // Step 1: Validate order
    const validation = await validateOrder.start(run, { items: input.items, total: input.total });

    // Step 2: Process payment
    const payment = await processPayment.start(run, { orderId: validation.orderId, amount: validation.total });

    // Step 3: Update inventory
    await updateInventory.start(run, { items: input.items });

    // Step 4: Send confirmation
    await sendConfirmation.start(run, { email: input.email, orderId: validation.orderId });

    return { success: true, orderId: validation.orderId, paymentId: payment.paymentId };
  },
});
