import type { Logger } from "pino";
import { fireDueSchedules } from "../engine/fire-schedules.js";
import { publishRunChange, timerHorizonMs } from "../engine/publish-run-change.js";
import { channels, type Notifier } from "../notify/notifier.js";
import type { AikiMetrics } from "../metrics/aiki-metrics.js";
import type { Db } from "../store/database.js";
import { readDatabaseNow } from "../store/database-clock.js";
import { expireLeases, fireDueTimers, nextWakeTime } from "../store/timer-repository.js";

// A ceiling on sleeping, in case a hint about an earlier timer was lost.
const maxSleepMs = timerHorizonMs;
const batchSize = 500;

/**
 * Fires due timers from the database and sleeps until the next due time, or until a hint says
 * an earlier timer was added. Safe with several replicas: each batch is claimed with
 * FOR UPDATE SKIP LOCKED.
 */
export class TimerLoop {
  private stopped = false;
  private wake: () => void = () => {};
  /** When the loop plans to wake next (epoch ms); 0 while it works. */
  private plannedWake = 0;
  /** The earliest due time hinted since the loop last read the database. */
  private earliestHint = Number.POSITIVE_INFINITY;
  private running: Promise<void> | undefined;
  private unsubscribe: () => void = () => {};

  constructor(
    private readonly db: Db,
    private readonly notifier: Notifier,
    private readonly logger: Logger,
    private readonly metrics?: AikiMetrics,
  ) {}

  start(): void {
    this.unsubscribe = this.notifier.subscribe(channels.timers, (message) => {
      const due = Number(message) || 0;
      // Kept even while the loop is querying: its query may have missed the new timer.
      this.earliestHint = Math.min(this.earliestHint, due);
      if (due < this.plannedWake) this.wake();
    });
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    this.wake();
    await this.running;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let sleepMs = maxSleepMs;
      this.earliestHint = Number.POSITIVE_INFINITY;
      try {
        const fired = await fireDueTimers(this.db, batchSize);
        const expired = await expireLeases(this.db, batchSize);
        for (const run of [...fired, ...expired]) publishRunChange(this.notifier, run);
        this.metrics?.timersFired(fired);
        this.metrics?.leasesExpired(expired);
        if (expired.length > 0) this.logger.info({ runs: expired.map((r) => r.id) }, "leases expired; runs requeued");
        const schedules = await fireDueSchedules(this.db, this.notifier, this.logger, batchSize);
        if (fired.length === batchSize || expired.length === batchSize || schedules === batchSize) continue;
        const next = await nextWakeTime(this.db);
        if (next) sleepMs = Math.max(0, Math.min(maxSleepMs, next.getTime() - (await readDatabaseNow(this.db)).getTime()));
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, "timer loop: store unavailable, retrying");
        sleepMs = 1_000;
      }
      if (this.stopped) break;
      sleepMs = Math.max(0, Math.min(sleepMs, this.earliestHint - Date.now()));
      this.plannedWake = Date.now() + sleepMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, sleepMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = () => {};
      this.plannedWake = 0;
    }
  }
}
