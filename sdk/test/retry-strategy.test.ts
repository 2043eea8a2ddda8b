import { describe, expect, it } from "vitest";
import { maxAttemptsOf, type RetryStrategy, retryDelayMs, retryStrategyToPb, validateRetryStrategy } from "../src/retry-strategy.js";

describe("retryDelayMs", () => {
  it("never retries by default or with never", () => {
    expect(retryDelayMs(undefined, 1)).toBeUndefined();
    expect(retryDelayMs({ type: "never" }, 1)).toBeUndefined();
    expect(maxAttemptsOf(undefined)).toBe(1);
    expect(maxAttemptsOf({ type: "never" })).toBe(1);
  });

  it("counts the first attempt in maxAttempts", () => {
    const fixed: RetryStrategy = { type: "fixed", maxAttempts: 3, delayMs: 100 };
    expect(retryDelayMs(fixed, 1)).toBe(100);
    expect(retryDelayMs(fixed, 2)).toBe(100);
    expect(retryDelayMs(fixed, 3)).toBeUndefined();
    expect(maxAttemptsOf(fixed)).toBe(3);
    expect(retryDelayMs({ type: "fixed", maxAttempts: 1, delayMs: 100 }, 1)).toBeUndefined();
  });

  it("grows exponentially from the base (factor 2 by default) and caps at maxDelayMs", () => {
    const exp: RetryStrategy = { type: "exponential", maxAttempts: 10, baseDelayMs: 1000 };
    expect([1, 2, 3, 4].map((n) => retryDelayMs(exp, n))).toEqual([1000, 2000, 4000, 8000]);
    const capped: RetryStrategy = { type: "exponential", maxAttempts: 10, baseDelayMs: 100, factor: 3, maxDelayMs: 1000 };
    expect([1, 2, 3, 4].map((n) => retryDelayMs(capped, n))).toEqual([100, 300, 900, 1000]);
  });

  it("shortens the capped exponential delay by up to jitterFactor of itself", () => {
    const jit: RetryStrategy = { type: "jittered", maxAttempts: 5, baseDelayMs: 1000, jitterFactor: 0.5 };
    expect(retryDelayMs(jit, 1, () => 0)).toBe(1000);
    expect(retryDelayMs(jit, 1, () => 0.5)).toBe(750);
    expect(retryDelayMs(jit, 2, () => 1)).toBe(1000);
    expect(retryDelayMs({ ...jit, maxDelayMs: 1500 }, 3, () => 0)).toBe(1500);
    expect(retryDelayMs({ type: "jittered", maxAttempts: 5, baseDelayMs: 1000 }, 1, () => 1)).toBe(500);
    expect(retryDelayMs(jit, 5, () => 0.5)).toBeUndefined();
  });
});

describe("validateRetryStrategy", () => {
  it("refuses bad policies naming the field", () => {
    expect(() => validateRetryStrategy({ type: "fixed", maxAttempts: 0, delayMs: 1 }, "t")).toThrow(/maxAttempts must be an integer of at least 1/);
    expect(() => validateRetryStrategy({ type: "fixed", maxAttempts: 2, delayMs: -1 }, "t")).toThrow(/delayMs/);
    expect(() => validateRetryStrategy({ type: "exponential", maxAttempts: 2, baseDelayMs: 10, factor: 0.5 }, "t")).toThrow(/factor/);
    expect(() => validateRetryStrategy({ type: "exponential", maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 5 }, "t")).toThrow(/maxDelayMs/);
    expect(() => validateRetryStrategy({ type: "jittered", maxAttempts: 2, baseDelayMs: 10, jitterFactor: 2 }, "t")).toThrow(/jitterFactor/);
    expect(() => validateRetryStrategy({ type: "linear" } as never, "t")).toThrow(/unknown type "linear"/);
    expect(() => validateRetryStrategy({ type: "never" }, "t")).not.toThrow();
  });
});

describe("retryStrategyToPb", () => {
  it("fills the defaults the SDK documents", () => {
    const pb = retryStrategyToPb({ type: "exponential", maxAttempts: 3, baseDelayMs: 1500 });
    expect(pb?.strategy.case).toBe("exponential");
    if (pb?.strategy.case !== "exponential") return;
    expect(pb.strategy.value.factor).toBe(2);
    expect(pb.strategy.value.baseDelay?.seconds).toBe(1n);
    expect(pb.strategy.value.baseDelay?.nanos).toBe(500_000_000);
    expect(pb.strategy.value.maxDelay).toBeUndefined();
    expect(retryStrategyToPb(undefined)).toBeUndefined();
  });
});
