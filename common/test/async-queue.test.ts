// AsyncQueue is pure bookkeeping (the server's and the worker's session streams read it), so it is
// tested on its own.
import { describe, expect, it } from "vitest";
import { AsyncQueue } from "../src/async-queue.js";

async function drain<T>(queue: AsyncQueue<T>): Promise<T[]> {
  const taken: T[] = [];
  for await (const item of queue) taken.push(item);
  return taken;
}

/** Whether `promise` settled once every pending callback has run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe("AsyncQueue", () => {
  it("hands items over in the order put, to a consumer that waits for them", async () => {
    const queue = new AsyncQueue<number>();
    const consumer = drain(queue);
    queue.put(1);
    queue.put(2);
    expect(await settled(consumer)).toBe(false);
    queue.put(3);
    queue.close();
    expect(await consumer).toEqual([1, 2, 3]);
  });

  it("close lets the consumer drain what was put before it ends", async () => {
    const queue = new AsyncQueue<string>();
    queue.put("a");
    queue.put("b");
    queue.close();
    expect(queue.size).toBe(2);
    expect(await drain(queue)).toEqual(["a", "b"]);
    expect(queue.size).toBe(0);
  });

  it("fail throws at once, before the items still waiting", async () => {
    const queue = new AsyncQueue<string>();
    queue.put("a");
    const broke = new Error("stream broke");
    queue.fail(broke);
    queue.fail(new Error("later failure"));
    await expect(drain(queue)).rejects.toBe(broke);
  });

  it("fail wakes a consumer waiting for an item", async () => {
    const queue = new AsyncQueue<string>();
    const consumer = drain(queue);
    expect(await settled(consumer)).toBe(false);
    const broke = new Error("stream broke");
    queue.fail(broke);
    await expect(consumer).rejects.toBe(broke);
  });

  it("ignores a put after close or fail", async () => {
    const closed = new AsyncQueue<string>();
    closed.put("a");
    closed.close();
    closed.put("b");
    expect(closed.size).toBe(1);
    expect(await drain(closed)).toEqual(["a"]);

    const failed = new AsyncQueue<string>();
    failed.fail(new Error("gone"));
    failed.put("a");
    expect(failed.size).toBe(0);
  });

  it("shorterThan resolves once the consumer took enough, at once when already shorter", async () => {
    const queue = new AsyncQueue<number>();
    await queue.shorterThan(1);
    queue.put(1);
    queue.put(2);
    queue.put(3);
    const room = queue.shorterThan(2);
    expect(await settled(room)).toBe(false);
    const items = queue[Symbol.asyncIterator]();
    expect(await items.next()).toEqual({ value: 1, done: false });
    expect(await settled(room)).toBe(false);
    expect(await items.next()).toEqual({ value: 2, done: false });
    expect(await settled(room)).toBe(true);
    expect(queue.size).toBe(1);
  });

  it("shorterThan resolves when the queue ends, however long it is", async () => {
    const closed = new AsyncQueue<number>();
    closed.put(1);
    const waitClosed = closed.shorterThan(1);
    closed.close();
    expect(await settled(waitClosed)).toBe(true);

    const failed = new AsyncQueue<number>();
    failed.put(1);
    const waitFailed = failed.shorterThan(1);
    failed.fail(new Error("gone"));
    expect(await settled(waitFailed)).toBe(true);
  });
});
