import { sql } from "kysely";
import type { Logger } from "pino";
import { publishRunChange } from "../engine/publish-run-change.js";
import { channels, type Notifier } from "../notify/notifier.js";
import type { Db } from "../store/database.js";
import { expireLeases, fireDueTimers, nextWakeTime } from "../store/timer-repository.js";

// A ceiling on sleeping, in case a hint about an earlier timer was lost.
const maxSleepMs = 5_000;
const batchSize = 500;

/**
 * Fires due timers from the database and sleeps until the next due time, or until a hint says
 * an earlier timer was added. Safe with several replicas: each batch is claimed with
 * FOR UPDATE SKIP LOCKED.
 */
export class TimerLoop {
  private stopped = false;
  private wake: () => void = () => {};
  private running: Promise<void> | undefined;
  private unsubscribe: () => void = () => {};

  constructor(
    private readonly db: Db,
    private readonly notifier: Notifier,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.unsubscribe = this.notifier.subscribe(channels.timers, () => this.wake());
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
      try {
        const fired = await fireDueTimers(this.db, batchSize);
        const expired = await expireLeases(this.db, batchSize);
        for (const run of [...fired, ...expired]) publishRunChange(this.notifier, run);
        if (expired.length > 0) this.logger.info({ runs: expired.map((r) => r.id) }, "leases expired; runs requeued");
        if (fired.length === batchSize || expired.length === batchSize) continue;
        const next = await nextWakeTime(this.db);
        if (next) sleepMs = Math.max(0, Math.min(maxSleepMs, next.getTime() - (await dbNow(this.db)).getTime()));
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, "timer loop: store unavailable, retrying");
        sleepMs = 1_000;
      }
      if (this.stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, sleepMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.wake = done;
      });
      this.wake = () => {};
    }
  }
}

async function dbNow(db: Db): Promise<Date> {
  const { rows } = await sql<{ now: Date }>`select now() as now`.execute(db);
  return rows[0]!.now;
}
