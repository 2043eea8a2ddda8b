// uuidV7 (pure logic): ids made in one process list in the order they were made, even many in
// one millisecond (a chain of tasks written by one statement lists in order).
import { describe, expect, it } from "vitest";
import { uuidV7 } from "../src/store/uuid-v7.js";

const msOf = (id: string) => Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16);

describe("uuidV7", () => {
  it("counts up within a millisecond, so id order is creation order", () => {
    const before = Date.now();
    const ids = Array.from({ length: 20_000 }, () => uuidV7());
    const after = Date.now();
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // 20,000 ids in a few milliseconds overrun the 4,096 a millisecond holds: the clock is
    // stepped ahead by a few milliseconds at most.
    expect(msOf(ids[0]!)).toBeGreaterThanOrEqual(before);
    expect(msOf(ids.at(-1)!)).toBeLessThanOrEqual(after + 10);
  });

  it("draws its random bits afresh for every id", () => {
    const tails = Array.from({ length: 5_000 }, () => uuidV7().slice(19));
    // 62 random bits: a repeat among 5,000 ids would mean the random pool was reused.
    expect(new Set(tails).size).toBe(tails.length);
  });
});
