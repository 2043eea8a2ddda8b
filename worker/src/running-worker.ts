import { randomUUID } from "node:crypto";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { Lease } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import type { Client, Logger } from "@aiki/sdk";
import { abortableDelay, clientInternals } from "@aiki/sdk/internal";
import { type LeaseSource, longPoll, type WorkerSlots } from "./lease-source.js";
import { SessionLeaseSource } from "./lease-session.js";
import { StreamLeaseSource } from "./lease-stream.js";
import { RedisLeaseSource } from "./redis-hints.js";
import { RunExecution } from "./run-execution.js";
import { type ResolvedWorkerOptions, versionKey, type WorkerHandle } from "./worker-options.js";
import type { WorkerRpc } from "./worker-rpc.js";

interface ActiveExecution {
  execution: RunExecution;
  leaseToken: string;
  done: Promise<void>;
}

/**
 * A spawned worker: its lease source (stream, long-poll or Redis hints), heartbeats, and the
 * executions it runs, at most maxConcurrentWorkflowRuns at once. An execution that only waits for
 * the answer to its completion or suspension gives its slot up at once, so the next run is leased
 * during that round trip rather than after it. A lease that arrives while every slot is taken (a
 * race, see StreamLeaseSource; or a suspension that turned out not to be needed) is held and
 * heartbeated until a slot frees.
 */
