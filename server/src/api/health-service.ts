import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthListResponseSchema,
} from "@aiki/gen/grpc/health/v1/health_pb";

export { ServingStatus };

/** SERVICE_UNKNOWN is what Watch reports for an absent entry, never a stored state. */
export type SettableStatus = ServingStatus.UNKNOWN | ServingStatus.SERVING | ServingStatus.NOT_SERVING;

export type StatusListener = (status: ServingStatus) => void;

/** The gRPC health spec caps List at this many entries. */
const LIST_LIMIT = 100;

/**
 * Serving status per service name, where "" stands for the whole server.
 *
 * Like grpc-go's health server, the server-wide entry starts as SERVING and
 * after shutdown() every update is ignored until resume(): while draining, a
 * component that finishes late must not advertise the server as healthy again.
 */
export class HealthStatus {
  readonly #statuses = new Map<string, SettableStatus>();
  readonly #listeners = new Map<string, Set<StatusListener>>();
  #shutDown = false;

  constructor(initial: Iterable<readonly [string, SettableStatus]> = [["", ServingStatus.SERVING]]) {
    for (const [service, status] of initial) {
      this.#statuses.set(service, checkSettable(status));
    }
  }

  /** undefined when the service was never registered (or was cleared). */
  get(service: string): SettableStatus | undefined {
    return this.#statuses.get(service);
  }

  set(service: string, status: SettableStatus): void {
    checkSettable(status);
    if (this.#shutDown) {
      return;
    }
    this.#update(service, status);
  }

  /** Forget a service: Check answers NOT_FOUND and watchers see SERVICE_UNKNOWN. */
  clear(service: string): void {
    if (this.#shutDown || !this.#statuses.delete(service)) {
      return;
    }
    this.#notify(service, ServingStatus.SERVICE_UNKNOWN);
  }

  setAll(status: SettableStatus): void {
    checkSettable(status);
    if (this.#shutDown) {
      return;
    }
    for (const service of [...this.#statuses.keys()]) {
      this.#update(service, status);
    }
  }

  /** Mark everything NOT_SERVING so load balancers drain us, and freeze it that way. */
  shutdown(): void {
    this.setAll(ServingStatus.NOT_SERVING);
    this.#shutDown = true;
  }

  /** Undo shutdown(): accept updates again and mark everything SERVING. */
  resume(): void {
    this.#shutDown = false;
    this.setAll(ServingStatus.SERVING);
  }

  entries(): Array<[string, SettableStatus]> {
    return [...this.#statuses.entries()];
  }

  /**
   * Call listener on every change of the service's status (SERVICE_UNKNOWN
   * when cleared). Returns the unsubscribe function, which must be called.
   */
  subscribe(service: string, listener: StatusListener): () => void {
    let listeners = this.#listeners.get(service);
    if (listeners === undefined) {
      listeners = new Set();
      this.#listeners.set(service, listeners);
    }
    // Wrapped so subscribing the same function twice yields two independent subscriptions.
    const entry: StatusListener = (status) => listener(status);
    listeners.add(entry);
    return () => {
      const current = this.#listeners.get(service);
      if (current?.delete(entry) && current.size === 0) {
        this.#listeners.delete(service);
      }
    };
  }

  /** Live subscriptions, so tests and metrics can spot leaked watchers. */
  get subscriberCount(): number {
    let count = 0;
    for (const listeners of this.#listeners.values()) {
      count += listeners.size;
    }
    return count;
  }

  #update(service: string, status: SettableStatus): void {
    if (this.#statuses.get(service) === status) {
      return;
    }
    this.#statuses.set(service, status);
    this.#notify(service, status);
  }

  #notify(service: string, status: ServingStatus): void {
    for (const listener of [...(this.#listeners.get(service) ?? [])]) {
      listener(status);
    }
  }
}

/** Serve grpc.health.v1.Health (Check, List, Watch) from the given status table. */
export function registerHealth(router: ConnectRouter, status: HealthStatus): void {
  router.service(Health, {
    check(request) {
      const current = status.get(request.service);
      if (current === undefined) {
        throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      }
      return create(HealthCheckResponseSchema, { status: current });
    },

    list() {
      const entries = status.entries();
      if (entries.length > LIST_LIMIT) {
        throw new ConnectError(`${entries.length} services exceed the health List limit of ${LIST_LIMIT}`, Code.ResourceExhausted);
      }
      return create(HealthListResponseSchema, {
        statuses: Object.fromEntries(entries.map(([service, s]) => [service, create(HealthCheckResponseSchema, { status: s })])),
      });
    },

    async *watch(request, ctx) {
      const mailbox = new LatestStatus();
      // Subscribe before reading the current value so no change can slip between the two.
      const unsubscribe = status.subscribe(request.service, (s) => mailbox.put(s));
      try {
        let sent: ServingStatus = status.get(request.service) ?? ServingStatus.SERVICE_UNKNOWN;
        yield create(HealthCheckResponseSchema, { status: sent });
        for (;;) {
          const next = await mailbox.take(ctx.signal);
          if (next === undefined) {
            return;
          }
          if (next !== sent) {
            sent = next;
            yield create(HealthCheckResponseSchema, { status: sent });
          }
        }
      } finally {
        unsubscribe();
      }
    },
  });
}

/**
 * Holds only the newest status: a slow watcher needs the current state, not
 * every intermediate flip (grpc-go drops stale updates the same way).
 */
class LatestStatus {
  #value: ServingStatus | undefined;
  #wake: (() => void) | undefined;

  put(status: ServingStatus): void {
    this.#value = status;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Resolves with the newest status, or undefined once signal aborts. */
  async take(signal: AbortSignal): Promise<ServingStatus | undefined> {
    while (this.#value === undefined) {
      if (signal.aborted) {
        return undefined;
      }
      await new Promise<void>((resolve) => {
        const onAbort = (): void => {
          this.#wake = undefined;
          resolve();
        };
        signal.addEventListener("abort", onAbort, { once: true });
        this.#wake = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
      });
    }
    const value = this.#value;
    this.#value = undefined;
    return value;
  }
}

function checkSettable(status: ServingStatus): SettableStatus {
  if (status === ServingStatus.SERVICE_UNKNOWN) {
    throw new RangeError("SERVICE_UNKNOWN is reported by Watch for absent services and cannot be set");
  }
  return status;
}
