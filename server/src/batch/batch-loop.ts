import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { BatchLeaseLostError } from "../domain/batch-operation.js";
import { runBatchPage } from "../engine/batch-page.js";
import type { EngineDeps } from "../engine/engine-deps.js";
import { channels } from "../notify/notifier.js";
import {
  claimBatchOperation,
  finishBatchOperation,
  nextBatchLeaseExpiry,
  releaseBatchOperation,
  renewBatchLease,
} from "../store/batch-operation-repository.js";
import type { BatchOperationRow } from "../store/batch-operations.table.js";
import { isDeadlock } from "../store/pg-errors.js";

export interface BatchLoopOptions {
  /** How long a claim lasts without progress before another replica takes the operation over. */
  leaseTtlMs: number;
  /** Runs per page (one transaction); a page is also never more than one second of the rate. */
  pageSize: number;
  /** Operations this replica works on at once. */
  maxConcurrent: number;
}

export const defaultBatchLoopOptions: BatchLoopOptions = { leaseTtlMs: 15_000, pageSize: 1000, maxConcurrent: 4 };

// A page failing this many times in a row (not a lost lease, not a deadlock) fails the operation.
const maxPageErrors = 5;
// A ceiling on idling, in case a hint was lost.
const maxIdleMs = 5_000;

/**
 * Works through batch operations, on every replica: claims running operations no replica holds
 * (a lease, FOR UPDATE SKIP LOCKED), and runs their pages at their rate. A replica that stops
 * gives its operations back; one that is killed leaves them to expire, and another replica takes
 * them over from their last committed page.
 */
export class BatchLoop {
  private stopped = false;
  private wake: () => void = () => {};
  private hinted = false;
  private running: Promise<void> | undefined;
  private unsubscribe: () => void = () => {};
  private readonly active = new Map<string, Promise<void>>();
  private readonly stopWaits = new Set<() => void>();
  /** This replica's name in lease_owner. */
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

  constructor(
    private readonly deps: EngineDeps,
    private readonly options: BatchLoopOptions = defaultBatchLoopOptions,
  ) {}

  start(): void {
    this.unsubscribe = this.deps.notifier.subscribe(channels.batchOperations, () => {
      this.hinted = true;
      this.wake();
    });
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    this.wake();
    for (const w of this.stopWaits) w();
    await this.running;
    await Promise.all(this.active.values());
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      let idleMs = maxIdleMs;
      this.hinted = false;
      try {
        while (this.active.size < this.options.maxConcurrent && !this.stopped) {
          const op = await claimBatchOperation(this.deps.db, this.owner, this.options.leaseTtlMs, [...this.active.keys()]);
          if (!op) break;
          this.deps.logger.info({ batchOperation: op.id }, "batch operation claimed");
          const work = this.work(op).finally(() => {
            this.active.delete(op.id);
            this.wake();
          });
          this.active.set(op.id, work);
        }
        // Wake when a held operation's lease passes (its replica may be gone).
        const expiry = await nextBatchLeaseExpiry(this.deps.db);
        if (expiry) idleMs = Math.max(50, Math.min(idleMs, expiry.getTime() - Date.now() + 50));
      } catch (error) {
        this.deps.logger.warn({ err: (error as Error).message }, "batch loop: store unavailable, retrying");
        idleMs = 1_000;
      }
      if (this.stopped || this.hinted) continue;
      await this.pause(idleMs, (resolve) => {
        this.wake = resolve;
      });
      this.wake = () => {};
    }
  }

  /** Pages of one operation until it ends, is lost, or this replica stops. */
  private async work(claimed: BatchOperationRow): Promise<void> {
    // A page may take longer than the lease (locks held by workers, a slow store): the lease is
    // renewed apart from the pages, so only a replica that is gone loses it.
    const renew = setInterval(
      () => {
        renewBatchLease(this.deps.db, claimed.id, this.owner, this.options.leaseTtlMs).catch(() => {});
      },
      Math.max(100, this.options.leaseTtlMs / 3),
    );
    try {
      await this.workPages(claimed);
    } finally {
      clearInterval(renew);
    }
  }

  private async workPages(claimed: BatchOperationRow): Promise<void> {
    let op = claimed;
    let errors = 0;
    const pageSize = Math.max(1, Math.min(this.options.pageSize, op.rate));
    while (!this.stopped) {
      const started = Date.now();
      try {
        const page = await runBatchPage(this.deps, op, this.owner, this.options.leaseTtlMs, pageSize);
        errors = 0;
        if (page.ended) {
          await finishBatchOperation(this.deps.db, op.id, this.owner, "completed", null);
          this.deps.logger.info({ batchOperation: op.id }, "batch operation completed");
          return;
        }
        op = await this.reload(op);
        // The rate: a page of n runs takes at least n / rate seconds.
        const waitMs = (page.goneThrough / op.rate) * 1000 - (Date.now() - started);
        if (waitMs > 0) await this.pause(waitMs);
      } catch (error) {
        if (error instanceof BatchLeaseLostError) return; // cancelled, or another replica holds it now
        if (isDeadlock(error)) continue;
        errors++;
        this.deps.logger.warn({ err: (error as Error).message, batchOperation: op.id, errors }, "batch page failed");
        if (errors >= maxPageErrors) {
          await finishBatchOperation(this.deps.db, op.id, this.owner, "failed", `page failed ${errors} times: ${(error as Error).message}`).catch(() => {});
          return;
        }
        await this.pause(Math.min(5_000, 200 * 2 ** errors));
      }
    }
    await releaseBatchOperation(this.deps.db, op.id, this.owner).catch(() => {});
  }

  private async reload(op: BatchOperationRow): Promise<BatchOperationRow> {
    const row = await this.deps.db.selectFrom("batch_operations").selectAll().where("id", "=", op.id).executeTakeFirst();
    if (row?.status !== "running" || row.lease_owner !== this.owner) throw new BatchLeaseLostError(op.id);
    return row;
  }

  /** Waits `ms`, or less when the loop stops (or `expose` is handed the early wake). */
  private pause(ms: number, expose?: (resolve: () => void) => void): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.stopWaits.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.stopWaits.add(done);
      expose?.(done);
    });
  }
}
