import type { Client } from "@aiki/sdk";
import { RunningWorker } from "./running-worker.js";
import { resolveWorkerOptions, type WorkerHandle, type WorkerOptions } from "./worker-options.js";

export interface Worker {
  readonly name: string;
  /** Starts polling for runs with this client. */
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
      const running = new RunningWorker(client, resolved);
      running.start();
      return running;
    },
  });
}

