import type { Notifier } from "./notifier.js";

/**
 * Listens on channels from construction on, so a hint arriving between a caller's database read
 * and its wait is remembered rather than missed. `wait` resolves on a hint, after `ms`, or when a
 * signal aborts; the caller then re-reads the database, which is the truth.
 */
export class HintWaiter {
  private hinted = false;
  private poked = false;
  private wake: () => void = () => {};
  private readonly unsubscribes: Array<() => void>;

  /** `accept`: which messages count as a hint (all by default). */
  constructor(
    notifier: Notifier,
    channels: readonly string[],
    private readonly signals: readonly AbortSignal[],
    accept: (message: string) => boolean = () => true,
  ) {
    this.unsubscribes = channels.map((c) =>
      notifier.subscribe(c, (message) => {
        if (!accept(message)) return;
        this.hinted = true;
        this.wake();
      }),
    );
  }

  private anySignal: AbortSignal | undefined;

  /** Aborted once any of the waiter's signals is. */
  get signal(): AbortSignal {
    this.anySignal ??= AbortSignal.any([...this.signals]);
    return this.anySignal;
  }

  get aborted(): boolean {
    return this.signals.some((s) => s.aborted);
  }

  /** Wakes the waiter as a hint would: something it waits for besides hints happened. */
  poke(): void {
    this.poked = true;
    this.wake();
  }

  /** Whether a hint (or a poke) came since the last `reset`. */
  get wasHinted(): boolean {
    return this.hinted || this.poked;
  }

  /** Whether a poke, and no hint, came since the last `reset`. */
  get onlyPoked(): boolean {
    return this.poked && !this.hinted;
  }

  /** Forgets hints seen so far; call before each database read. */
  reset(): void {
    this.hinted = false;
    this.poked = false;
  }

  async wait(ms: number): Promise<void> {
    if (this.hinted || this.poked || this.aborted || ms <= 0) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        for (const s of this.signals) s.removeEventListener("abort", done);
        this.wake = () => {};
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      for (const s of this.signals) s.addEventListener("abort", done);
    });
  }

  close(): void {
    for (const u of this.unsubscribes) u();
  }
}
