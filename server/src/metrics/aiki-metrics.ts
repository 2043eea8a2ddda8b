import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { type RunStatus, runStatuses } from "../domain/run-status.js";
import type { RunCount } from "../store/stats-repository.js";

export interface AikiMetricsOptions {
  /** Counts runs by workflow and status, at scrape time. */
  countRuns?: () => Promise<RunCount[]>;
  /** How long a scrape waits for the count before it reports the store down (default 2 s). */
  countTimeoutMs?: number;
  /** Node.js process metrics (CPU, memory, event loop lag, GC); default true. */
  processMetrics?: boolean;
  /**
   * Distinct workflow names labelled as themselves (AIKI_MAX_METRIC_WORKFLOWS, default 200): clients
   * choose the names, so past this many the rest share the label "other" and series stay bounded.
   */
  maxWorkflowLabels?: number;
}

/** The label of workflows past the limit of distinct names. */
export const otherWorkflowLabel = "other";

/** What a timer firing was: the status the run woke from, or a lease that expired. */
const timerKinds: Partial<Record<RunStatus, string>> = {
  scheduled: "delayed_start",
  sleeping: "sleep",
  awaiting_event: "event_timeout",
  awaiting_child_workflow: "child_timeout",
  awaiting_retry: "retry",
};

// Seconds, 5 ms … 5 min: queue waits and timer delays span both.
const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const rpcBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * The server's Prometheus metrics, one registry per server (tests run several in one process).
 * Counters count after commit, in the process that made the change: sum them across replicas.
 * `aiki_runs` is read from the store at scrape time, so every replica reports the same totals.
 */
export class AikiMetrics {
  readonly registry = new Registry();

  readonly #transitions: Counter<"from" | "to">;
  readonly #taskAttempts: Counter;
  readonly #taskFailures: Counter<"outcome">;
  readonly #leaseExpiries: Counter;
  readonly #runsPurged: Counter<"origin">;
  readonly #pickupLatency: Histogram<"workflow">;
  readonly #timerLateness: Histogram<"kind">;
  readonly #rpcs: Counter<"service" | "method" | "code">;
  readonly #rpcDuration: Histogram<"service" | "method" | "code">;
  readonly #authFailures: Counter<"reason">;
  readonly #workflowLabels = new Set<string>();
  readonly #maxWorkflowLabels: number;

