import type { Logger } from "pino";
import { purgeRuns } from "../engine/purge-runs.js";
import type { AikiMetrics } from "../metrics/aiki-metrics.js";
import type { Db } from "../store/database.js";
import { readDatabaseNow } from "../store/database-clock.js";
import { listNamespaces } from "../store/namespace-repository.js";

export interface RetentionOptions {
  /** Finished runs older than this (by end time) are purged; 0 keeps every run forever. */
  maxAgeMs: number;
  /** Between two sweeps. */
  sweepMs: number;
}

export const defaultRetention: RetentionOptions = { maxAgeMs: 30 * 24 * 3600_000, sweepMs: 60_000 };

/**
 * Purges finished runs past the retention age, namespace by namespace, in one-statement batches
 * (engine/purge-runs.ts). After each batch it rests as long as the batch took, so the sweep holds
 * at most half of one connection and live traffic keeps the rest. Several replicas may sweep at
 * once: batches lock their top-level runs with SKIP LOCKED, so they divide the work.
 */
export class RetentionLoop {
  private stopped = false;
  private wake: () => void = () => {};
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
    private readonly options: RetentionOptions,
    private readonly metrics?: AikiMetrics,
  ) {}

  start(): void {
    if (this.options.maxAgeMs <= 0) return;
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!(await this.rest(this.options.sweepMs))) {
      try {
        await this.sweep();
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, "retention: sweep failed, retrying at the next one");
      }
    }
  }

  private async sweep(): Promise<void> {
    const before = new Date((await readDatabaseNow(this.db)).getTime() - this.options.maxAgeMs);
    for (const { name } of await listNamespaces(this.db)) {
      let started = performance.now();
      const result = await purgeRuns(
        { db: this.db, metrics: this.metrics },
        { namespace: name, before, dryRun: false, maxTrees: Number.MAX_SAFE_INTEGER },
        {
          origin: "retention",
          pause: async () => {
            const stopped = await this.rest(Math.max(10, performance.now() - started));
            started = performance.now();
            return !stopped;
          },
        },
      );
      if (result.runs > 0) this.logger.info({ namespace: name, runs: result.runs, before }, "retention: purged finished runs");
      if (this.stopped) return;
    }
  }

  /** Sleeps; true when the loop was stopped meanwhile. */
  private async rest(ms: number): Promise<boolean> {
    if (this.stopped) return true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = () => {};
    return this.stopped;
  }
}
