/**
 * Bounded exponential backoff for retrying calls to a server that is briefly away: doubles from
 * `minMs` to `maxMs`, reset after a success.
 */
export class Backoff {
  private current: number;

  constructor(
    private readonly minMs = 100,
    private readonly maxMs = 2_000,
  ) {
    this.current = minMs;
  }

  reset(): void {
    this.current = this.minMs;
  }

  /** The next delay, with ±20% jitter so a fleet of workers does not reconnect in lockstep. */
  next(): number {
    const delay = this.current;
    this.current = Math.min(this.maxMs, this.current * 2);
    return Math.round(delay * (0.8 + Math.random() * 0.4));
  }

  /** Waits the next delay; resolves early (false) when the signal aborts. */
  wait(signal?: AbortSignal): Promise<boolean> {
    return abortableDelay(this.next(), signal);
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts; never rejects. */
export function abortableDelay(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
