import { Backoff, clientInternals, rpcCodeOf } from "@aiki/sdk/internal";
import { clientClosed, type LeaseSource, longPoll, pollOnce, warnClientClosed, workerFields, type WorkerSlots } from "./lease-source.js";

// Failed streams in a row (none delivered a lease or lived long) before the worker long-polls
// for a while instead.
const maxStreamFailures = 3;
// A stream that lived this long without delivering was healthy (idle), not failing.
const healthyStreamMs = 30_000;
// How long the worker long-polls after repeated stream failures before trying a stream again.
const fallbackPollMs = 60_000;

type StreamEnd =
  | { kind: "stopped" }
  | { kind: "ended"; healthy: boolean }
  | { kind: "unimplemented"; error: unknown }
  | { kind: "failed"; error: unknown; healthy: boolean };

/**
 * Leases by WorkerLeaseService.StreamLeases: the server pushes a lease whenever a run is ready
 * and fewer than `max_in_flight` of this stream's leases are still held.
 *
 * Slots are never promised twice: a stream opens with `max_in_flight` = the slots free at that
 * moment, because the server does not count leases the worker still holds from before (an
 * earlier stream, a poll) against a new stream. When those older executions end, their slots are
 * not the stream's to fill, so a long-poll takes them ("gap" slots: neither held nor reserved by
 * the stream); the next stream after a reconnect counts everything again. A lease pushed while
 * the worker has no slot free (an execution ending here races the server seeing its lease end)
 * waits in the worker for a slot.
 */
export class StreamLeaseSource implements LeaseSource {
  // The open stream's max_in_flight; 0 while no stream is open.
  private streamMax = 0;
  // Runs the open stream pushed that the worker still holds: the server counts them against streamMax.
  private readonly pushed = new Set<string>();
  // Slots an in-flight gap poll may fill.
  private pollReserved = 0;
  private readonly changeListeners = new Set<() => void>();

  constructor(private readonly slots: WorkerSlots) {}

  async run(signal: AbortSignal): Promise<void> {
    const stopListening = this.slots.onSlotFreed(() => this.changed());
    try {
      await Promise.all([this.streamLoop(signal), this.gapLoop(signal)]);
    } finally {
      stopListening();
    }
  }

  private async streamLoop(signal: AbortSignal): Promise<void> {
    const { slots } = this;
    const backoff = new Backoff(100, 5_000);
    let failures = 0;
    while (!signal.aborted) {
      const maxInFlight = Math.min(1000, slots.free() - this.pollReserved);
      if (maxInFlight <= 0) {
        await this.nextChange(signal);
        continue;
      }
      const end = await this.stream(maxInFlight, signal);
      switch (end.kind) {
        case "stopped":
          return;
        case "unimplemented":
          slots.logger.warn("the server does not offer lease streams; taking work by long-poll", { err: end.error });
          await longPoll(slots, signal);
          return;
        case "ended":
          // The server ended the stream (it is shutting down, or a proxy closed it): reconnect.
          if (end.healthy) backoff.reset();
          slots.logger.debug("the lease stream ended; reconnecting");
          await backoff.wait(signal);
          continue;
        case "failed": {
          failures = end.healthy ? 1 : failures + 1;
          if (failures >= maxStreamFailures) {
            slots.logger.warn(`the lease stream failed ${failures} times in a row; long-polling for ${fallbackPollMs / 1000} s before trying it again`, {
              err: end.error,
            });
            if ((await longPoll(slots, signal, Date.now() + fallbackPollMs)) === "stopped") return;
            failures = 0;
            backoff.reset();
            continue;
          }
          slots.logger.warn("the lease stream failed; reconnecting", { err: end.error });
          if (end.healthy) backoff.reset();
          await backoff.wait(signal);
          continue;
        }
      }
    }
  }

  /** One StreamLeases call, until it ends, fails, or the worker stops. */
  private async stream(maxInFlight: number, signal: AbortSignal): Promise<StreamEnd> {
    const { slots } = this;
    const call = new AbortController();
    const stop = () => call.abort();
    signal.addEventListener("abort", stop, { once: true });
    this.pushed.clear();
    this.streamMax = maxInFlight;
    const opened = performance.now();
    let delivered = false;
    const healthy = () => delivered || performance.now() - opened >= healthyStreamMs;
    try {
      const stream = clientInternals(slots.client).leases.streamLeases({ ...workerFields(slots), maxInFlight }, { signal: call.signal });
      for await (const response of stream) {
        delivered = true;
        for (const lease of response.leases) {
          if (lease.run) this.pushed.add(lease.run.id);
          // Released by the worker when it is stopping.
          slots.accept(lease);
        }
      }
      return signal.aborted ? { kind: "stopped" } : { kind: "ended", healthy: healthy() };
    } catch (error) {
      if (signal.aborted) return { kind: "stopped" };
      if (clientClosed(slots)) {
        warnClientClosed(slots);
        return { kind: "stopped" };
      }
      if (rpcCodeOf(error) === "unimplemented") return { kind: "unimplemented", error };
      return { kind: "failed", error, healthy: healthy() };
    } finally {
      this.streamMax = 0;
      this.pushed.clear();
      signal.removeEventListener("abort", stop);
      call.abort();
      this.changed();
    }
  }

  /** Free slots the open stream will not fill: those of executions that predate it. */
  private gap(): number {
    if (this.streamMax === 0) return 0;
    for (const runId of this.pushed) if (!this.slots.holds(runId)) this.pushed.delete(runId);
    const streamReserved = this.streamMax - this.pushed.size;
    return this.slots.free() - streamReserved - this.pollReserved;
  }

  /** Long-polls for the gap slots while there are any. */
  private async gapLoop(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff(100, 2_000);
    while (!signal.aborted) {
      const gap = Math.min(1000, this.gap());
      if (gap <= 0) {
        await this.nextChange(signal);
        continue;
      }
      this.pollReserved = gap;
      let result: Awaited<ReturnType<typeof pollOnce>>;
      try {
        result = await pollOnce(this.slots, gap, this.slots.options.pollWaitMs, signal);
      } finally {
        this.pollReserved = 0;
      }
      if (result.kind === "leases") {
        backoff.reset();
        for (const lease of result.leases) this.slots.accept(lease);
      }
      this.changed();
      if (result.kind === "stopped") return;
      if (result.kind === "failed") await backoff.wait(signal);
    }
  }

  private changed(): void {
    for (const listener of [...this.changeListeners]) listener();
  }

  /** Resolves on the next slot freed, stream opened or closed, or gap poll ended; or on abort. */
  private nextChange(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        this.changeListeners.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.changeListeners.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }
}
