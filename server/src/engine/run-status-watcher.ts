import type { Logger } from "pino";
import type { RunStatus } from "../domain/run-status.js";
import type { RunRow } from "../store/runs.table.js";
import type { Db } from "../store/database.js";
import { runStatuses } from "../store/run-repository.js";

// How often every watched run's status is re-read, in one query for all of them: what a lost
// hint costs at most. One query per interval, however many waits are held (one query per wait
// per interval made 10,000 held waits the server's main load).
const recheckMs = 2_000;
const chunk = 5_000;

/**
 * The slow re-read behind every held WaitForRunStatus of one server: hints on the run channels
 * wake waits at once; this catches what a lost hint would miss, batched across all waits.
 */
export class RunStatusWatcher {
  private readonly watchers = new Map<string, Set<(status: RunStatus, row?: RunRow) => void>>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private readonly db: Db,
    private readonly logger: Logger,
  ) {}

  /**
   * Calls `listener` with the run's status at every re-read, and with the whole row when this
   * server commits a change of it (offer), until the returned function is called.
   */
  watch(runId: string, listener: (status: RunStatus, row?: RunRow) => void): () => void {
    let set = this.watchers.get(runId);
    if (!set) {
      set = new Set();
      this.watchers.set(runId, set);
    }
    set.add(listener);
    this.timer ??= setInterval(() => void this.check(), recheckMs).unref();
    return () => {
      set.delete(listener);
      if (set.size === 0) this.watchers.delete(runId);
      if (this.watchers.size === 0) this.stop();
    };
  }

  /** A row this server just committed (as its statement returned it): watchers of the run get it. */
  offer(run: RunRow): void {
    const set = this.watchers.get(run.id);
    if (!set) return;
    for (const listener of [...set]) listener(run.status, run);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const ids = [...this.watchers.keys()];
      for (let i = 0; i < ids.length; i += chunk) {
        for (const { id, status } of await runStatuses(this.db, ids.slice(i, i + chunk))) {
          for (const listener of [...(this.watchers.get(id) ?? [])]) listener(status);
        }
      }
    } catch (error) {
      // The next interval tries again; the waits still answer on hints meanwhile.
      this.logger.warn({ err: error }, "re-reading watched runs failed");
    } finally {
      this.checking = false;
    }
  }
}
