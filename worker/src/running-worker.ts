import { randomUUID } from "node:crypto";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { Lease } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import type { Client, Logger } from "@aiki/sdk";
import { abortableDelay, Backoff, clientInternals, isTransientRpcError } from "@aiki/sdk/internal";
import { RunExecution } from "./run-execution.js";
import { type ResolvedWorkerOptions, versionKey, type WorkerHandle } from "./worker-options.js";

interface ActiveExecution {
  execution: RunExecution;
  leaseToken: string;
  done: Promise<void>;
}

// How much longer than the poll's own wait the call may take before the worker gives up on it.
const pollGraceMs = 15_000;

/** A spawned worker: the lease poll loop, heartbeats, and the executions it runs. */
export class RunningWorker implements WorkerHandle {
  readonly id = randomUUID();
  readonly name: string;
  private readonly logger: Logger;
  private readonly active = new Map<string, ActiveExecution>();
  private readonly stopPolling = new AbortController();
  private slotWaiters: (() => void)[] = [];
  private pollLoop: Promise<void> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatInFlight = false;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly client: Client,
    private readonly options: ResolvedWorkerOptions,
  ) {
    this.name = options.name;
    this.logger = (options.logger ?? client.logger).child({ worker: options.name, workerId: this.id });
  }

  start(): void {
    if (this.options.subscriber.type === "redis") {
      this.logger.info("Redis ready hints are not implemented yet; taking work by long-poll over gRPC");
    }
    this.pollLoop = this.poll();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), Math.max(250, Math.floor(this.options.leaseTtlMs / 3)));
    // The poll keeps the process alive while the worker runs; the timer alone should not.
    this.heartbeatTimer.unref();
    this.logger.info("worker started", {
      workflows: [...this.options.versions.values()].map((v) => `${v.name}@${v.versionId}`),
      shards: this.options.shards,
      maxConcurrentWorkflowRuns: this.options.maxConcurrentWorkflowRuns,
    });
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.stopPolling.abort();
    this.wakeSlotWaiters();
    await this.pollLoop;
    const inFlight = [...this.active.values()];
    if (inFlight.length > 0) {
      this.logger.info("stopping: waiting for executions in flight", { count: inFlight.length, graceMs: this.options.gracefulShutdownTimeoutMs });
      // The grace timer is cancelled once they are done, so it never holds the process open.
      const graceOver = new AbortController();
      await Promise.race([
        Promise.allSettled(inFlight.map((a) => a.done)),
        abortableDelay(this.options.gracefulShutdownTimeoutMs, graceOver.signal),
      ]);
      graceOver.abort();
    }
    const leftover = [...this.active.entries()];
    for (const [, a] of leftover) a.execution.abort("aborted");
    // Given back now, they are queued for another worker instead of waiting out their lease.
    await Promise.allSettled(leftover.map(([runId, a]) => this.release(runId, a.leaseToken, "worker shutting down")));
    await Promise.allSettled(leftover.map(([, a]) => a.done));
    clearInterval(this.heartbeatTimer);
    this.logger.info("worker stopped", { released: leftover.length });
  }

  private async poll(): Promise<void> {
    const leases = clientInternals(this.client).leases;
    const backoff = new Backoff(100, 2_000);
    const workflows = [...this.options.versions.values()].map((v) => ({ workflowName: v.name, workflowVersionId: v.versionId }));
    const signal = this.stopPolling.signal;
    while (!signal.aborted) {
      const free = this.options.maxConcurrentWorkflowRuns - this.active.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
        continue;
      }
      let got: Lease[];
      try {
        const response = await leases.pollLeases(
          {
            workerId: this.id,
            workerName: this.name,
            workflows,
            shards: this.options.shards,
            maxLeases: free,
            wait: durationFromMs(this.options.pollWaitMs),
            leaseTtl: durationFromMs(this.options.leaseTtlMs),
          },
          { signal, timeoutMs: this.options.pollWaitMs + pollGraceMs },
        );
        got = response.leases;
        backoff.reset();
      } catch (error) {
        if (signal.aborted) break;
        if (clientInternals(this.client).closeSignal.aborted) {
          this.logger.warn("the client was closed before the worker was stopped; the worker stops taking work");
          break;
        }
        if (isTransientRpcError(error, signal)) this.logger.warn("polling for leases failed; retrying", { err: error });
        else this.logger.error("polling for leases was refused; retrying", { err: error });
        await backoff.wait(signal);
        continue;
      }
      for (const lease of got) {
        if (signal.aborted) void this.release(lease.run?.id ?? "", lease.leaseToken, "worker shutting down");
        else this.startExecution(lease);
      }
    }
  }

  private startExecution(lease: Lease): void {
    const run = lease.run;
    if (!run) {
      this.logger.error("the server sent a lease without a run; ignoring it");
      return;
    }
    const version = this.options.versions.get(versionKey(run.workflowName, run.workflowVersionId));
    if (!version) {
      this.logger.error("the server leased a run of a workflow version this worker does not have; releasing it", {
        runId: run.id,
        workflow: run.workflowName,
        versionId: run.workflowVersionId,
      });
      void this.release(run.id, lease.leaseToken, "workflow version not registered on this worker");
      return;
    }
    if (this.active.has(run.id)) {
      // A second lease for a run still executing here: the first lease was lost; stop that execution.
      this.active.get(run.id)?.execution.abort("lease_lost");
    }
    const execution = new RunExecution({
      lease,
      version,
      client: this.client,
      logger: this.logger.child({ runId: run.id, workflow: run.workflowName, versionId: run.workflowVersionId }),
      inlineRetryMaxDelayMs: this.options.inlineRetryMaxDelayMs,
    });
    const entry: ActiveExecution = {
      execution,
      leaseToken: lease.leaseToken,
      done: execution.execute().then(
        (outcome) => {
          this.logger.debug("execution ended", { runId: run.id, outcome });
        },
        (error: unknown) => {
          this.logger.error("execution crashed", { runId: run.id, err: error });
        },
      ),
    };
    this.active.set(run.id, entry);
    void entry.done.finally(() => {
      if (this.active.get(run.id) === entry) this.active.delete(run.id);
      this.wakeSlotWaiters();
    });
  }

  private async heartbeat(): Promise<void> {
    if (this.heartbeatInFlight || this.active.size === 0) return;
    this.heartbeatInFlight = true;
    const held = [...this.active.entries()].map(([runId, a]) => ({ runId, leaseToken: a.leaseToken }));
    try {
      const response = await clientInternals(this.client).leases.heartbeat(
        { workerId: this.id, leases: held, leaseTtl: durationFromMs(this.options.leaseTtlMs) },
        { timeoutMs: Math.max(1_000, Math.floor(this.options.leaseTtlMs / 3)) },
      );
      for (const state of response.leases) {
        if (!state.held) this.active.get(state.runId)?.execution.abort("lease_lost");
      }
    } catch (error) {
      // A missed heartbeat is survivable; the next one (or a refused write) tells the truth.
      this.logger.warn("heartbeat failed", { err: error });
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  private async release(runId: string, leaseToken: string, reason: string): Promise<void> {
    try {
      await clientInternals(this.client).leases.releaseLease({ runId, leaseToken, reason });
    } catch (error) {
      // A lease already lost needs no release; otherwise it expires on its own.
      this.logger.debug("releasing a lease failed", { runId, err: error });
    }
  }

  private wakeSlotWaiters(): void {
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const wake of waiters) wake();
  }
}
