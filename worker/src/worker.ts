import type { Client } from "@aiki/sdk";
import { context, ROOT_CONTEXT } from "@opentelemetry/api";
import { workerTracing } from "./install-tracing.js";
import { RunningWorker } from "./running-worker.js";
import { resolveWorkerOptions, type WorkerHandle, type WorkerOptions } from "./worker-options.js";

export interface Worker {
  readonly name: string;
  /** Starts taking work with this client (see SubscriberOptions for how). */
  spawn(client: Client): Promise<WorkerHandle>;
}

/**
 * Declares a worker for some workflow versions; `spawn(client)` starts it. Options are checked
 * here, so a misconfigured worker fails at startup rather than at its first run.
 */
export function worker(options: WorkerOptions): Worker {
  const resolved = resolveWorkerOptions(options);
  return Object.freeze({
    name: resolved.name,
    async spawn(client: Client): Promise<WorkerHandle> {
      if (resolved.subscriber.type === "redis" && !client.redis) {
        throw new TypeError(`worker "${resolved.name}": subscriber { type: "redis" } needs a client created with a \`redis\` option`);
      }
      // Off unless the standard OTEL_* variables ask for it, or the process installed its own (docs/tracing.md).
      const tracing = workerTracing();
      const running = new RunningWorker(client, resolved);
      // Outside any span of the caller: heartbeats, polls and the session are nobody's children.
      context.with(ROOT_CONTEXT, () => running.start());
      const stop = async () => {
        await running.stop();
        await tracing?.forceFlush();
      };
      // The handle only: the worker's internals stay out of reach.
      return Object.freeze({ id: running.id, name: running.name, stop });
    },
  });
}