  constructor(options: AikiMetricsOptions = {}) {
    const registers = [this.registry];
    this.#maxWorkflowLabels = options.maxWorkflowLabels ?? 200;
    const workflowLabel = (name: string) => this.#workflowLabel(name);
    const countRuns = options.countRuns;
    const countTimeoutMs = options.countTimeoutMs ?? 2_000;
    // One count per scrape, shared by the two gauges that report it; undefined when it failed.
    let counting: Promise<RunCount[] | undefined> | undefined;
    const countOnce = () =>
      (counting ??= countRuns
        ? withTimeout(countRuns(), countTimeoutMs)
            .catch(() => undefined)
            .finally(() => (counting = undefined))
        : Promise.resolve(undefined));
    new Gauge({
      name: "aiki_store_up",
      help: "1 when this scrape could count runs in the store, 0 when it could not (then aiki_runs is absent)",
      registers: countRuns ? registers : [],
      async collect() {
        this.set((await countOnce()) ? 1 : 0);
      },
    });
    new Gauge({
      name: "aiki_runs",
      help: "Runs by namespace, workflow and status, counted in the store at scrape time (every status of a workflow that has runs is reported, zeros included)",
      labelNames: ["namespace", "workflow", "status"],
      registers: countRuns ? registers : [],
      async collect() {
        this.reset();
        const counts = await countOnce();
        const byWorkflow = new Map<string, { namespace: string; workflow: string; statuses: Map<string, number> }>();
        for (const c of counts ?? []) {
          const workflow = workflowLabel(c.workflowName);
          const key = JSON.stringify([c.namespace, workflow]);
          const entry = byWorkflow.get(key) ?? { namespace: c.namespace, workflow, statuses: new Map<string, number>() };
          entry.statuses.set(c.status, (entry.statuses.get(c.status) ?? 0) + c.count);
          byWorkflow.set(key, entry);
        }
        for (const { namespace, workflow, statuses } of byWorkflow.values()) {
          for (const status of runStatuses) this.set({ namespace, workflow, status }, statuses.get(status) ?? 0);
        }
      },
    });
    this.#transitions = new Counter({
      name: "aiki_run_transitions_total",
      help: 'Run state transitions made by this server, by from and to status (from="none" for a new run)',
      labelNames: ["from", "to"],
      registers,
    });
    this.#taskAttempts = new Counter({
      name: "aiki_task_attempts_total",
      help: "Task attempts started (StartTask calls that began an attempt; replays of finished tasks are not attempts)",
      registers,
    });
    this.#taskFailures = new Counter({
      name: "aiki_task_failures_total",
      help: 'Task attempts that failed, by outcome: "retry" (another attempt is due) or "failed" (for good)',
      labelNames: ["outcome"],
      registers,
    });
    this.#leaseExpiries = new Counter({
      name: "aiki_lease_expiries_total",
      help: "Leases that expired without a heartbeat; each run went back to the queue",
      registers,
    });
    this.#runsPurged = new Counter({
      name: "aiki_runs_purged_total",
      help: 'Finished runs deleted with their history, by origin: "retention" (the server\'s own sweep) or "rpc" (AdminService.PurgeRuns)',
      labelNames: ["origin"],
      registers,
    });
    this.#pickupLatency = new Histogram({
      name: "aiki_run_pickup_latency_seconds",
      help: "From the moment a run became QUEUED (its last transition) to the moment a worker leased it, on the database clock",
      labelNames: ["workflow"],
      buckets: latencyBuckets,
      registers,
    });
    this.#timerLateness = new Histogram({
      name: "aiki_timer_lateness_seconds",
      help: "How late the timer loop fired a due time (fire time minus due time, on the database clock), by kind",
      labelNames: ["kind"],
      buckets: latencyBuckets,
      registers,
    });
    this.#rpcs = new Counter({
      name: "aiki_rpc_requests_total",
      help: "RPCs handled, by service, method and gRPC code (a stream counts when it ends)",
      labelNames: ["service", "method", "code"],
      registers,
    });
    this.#rpcDuration = new Histogram({
      name: "aiki_rpc_duration_seconds",
      help: "RPC handling time, by service, method and gRPC code (long-polls and streams included: split by method)",
      labelNames: ["service", "method", "code"],
      buckets: rpcBuckets,
      registers,
    });
    this.#authFailures = new Counter({
      name: "aiki_auth_failures_total",
      help: "Calls refused by authentication (AIKI_AUTH=on), by reason: missing, malformed, unknown, revoked, expired, permission_denied",
      labelNames: ["reason"],
      registers,
    });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition text and its content type, for GET /metrics. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** A run changed status (after commit); `from` null for a new run. */
  runTransitioned(from: RunStatus | null, to: RunStatus, count = 1): void {
    safely(() => {
      if (count > 0) this.#transitions.inc({ from: from ?? "none", to }, count);
    });
  }

  /** A workflow name as a label: itself while fewer than the limit of names were seen, else "other". */
  #workflowLabel(name: string): string {
    if (this.#workflowLabels.has(name)) return name;
    if (this.#workflowLabels.size >= this.#maxWorkflowLabels) return otherWorkflowLabel;
    this.#workflowLabels.add(name);
    return name;
  }

  /**
   * Runs a worker leased (queued → running). `queued_time` is when each became QUEUED and
   * `update_time` the claim, both read from the database in the claim.
   */
  runsLeased(runs: ReadonlyArray<{ workflow_name: string; update_time: Date; queued_time?: Date | null | undefined }>): void {
    this.runTransitioned("queued", "running", runs.length);
    safely(() => {
      for (const run of runs) {
        if (run.queued_time) this.#pickupLatency.observe({ workflow: this.#workflowLabel(run.workflow_name) }, seconds(run.update_time, run.queued_time));
      }
    });
  }

  /** Runs the timer loop woke (→ queued). `update_time` is the firing, `due_time` when it was due. */
  timersFired(runs: ReadonlyArray<{ from_status: RunStatus; update_time: Date; due_time?: Date | null | undefined }>): void {
    safely(() => {
      for (const run of runs) {
        this.runTransitioned(run.from_status, "queued");
        if (run.due_time) this.#timerLateness.observe({ kind: timerKinds[run.from_status] ?? run.from_status }, seconds(run.update_time, run.due_time));
      }
    });
  }

  /** Leases the timer loop expired (running → queued). */
  leasesExpired(runs: ReadonlyArray<{ update_time: Date; due_time?: Date | null | undefined }>): void {
    this.runTransitioned("running", "queued", runs.length);
    safely(() => {
      this.#leaseExpiries.inc(runs.length);
      for (const run of runs) {
        if (run.due_time) this.#timerLateness.observe({ kind: "lease_expiry" }, seconds(run.update_time, run.due_time));
      }
    });
  }

  /** Runs a purge deleted (descendants included). */
  runsPurged(origin: "retention" | "rpc", count: number): void {
    if (count > 0) safely(() => this.#runsPurged.inc({ origin }, count));
  }

  taskAttemptStarted(count = 1): void {
    safely(() => this.#taskAttempts.inc(count));
  }

  taskAttemptFailed(willRetry: boolean): void {
    safely(() => this.#taskFailures.inc({ outcome: willRetry ? "retry" : "failed" }));
  }

  /** A call was refused by authentication. */
  authFailed(reason: string): void {
    safely(() => this.#authFailures.inc({ reason }));
  }

  /** One RPC ended; `code` is the gRPC code name ("OK", "NotFound", …). */
  rpcFinished(service: string, method: string, code: string, durationSeconds: number): void {
    safely(() => {
      this.#rpcs.inc({ service, method, code });
      this.#rpcDuration.observe({ service, method, code }, durationSeconds);
    });
  }
}

/**
 * Counting never fails the work it counts: the hooks run after commits, in the engine's paths, and
 * a bad sample (say, a value the store returned in an unexpected shape) is dropped instead.
 */
function safely(count: () => void): void {
  try {
    count();
  } catch {
    // Dropped: a metric is not worth a failed RPC.
  }
}

/** `later - earlier` in seconds, never negative (clock resolution). */
function seconds(later: Date, earlier: Date): number {
  return Math.max(0, (later.getTime() - earlier.getTime()) / 1000);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
