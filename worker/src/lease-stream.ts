import { Backoff, clientInternals } from "@aiki/sdk/internal";
import { type ConnectionEnd, ConnectionHealth, keepConnected } from "./keep-connected.js";
import { type LeaseSource, longPoll, pollOnce, workerFields, type WorkerSlots } from "./lease-source.js";

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
    await keepConnected(
      slots,
      signal,
      "lease stream",
      async () => {
        for (;;) {
          const maxInFlight = Math.min(1000, slots.free() - this.pollReserved);
          if (maxInFlight > 0 || signal.aborted) return signal.aborted ? { kind: "stopped" } : this.stream(maxInFlight, signal);
          await this.nextChange(signal);
        }
      },
      { what: "long-poll", run: () => longPoll(slots, signal) },
    );
  }

  /** One StreamLeases call, until it ends, fails, or the worker stops. */
  private async stream(maxInFlight: number, signal: AbortSignal): Promise<ConnectionEnd> {
    const { slots } = this;
    const call = new AbortController();
    const stop = () => call.abort();
    signal.addEventListener("abort", stop, { once: true });
    this.pushed.clear();
    this.streamMax = maxInFlight;
    const health = new ConnectionHealth();
    try {
      const stream = clientInternals(slots.client).leases.streamLeases({ ...workerFields(slots), maxInFlight }, { signal: call.signal });
      for await (const response of stream) {
        health.sawDelivery();
        for (const lease of response.leases) {
          if (lease.run) this.pushed.add(lease.run.id);
          // Released by the worker when it is stopping.
          slots.accept(lease);
        }
      }
      return signal.aborted ? { kind: "stopped" } : { kind: "ended", healthy: health.healthy };
    } catch (error) {
      return health.endedBy(error, slots, signal);
    } finally {
      this.streamMax = 0;
      this.pushed.clear();
      signal.removeEventListener("abort", stop);
      call.abort();
      this.changed();
    }
  }

  /**
   * Free slots the open stream will not fill: those of executions that predate it. Counted from
   * the leases held, as the server counts the stream's: a pushed run whose last write is being
   * answered still holds its lease, so its slot is still the stream's.
   */
  private gap(): number {
    if (this.streamMax === 0) return 0;
    for (const runId of this.pushed) if (!this.slots.holds(runId)) this.pushed.delete(runId);
    const streamReserved = this.streamMax - this.pushed.size;
    return this.slots.options.maxConcurrentWorkflowRuns - this.slots.held() - streamReserved - this.pollReserved;
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
