import { Backoff, rpcCodeOf } from "@aiki/sdk/internal";
import { clientClosed, longPoll, warnClientClosed, type WorkerSlots } from "./lease-source.js";

// Failed connections in a row (none delivered anything or lived long) before the worker
// long-polls for a while instead.
const maxFailures = 3;
// A connection that lived this long without delivering was healthy (idle), not failing.
const healthyMs = 30_000;
// How long the worker long-polls after repeated failures before connecting again.
const fallbackPollMs = 60_000;

/** How one long-lived connection (a lease stream, a worker session) ended. */
export type ConnectionEnd =
  | { kind: "stopped" }
  | { kind: "ended"; healthy: boolean }
  | { kind: "unimplemented"; error: unknown }
  | { kind: "failed"; error: unknown; healthy: boolean };

/** Measures a connection's health: it delivered something, or it lived long. */
export class ConnectionHealth {
  private readonly opened = performance.now();
  private delivered = false;

  sawDelivery(): void {
    this.delivered = true;
  }

  get healthy(): boolean {
    return this.delivered || performance.now() - this.opened >= healthyMs;
  }

  /** How a connection that threw ended. */
  endedBy(error: unknown, slots: WorkerSlots, signal: AbortSignal): ConnectionEnd {
    if (signal.aborted) return { kind: "stopped" };
    if (clientClosed(slots)) {
      warnClientClosed(slots);
      return { kind: "stopped" };
    }
    if (rpcCodeOf(error) === "unimplemented") return { kind: "unimplemented", error };
    return { kind: "failed", error, healthy: this.healthy };
  }
}

/**
 * Keeps one long-lived connection open until the signal aborts: reconnects with bounded backoff
 * when it ends or fails; after three failures in a row long-polls for a minute, then tries again;
 * a server without it (UNIMPLEMENTED) gets `fallback` for good.
 */
export async function keepConnected(
  slots: WorkerSlots,
  signal: AbortSignal,
  what: string,
  connect: () => Promise<ConnectionEnd>,
  fallback: { what: string; run: () => Promise<unknown> },
): Promise<void> {
  const backoff = new Backoff(100, 5_000);
  let failures = 0;
  while (!signal.aborted) {
    const end = await connect();
    switch (end.kind) {
      case "stopped":
        return;
      case "unimplemented":
        slots.logger.warn(`the server does not offer ${what}s; taking work by ${fallback.what}`, { err: end.error });
        await fallback.run();
        return;
      case "ended":
        // The server ended it (it is shutting down, or a proxy closed it): reconnect.
        if (end.healthy) backoff.reset();
        slots.logger.debug(`the ${what} ended; reconnecting`);
        await backoff.wait(signal);
        continue;
      case "failed": {
        failures = end.healthy ? 1 : failures + 1;
        if (failures >= maxFailures) {
          slots.logger.warn(`the ${what} failed ${failures} times in a row; long-polling for ${fallbackPollMs / 1000} s before trying it again`, {
            err: end.error,
          });
          if ((await longPoll(slots, signal, Date.now() + fallbackPollMs)) === "stopped") return;
          failures = 0;
          backoff.reset();
          continue;
        }
        slots.logger.warn(`the ${what} failed; reconnecting`, { err: end.error });
        if (end.healthy) backoff.reset();
        await backoff.wait(signal);
        continue;
      }
    }
  }
}
