/** A retry policy as stored (jsonb) and reasoned about; SDK names, milliseconds. */
export type RetryPolicy =
  | { type: "never" }
  | { type: "fixed"; maxAttempts: number; delayMs: number }
  | { type: "exponential"; maxAttempts: number; baseDelayMs: number; factor: number; maxDelayMs?: number }
  | { type: "jittered"; maxAttempts: number; baseDelayMs: number; jitterFactor: number; maxDelayMs?: number };

export function maxAttemptsOf(policy: RetryPolicy | undefined): number {
  return !policy || policy.type === "never" ? 1 : policy.maxAttempts;
}

/**
 * The delay before the attempt after `attempt` (1-based), or undefined when the budget is spent.
 * `random` is injected so tests can pin jitter.
 */
export function retryDelayMs(policy: RetryPolicy | undefined, attempt: number, random: () => number = Math.random): number | undefined {
  if (!policy || policy.type === "never" || attempt >= policy.maxAttempts) return undefined;
  switch (policy.type) {
    case "fixed":
      return policy.delayMs;
    case "exponential": {
      const raw = policy.baseDelayMs * policy.factor ** (attempt - 1);
      return Math.min(raw, policy.maxDelayMs ?? Number.POSITIVE_INFINITY);
    }
    case "jittered": {
      const raw = Math.min(policy.baseDelayMs * 2 ** (attempt - 1), policy.maxDelayMs ?? Number.POSITIVE_INFINITY);
      return Math.round(raw * (1 - policy.jitterFactor * random()));
    }
  }
}
