/** A retry policy as stored (jsonb) and reasoned about; SDK names, milliseconds. */
export type RetryPolicy =
  | { type: "never" }
  | { type: "fixed"; maxAttempts: number; delayMs: number }
  | { type: "exponential"; maxAttempts: number; baseDelayMs: number; factor: number; maxDelayMs?: number }
  | { type: "jittered"; maxAttempts: number; baseDelayMs: number; jitterFactor: number; maxDelayMs?: number };

export function maxAttemptsOf(policy: RetryPolicy | undefined): number {
  return !policy || policy.type === "never" ? 1 : policy.maxAttempts;
}
