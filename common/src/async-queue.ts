/**
 * A queue read as an async iterable: producers `put` from anywhere, one consumer iterates until
 * `close` (after draining what was put) or `fail` (at once). It bounds nothing itself: producers
 * that must stay bounded wait for `shorterThan` before producing more.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private closed = false;
  private failure: { error: unknown } | undefined;
  private wake: (() => void) | undefined;
  private readonly shrinking = new Set<() => void>();

  /** Items put and not yet taken by the consumer. */
  get size(): number {
    return this.items.length;
  }

  /** Resolves once fewer than `n` items wait (or the queue ended). */
  shorterThan(n: number): Promise<void> {
    if (this.items.length < n || this.closed || this.failure) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (this.items.length < n || this.closed || this.failure) {
          this.shrinking.delete(check);
          resolve();
        }
      };
      this.shrinking.add(check);
    });
  }

  put(item: T): void {
    if (this.closed || this.failure) return;
    this.items.push(item);
    this.notify();
  }

  close(): void {
    this.closed = true;
    this.notify();
  }

  fail(error: unknown): void {
    this.failure ??= { error };
    this.notify();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.failure) throw this.failure.error;
      const item = this.items.shift();
      if (item !== undefined) {
        if (this.shrinking.size > 0) for (const check of [...this.shrinking]) check();
        yield item;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private notify(): void {
    if (this.closed || this.failure) for (const check of [...this.shrinking]) check();
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
