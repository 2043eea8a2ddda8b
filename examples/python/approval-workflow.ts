// The TypeScript side of the Python round trip: a workflow that charges an order (a task), waits
// for an "approval" event, and returns what it did. round_trip.py starts it, sends the event and
// reads the output; an @aiki/worker executes it.
import { event, task, workflow } from "@aiki/sdk";

export const chargeCard = task({
  name: "charge-card",
  async handler(input: { orderId: string; amount: number }) {
    return { chargeId: `ch-${input.orderId}`, amount: input.amount };
  },
});

export const pythonApproval = workflow({ name: "python-approval" });

export const pythonApprovalV1 = pythonApproval.v("1.0.0", {
  async handler(run, input: { orderId: string; amount: number }) {
    const charge = await chargeCard.start(run, { orderId: input.orderId, amount: input.amount });
    const approval = await run.events.approval.wait();
    return { orderId: input.orderId, chargeId: charge.chargeId, amount: charge.amount, approvedBy: approval.data.approvedBy };
  },
  events: { approval: event<{ approvedBy: string }>() },
});