export class RunningWorker implements WorkerHandle, WorkerSlots {
  readonly id = randomUUID();
  readonly name: string;
  readonly logger: Logger;
  private readonly active = new Map<string, ActiveExecution>();
  private readonly waiting = new Map<string, Lease>();
  /** Runs whose active execution gave its slot up while its last write is answered (onSettling). */
  private readonly settling = new Set<string>();
  private readonly stopTakingWork = new AbortController();
  private readonly slotListeners = new Set<() => void>();
  private sourceLoop: Promise<void> | undefined;
  private source: LeaseSource | undefined;
  // Writes, heartbeats and releases: unary RPCs, or the worker session's stream.
  private rpc: WorkerRpc;
  private readonly releases = new Set<Promise<void>>();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private heartbeatInFlight = false;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly client: Client,
    readonly options: ResolvedWorkerOptions,
  ) {
    this.name = options.name;
    this.logger = (options.logger ?? client.logger).child({ worker: options.name, workerId: this.id });
    this.rpc = clientInternals(client);
  }

  get workerId(): string {
    return this.id;
  }

  start(): void {
    const source = this.leaseSource();
    this.source = source;
    this.sourceLoop = source.run(this.stopTakingWork.signal).catch((error: unknown) => {
      this.logger.error("the worker stopped taking work after an unexpected error", { err: error });
    });
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), Math.max(250, Math.floor(this.options.leaseTtlMs / 3)));
    // The lease source keeps the process alive while the worker runs; the timer alone should not.
    this.heartbeatTimer.unref();
    this.logger.info("worker started", {
      workflows: [...this.options.versions.values()].map((v) => `${v.name}@${v.versionId}`),
      shards: this.options.shards,
      maxConcurrentWorkflowRuns: this.options.maxConcurrentWorkflowRuns,
      subscriber: this.options.subscriber.type === "grpc" ? `grpc ${this.options.subscriber.mode}` : "redis",
    });
  }

  private leaseSource(): LeaseSource {
    const subscriber = this.options.subscriber;
    if (subscriber.type === "redis") {
      // spawn() checked that the client has a `redis` option.
      return new RedisLeaseSource(this, this.client.redis ?? {});
    }
    if (subscriber.mode === "session") {
      const session = new SessionLeaseSource(this);
      this.rpc = session.rpc;
      return session;
    }
    if (subscriber.mode === "stream") return new StreamLeaseSource(this);
    return { run: async (signal) => void (await longPoll(this, signal)) };
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  // ---- WorkerSlots ----

  held(): number {
    return this.active.size + this.waiting.size;
  }

  holds(runId: string): boolean {
    return this.active.has(runId) || this.waiting.has(runId);
  }

  free(): number {
    return this.options.maxConcurrentWorkflowRuns - this.busy() - this.waiting.size;
  }

  /** Executions holding a slot: running code, or awaiting a task or a write that lets them go on. */
  private busy(): number {
    return this.active.size - this.settling.size;
  }

  slotFreed(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        stopListening();
        signal.removeEventListener("abort", done);
        resolve();
      };
      const stopListening = this.onSlotFreed(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  onSlotFreed(listener: () => void): () => void {
    const entry = () => listener();
    this.slotListeners.add(entry);
    return () => void this.slotListeners.delete(entry);
  }

  accept(lease: Lease): void {
    const run = lease.run;
    if (!run) {
      this.logger.error("the server sent a lease without a run; ignoring it");
      return;
    }
    if (this.stopping) {
      this.release(run.id, lease.leaseToken, "worker shutting down");
      return;
    }
    if (this.active.has(run.id)) {
      // A newer lease for a run executing here: it replaces that execution in its slot.
      this.startExecution(lease);
      return;
    }
    // A newer lease for a run that waits replaces the older one (lost by then).
    this.waiting.delete(run.id);
    this.waiting.set(run.id, lease);
    this.startWaiting();
  }

  // ---- shutdown ----

  private async shutdown(): Promise<void> {
    this.stopTakingWork.abort();
    await this.sourceLoop;
    // Leases not started yet go back at once.
    const notStarted = [...this.waiting.values()];
    this.waiting.clear();
    for (const lease of notStarted) this.release(lease.run?.id ?? "", lease.leaseToken, "worker shutting down");
    const inFlight = [...this.active.values()];
    if (inFlight.length > 0) {
      this.logger.info("stopping: waiting for executions in flight", { count: inFlight.length, graceMs: this.options.gracefulShutdownTimeoutMs });
      // The grace timer is cancelled once they are done, so it never holds the process open.
      const graceOver = new AbortController();
      await Promise.race([Promise.allSettled(inFlight.map((a) => a.done)), abortableDelay(this.options.gracefulShutdownTimeoutMs, graceOver.signal)]);
      graceOver.abort();
    }
    const leftover = [...this.active.entries()];
    for (const [, a] of leftover) a.execution.abort("aborted");
    // Given back now, they are queued for another worker instead of waiting out their lease.
    for (const [runId, a] of leftover) this.release(runId, a.leaseToken, "worker shutting down");
    await Promise.allSettled([...this.releases]);
    await Promise.allSettled(leftover.map(([, a]) => a.done));
    clearInterval(this.heartbeatTimer);
    await this.source?.close?.();
    this.logger.info("worker stopped", { released: leftover.length + notStarted.length });
  }

  // ---- executions ----

  private startExecution(lease: Lease): void {
    const run = lease.run!;
    const version = this.options.versions.get(versionKey(run.workflowName, run.workflowVersionId));
    if (!version) {
      this.logger.error("the server leased a run of a workflow version this worker does not have; releasing it", {
        runId: run.id,
        workflow: run.workflowName,
        versionId: run.workflowVersionId,
      });
      this.release(run.id, lease.leaseToken, "workflow version not registered on this worker");
      return;
    }
    if (this.active.has(run.id)) {
      // A second lease for a run still executing here: the first lease was lost; stop that execution.
      this.active.get(run.id)?.execution.abort("lease_lost");
      this.settling.delete(run.id);
    }
    const execution: RunExecution = new RunExecution({
      lease,
      rpc: this.rpc,
      version,
      client: this.client,
      logger: this.logger.child({ runId: run.id, workflow: run.workflowName, versionId: run.workflowVersionId }),
      inlineRetryMaxDelayMs: this.options.inlineRetryMaxDelayMs,
      eagerTasks: this.options.eagerTasks,
      onSettling: (settling) => {
        if (this.active.get(run.id)?.execution !== execution) return;
        if (!settling) {
          this.settling.delete(run.id);
          return;
        }
        if (this.settling.has(run.id)) return;
        this.settling.add(run.id);
        // Not on the settling execution's own stack: what the freed slot starts is no part of it.
        queueMicrotask(() => {
          this.startWaiting();
          this.slotsFreed();
        });
      },
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
      if (this.active.get(run.id) === entry) {
        this.active.delete(run.id);
        this.settling.delete(run.id);
      }
      // Also when the slot was freed as it began to settle: its lease, held until now, has ended.
      this.startWaiting();
      this.slotsFreed();
    });
  }

  /** Starts leases that wait for a slot, oldest first, while slots are free. */
  private startWaiting(): void {
    if (this.stopping) return;
    for (const [runId, lease] of this.waiting) {
      if (this.busy() >= this.options.maxConcurrentWorkflowRuns) return;
      this.waiting.delete(runId);
      this.startExecution(lease);
    }
  }

  private slotsFreed(): void {
    for (const listener of [...this.slotListeners]) listener();
  }

  private async heartbeat(): Promise<void> {
    if (this.heartbeatInFlight || this.held() === 0) return;
    this.heartbeatInFlight = true;
    const held = [
      ...[...this.active.entries()].map(([runId, a]) => ({ runId, leaseToken: a.leaseToken })),
      ...[...this.waiting.values()].map((lease) => ({ runId: lease.run?.id ?? "", leaseToken: lease.leaseToken })),
    ];
    try {
      const response = await this.rpc.leases.heartbeat(
        { workerId: this.id, leases: held, leaseTtl: durationFromMs(this.options.leaseTtlMs) },
        { timeoutMs: Math.max(1_000, Math.floor(this.options.leaseTtlMs / 3)) },
      );
      let dropped = false;
      // The answer lists the leases in the order they were sent.
      response.leases.forEach((state, i) => {
        const sent = held[i];
        if (state.held || !sent || sent.runId !== state.runId) return;
        const waitingLease = this.waiting.get(sent.runId);
        if (waitingLease?.leaseToken === sent.leaseToken) {
          this.waiting.delete(sent.runId);
          dropped = true;
        }
        const a = this.active.get(sent.runId);
        if (a?.leaseToken === sent.leaseToken) a.execution.abort("lease_lost");
      });
      if (dropped) this.slotsFreed();
    } catch (error) {
      // A missed heartbeat is survivable; the next one (or a refused write) tells the truth.
      this.logger.warn("heartbeat failed", { err: error });
    } finally {
      this.heartbeatInFlight = false;
    }
  }

  /** Gives a lease back; tracked so stop() waits for the releases it caused. */
  private release(runId: string, leaseToken: string, reason: string): void {
    const done = (async () => {
      try {
        await this.rpc.leases.releaseLease({ runId, leaseToken, reason });
      } catch (error) {
        // A lease already lost needs no release; otherwise it expires on its own.
        this.logger.debug("releasing a lease failed", { runId, err: error });
      }
    })();
    this.releases.add(done);
    void done.finally(() => this.releases.delete(done));
  }
}
