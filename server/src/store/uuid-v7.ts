import { randomFillSync } from "node:crypto";

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Time-ordered ids keep
 * inserts at the right edge of the primary-key index and make id order creation order.
 *
 * Monotonic within the process (RFC 9562 6.2, method 1): ids made in the same millisecond count
 * up in the 12 bits after the version, so records created together (a chain of tasks written by
 * one statement) still list in the order they were made. When the counter runs out, the
 * timestamp steps a millisecond ahead of the clock.
 */
export function uuidV7(): string {
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    counter = randomUint16() & 0x7ff;
  } else if (++counter > 0xfff) {
    lastMs += 1;
    counter = randomUint16() & 0x7ff;
  }
  const ms = lastMs;
  const hi = Math.floor(ms / 0x10000); // the top 32 of the 48 bits
  const r = take(8);
  return (
    hex8(hi >>> 24, hi >>> 16, hi >>> 8, hi) +
    "-" +
    hex[(ms >>> 8) & 0xff]! +
    hex[ms & 0xff]! +
    "-" +
    hex[0x70 | (counter >> 8)]! +
    hex[counter & 0xff]! +
    "-" +
    hex[(pool[r]! & 0x3f) | 0x80]! +
    hex[pool[r + 1]!]! +
    "-" +
    hex8(pool[r + 2]!, pool[r + 3]!, pool[r + 4]!, pool[r + 5]!) +
    hex[pool[r + 6]!]! +
    hex[pool[r + 7]!]!
  );
}

let lastMs = 0;
let counter = 0;

// Random bytes drawn a page at a time: a randomBytes call per id was the larger part of its cost.
const pool = Buffer.alloc(4096);
let used = pool.length;
function take(n: number): number {
  if (used + n > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += n;
  return used - n;
}
function randomUint16(): number {
  const at = take(2);
  return (pool[at]! << 8) | pool[at + 1]!;
}
const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const hex8 = (a: number, b: number, c: number, d: number) => hex[a & 0xff]! + hex[b & 0xff]! + hex[c & 0xff]! + hex[d & 0xff]!;

/** The lowest UUID whose UUIDv7 time is `ms` or later: an id bound for "created at or after". */
export function uuidV7Floor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, "0").slice(-12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}
