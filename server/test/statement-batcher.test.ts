// StatementBatcher is scheduling logic only, tested with a fake write that records its batches.
import { describe, expect, it } from "vitest";
import { StatementBatcher } from "../src/store/statement-batcher.js";

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

describe("StatementBatcher", () => {
  it("sends a write alone at once when idle, and those arriving meanwhile together next", async () => {
    const batches: number[][] = [];
    const gates: Array<ReturnType<typeof gate>> = [];
    const b = new StatementBatcher<number, string>(
      async (batch) => {
        batches.push([...batch]);
        const g = gate();
        gates.push(g);
        await g.opened;
        return batch.map((n) => `r${n}`);
      },
      { maxBatch: 3, maxInFlight: 1 },
    );
    const first = b.submit(1);
    expect(batches).toEqual([[1]]);
    const rest = [2, 3, 4, 5].map((n) => b.submit(n));
    expect(batches).toEqual([[1]]);
    gates[0]!.open();
    expect(await first).toBe("r1");
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1], [2, 3, 4]]);
    gates[1]!.open();
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([[1], [2, 3, 4], [5]]);
    gates[2]!.open();
    expect(await Promise.all(rest)).toEqual(["r2", "r3", "r4", "r5"]);
  });

  it("runs up to maxInFlight batches at once", () => {
    const batches: number[][] = [];
    const b = new StatementBatcher<number, number>(
      async (batch) => {
        batches.push([...batch]);
        await new Promise(() => {});
        return [...batch];
      },
      { maxBatch: 10, maxInFlight: 2 },
    );
    for (const n of [1, 2, 3, 4]) void b.submit(n);
    expect(batches).toEqual([[1], [2]]);
  });

  it("fails every write of a failed batch with its error, and goes on with the next", async () => {
    let calls = 0;
    const b = new StatementBatcher<number, number>(
      async (batch) => {
        if (++calls === 1) throw new Error("deadlock detected");
        return [...batch];
      },
      { maxBatch: 10, maxInFlight: 1 },
    );
    const failed = b.submit(1);
    const next = b.submit(2);
    await expect(failed).rejects.toThrow("deadlock detected");
    expect(await next).toBe(2);
  });

  it("tries each request of a failed batch again alone, so each gets its own answer or error", async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const b = new StatementBatcher<number, number>(
      async (batch) => {
        batches.push([...batch]);
        if (batch[0] === 1) await held;
        // A batch holding 3 fails (as for a deadlock); 3 alone fails again, 2 and 4 alone succeed.
        if (batch.includes(3)) throw new Error(`deadlock detected in [${batch.join(",")}]`);
        return [...batch];
      },
      { maxBatch: 10, maxInFlight: 1 },
    );
    const first = b.submit(1);
    const rest = [2, 3, 4].map((n) => b.submit(n));
    release();
    expect(await first).toBe(1);
    const [two, three, four] = await Promise.allSettled(rest);
    expect(two).toEqual({ status: "fulfilled", value: 2 });
    expect(three).toMatchObject({ status: "rejected", reason: new Error("deadlock detected in [3]") });
    expect(four).toEqual({ status: "fulfilled", value: 4 });
    expect(batches).toEqual([[1], [2, 3, 4], [2], [3], [4]]);
  });

  it("fails a batch answered with the wrong number of results", async () => {
    const b = new StatementBatcher<number, number>(async () => [], { maxBatch: 10, maxInFlight: 1 });
    await expect(b.submit(1)).rejects.toThrow(/1 requests was answered with 0/);
  });
});
