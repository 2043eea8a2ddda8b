// The TypeScript twin of the "<prefix>-handoff" workflow of python_worker.py: the same tasks with
// the same inputs, the same sleep, in the same order. A run one language began, the other can
// finish, because both compute the contract's addresses (Addresses, in history.proto).
import { task, workflow } from "@aiki/sdk";

/** The handoff workflow under `<prefix>-handoff`, counting what its tasks executed in this process. */
export function handoffWorkflow(prefix: string) {
  const executed: string[] = [];
  const charge = task({
    name: "charge",
    async handler(input: { orderId: string; amount: number }) {
      executed.push("charge");
      return { chargeId: `ch-${input.orderId}`, amount: input.amount };
    },
  });
  const notify = task({
    name: "notify",
    async handler(input: { chargeId: string; amount: number }) {
      executed.push("notify");
      // Python writes the double 42.0 as "42.0"; what the task returns must be the same text.
      return `charged ${Number.isInteger(input.amount) ? input.amount.toFixed(1) : input.amount}`;
    },
  });
  const version = workflow({ name: `${prefix}-handoff` }).v("1.0.0", {
    async handler(run, input: { orderId: string; amount: number }) {
      const charged = await charge.start(run, { orderId: input.orderId, amount: input.amount });
      await run.sleep("cool-off", { hours: 1 });
      const told = await notify.start(run, { chargeId: charged.chargeId, amount: charged.amount });
      return { chargeId: charged.chargeId, told };
    },
  });
  return { version, executed };
}
