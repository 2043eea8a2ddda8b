import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type RetryPolicy, RetryPolicySchema } from "@aiki/gen/aiki/v1/run_pb";

/**
 * How often, and after what delays, failed work is attempted again. `maxAttempts` counts every
 * attempt, the first included.
 */
export type RetryStrategy =
  | { type: "never" }
  | { type: "fixed"; maxAttempts: number; delayMs: number }
  | { type: "exponential"; maxAttempts: number; baseDelayMs: number; factor?: number; maxDelayMs?: number }
  | { type: "jittered"; maxAttempts: number; baseDelayMs: number; jitterFactor?: number; maxDelayMs?: number };

export const defaultExponentialFactor = 2;
export const defaultJitterFactor = 0.5;

/** Throws RangeError naming the first bad field, so a bad policy fails at definition, not at the first failure. */
export function validateRetryStrategy(strategy: RetryStrategy, where: string): void {
  const fail = (msg: string): never => {
    throw new RangeError(`${where}: invalid retry strategy: ${msg}`);
  };
  const nonNegative = (field: string, value: unknown) => {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) fail(`${field} must be a non-negative number, got ${String(value)}`);
  };
  if (strategy === null || typeof strategy !== "object") fail("expected an object with a type");
  if (strategy.type === "never") return;
  if (strategy.type !== "fixed" && strategy.type !== "exponential" && strategy.type !== "jittered") {
    fail(`unknown type ${JSON.stringify((strategy as { type: unknown }).type)} (use never, fixed, exponential or jittered)`);
  }
  if (!Number.isInteger(strategy.maxAttempts) || strategy.maxAttempts < 1)
    fail(`maxAttempts must be an integer of at least 1, got ${String(strategy.maxAttempts)}`);
  if (strategy.type === "fixed") {
    nonNegative("delayMs", strategy.delayMs);
    return;
  }
  nonNegative("baseDelayMs", strategy.baseDelayMs);
  if (strategy.maxDelayMs !== undefined) {
    nonNegative("maxDelayMs", strategy.maxDelayMs);
    if (strategy.maxDelayMs < strategy.baseDelayMs) fail("maxDelayMs must not be less than baseDelayMs");
  }
  if (strategy.type === "exponential" && strategy.factor !== undefined && !(strategy.factor >= 1)) fail(`factor must be at least 1, got ${strategy.factor}`);
  if (strategy.type === "jittered" && strategy.jitterFactor !== undefined && !(strategy.jitterFactor >= 0 && strategy.jitterFactor <= 1)) {
    fail(`jitterFactor must be between 0 and 1, got ${strategy.jitterFactor}`);
  }
}

export function maxAttemptsOf(strategy: RetryStrategy | undefined): number {
  return !strategy || strategy.type === "never" ? 1 : strategy.maxAttempts;
}

/**
 * The delay before the attempt after failed attempt `attempt` (1-based), or undefined when the
 * budget is spent. Exponential: base * factor^(attempt-1), capped at maxDelayMs. Jittered: the
 * exponential delay (factor 2), capped, then shortened at random by up to jitterFactor of itself.
 * `random` is injectable so tests are exact.
 */
export function retryDelayMs(strategy: RetryStrategy | undefined, attempt: number, random: () => number = Math.random): number | undefined {
  if (!strategy || strategy.type === "never" || attempt >= strategy.maxAttempts) return undefined;
  const n = Math.max(1, Math.floor(attempt));
  const cap = (ms: number, max: number | undefined) => Math.round(max === undefined ? ms : Math.min(ms, max));
  switch (strategy.type) {
    case "fixed":
      return Math.round(strategy.delayMs);
    case "exponential": {
      const factor = strategy.factor ?? defaultExponentialFactor;
      return cap(strategy.baseDelayMs * factor ** (n - 1), strategy.maxDelayMs);
    }
    case "jittered": {
      // Same formula as the server's workflow retries: jitter only shortens, so the cap holds.
      const jitter = strategy.jitterFactor ?? defaultJitterFactor;
      const capped = cap(strategy.baseDelayMs * defaultExponentialFactor ** (n - 1), strategy.maxDelayMs);
      return Math.round(capped * (1 - jitter * random()));
    }
  }
}

export function retryStrategyToPb(strategy: RetryStrategy | undefined): RetryPolicy | undefined {
  if (!strategy) return undefined;
  const max = (ms: number | undefined) => (ms === undefined ? undefined : durationFromMs(ms));
  switch (strategy.type) {
    case "never":
      return create(RetryPolicySchema, { strategy: { case: "never", value: {} } });
    case "fixed":
      return create(RetryPolicySchema, {
        strategy: { case: "fixed", value: { maxAttempts: strategy.maxAttempts, delay: durationFromMs(strategy.delayMs) } },
      });
    case "exponential":
      return create(RetryPolicySchema, {
        strategy: {
          case: "exponential",
          value: {
            maxAttempts: strategy.maxAttempts,
            baseDelay: durationFromMs(strategy.baseDelayMs),
            factor: strategy.factor ?? defaultExponentialFactor,
            maxDelay: max(strategy.maxDelayMs),
          },
        },
      });
    case "jittered":
      return create(RetryPolicySchema, {
        strategy: {
          case: "jittered",
          value: {
            maxAttempts: strategy.maxAttempts,
            baseDelay: durationFromMs(strategy.baseDelayMs),
            jitterFactor: strategy.jitterFactor ?? defaultJitterFactor,
            maxDelay: max(strategy.maxDelayMs),
          },
        },
      });
  }
}
