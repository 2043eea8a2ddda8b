// HintWaiter is pure bookkeeping over a notifier, so it is tested with the in-process one.
import { describe, expect, it } from "vitest";
import { HintWaiter } from "../src/notify/hint-waiter.js";
import { InProcessNotifier } from "../src/notify/in-process-notifier.js";

describe("HintWaiter", () => {
  it("tells a wait ended by its timer from one ended by a hint, whatever the clock says", async () => {
    const notifier = new InProcessNotifier();
    const waiter = new HintWaiter(notifier, ["c"], []);
    waiter.reset();
    await waiter.wait(5);
    expect(waiter.wasHinted).toBe(false);
    const waiting = waiter.wait(60_000);
    notifier.publish("c");
    await waiting;
    expect(waiter.wasHinted).toBe(true);
    waiter.reset();
    expect(waiter.wasHinted).toBe(false);
    waiter.close();
    notifier.publish("c");
    await waiter.wait(5);
    expect(waiter.wasHinted).toBe(false);
  });

  it("remembers a hint that came before the wait, and a poke counts as one", async () => {
    const notifier = new InProcessNotifier();
    const waiter = new HintWaiter(notifier, ["c"], [], (m) => m === "yes");
    notifier.publish("c", "no");
    notifier.publish("c", "yes");
    await Promise.resolve();
    await waiter.wait(60_000);
    expect(waiter.wasHinted).toBe(true);
    waiter.reset();
    waiter.poke();
    await waiter.wait(60_000);
    expect(waiter.wasHinted).toBe(true);
    waiter.close();
  });
});
