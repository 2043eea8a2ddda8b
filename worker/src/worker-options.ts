import type { EventDefinitions, Logger, WorkflowVersion } from "@aiki/sdk";
import { workflowVersionInternals, type WorkflowVersionInternals } from "@aiki/sdk/internal";

// biome-ignore lint/suspicious/noExplicitAny: a worker takes versions of any input and output type
export type AnyWorkflowVersion = WorkflowVersion<any, any, EventDefinitions>;

/**
 * How a worker learns that runs are ready and gets their leases. Whatever the choice, leases are
 * fenced the same way, the worker runs at most `maxConcurrentWorkflowRuns` at once, heartbeats
 * what it holds, and `stop()` behaves the same.
 */
export type SubscriberOptions =
  /**
   * Work from the server over gRPC (the default, `{ type: "grpc" }`).
   *
   * - `mode: "session"` (the default): one WorkerLeaseService.Session stream carries everything:
   *   the server pushes leases within credits the worker grants per free slot, and the worker's
   *   writes and heartbeats travel on it instead of one unary RPC each (while it reconnects they
   *   go as unary RPCs). A server without sessions gets `mode: "stream"`.
   * - `mode: "stream"`: one WorkerLeaseService.StreamLeases call with
   *   `max_in_flight` = the worker's free slots; the server pushes a lease as soon as a run is
   *   ready and a slot is free. A stream that ends or breaks is reopened with bounded backoff
   *   (slots freed later by executions from before the new stream are filled by a long-poll). If
   *   the server does not offer streams (UNIMPLEMENTED) the worker long-polls from then on; after
   *   three failed streams in a row it long-polls for a minute, then tries the stream again.
   * - `mode: "poll"`: only the PollLeases long-poll (each call waits up to `pollWaitMs`), e.g.
   *   behind proxies that cut long-lived streams.
   */
  | { type: "grpc"; mode?: "session" | "stream" | "poll" }
  /**
   * Ready hints straight from Redis (the client's `redis` option), the channels the server
   * publishes (`aiki:ready:{namespace}:{workflow}:{version}:{shard}`). On a hint the worker asks
   * the server for leases (PollLeases without waiting, up to its free slots); it also asks every
   * `safetyPollIntervalMs` (default 5 s), so a lost hint costs latency, never work. While Redis is
   * unreachable it says so once and long-polls the server until Redis is back.
   */
  | { type: "redis"; safetyPollIntervalMs?: number };

/** A subscriber with its defaults filled in. */
export type ResolvedSubscriber = { type: "grpc"; mode: "session" | "stream" | "poll" } | { type: "redis"; safetyPollIntervalMs: number };

export interface WorkerOptions {
  /** A name for operators (ListWorkers); many processes may share it. */
  name: string;
  /** The workflow versions this worker runs; it is offered runs of these only. */
  workflows: readonly AnyWorkflowVersion[];
  subscriber?: SubscriberOptions;
  opts?: {
    /**
     * Executions at once; default 100. A run holds its slot only while its code runs or awaits a
     * task, not while it sleeps or waits for an event, nor while the server answers its completion
     * or suspension; and each slot costs a little memory, so the limit is for CPU-bound tasks and
     * fragile downstreams. At 10, 1,000 sleepers woke up to 8 s late on 2 cores (the slots, not
     * the CPU, were the bottleneck); Temporal and Hatchet default to 100 activity slots as well.
     */
    maxConcurrentWorkflowRuns?: number;
    /** The shards to serve; default: unsharded runs only. */
    shards?: readonly string[];
    /** How long stop() lets executions in flight finish before releasing their leases; default 10 s. */
    gracefulShutdownTimeoutMs?: number;
    /** How long a lease lives without a heartbeat; heartbeats go every third of it. Default 30 s. */
    leaseTtlMs?: number;
    /** How long one long-poll (mode "poll", a stream's fallback, Redis away) waits for work; default 20 s. */
    pollWaitMs?: number;
    /** Task retries due within this delay wait in process; longer ones suspend the run. Default 1 s. */
    inlineRetryMaxDelayMs?: number;
    /**
     * Runs a task that has never started (no record in the run's history) as soon as its
     * StartTask is sent, and lets the workflow go on after a success without waiting for the
     * answer: the completion rides on the run's next write, which the server applies after that
     * StartTask, so each task's record still precedes its result and its attempt is counted,
     * while the StartTask round trip leaves every task's latency. The price: a task whose
     * StartTask is refused because the lease was lost meanwhile has then run once without a
     * record (another worker holds the run and runs it again, as after any lost lease). False:
     * each task runs only after its StartTask answered. Default true.
     */
    eagerTasks?: boolean;
    /** Default: the client's logger. */
    logger?: Logger;
  };
}

export interface WorkerHandle {
  /** Unique per spawn: the worker id the server sees. */
  readonly id: string;
  readonly name: string;
  /** Stops taking work, lets executions in flight finish (up to the grace time), releases the rest. */
  stop(): Promise<void>;
}

export interface ResolvedWorkerOptions {
  name: string;
  versions: Map<string, WorkflowVersionInternals>;
  subscriber: ResolvedSubscriber;
  maxConcurrentWorkflowRuns: number;
  shards: string[];
  gracefulShutdownTimeoutMs: number;
  leaseTtlMs: number;
  pollWaitMs: number;
  inlineRetryMaxDelayMs: number;
  eagerTasks: boolean;
  logger: Logger | undefined;
}

export const versionKey = (name: string, versionId: string): string => `${name}\u0000${versionId}`;

export function resolveWorkerOptions(options: WorkerOptions): ResolvedWorkerOptions {
  if (!options || typeof options.name !== "string" || options.name === "") throw new TypeError("worker(): `name` must be a non-empty string");
  const where = `worker "${options.name}"`;
  if (!Array.isArray(options.workflows) || options.workflows.length === 0)
    throw new TypeError(`${where}: \`workflows\` must list at least one workflow version`);
  const versions = new Map<string, WorkflowVersionInternals>();
  for (const version of options.workflows) {
    const internals = workflowVersionInternals(version);
    const key = versionKey(internals.name, internals.versionId);
    if (versions.has(key)) throw new TypeError(`${where}: workflow "${internals.name}" ${internals.versionId} is listed twice`);
    versions.set(key, internals);
  }
  const opts = options.opts ?? {};
  const positiveInt = (field: string, value: number | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${where}: ${field} must be a positive integer, got ${value}`);
    return value;
  };
  const nonNegative = (field: string, value: number | undefined, fallback: number) => {
    if (value === undefined) return fallback;
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${where}: ${field} must be a non-negative number, got ${value}`);
    return value;
  };
  const shards = [...(opts.shards ?? [])];
  for (const shard of shards) if (typeof shard !== "string" || shard === "") throw new TypeError(`${where}: shards must be non-empty strings`);
  const subscriber = resolveSubscriber(where, options.subscriber, positiveInt);
  const leaseTtlMs = positiveInt("leaseTtlMs", opts.leaseTtlMs, 30_000);
  if (leaseTtlMs < 1_000) throw new RangeError(`${where}: leaseTtlMs must be at least 1000`);
  return {
    name: options.name,
    versions,
    subscriber,
    maxConcurrentWorkflowRuns: positiveInt("maxConcurrentWorkflowRuns", opts.maxConcurrentWorkflowRuns, 100),
    shards,
    gracefulShutdownTimeoutMs: nonNegative("gracefulShutdownTimeoutMs", opts.gracefulShutdownTimeoutMs, 10_000),
    leaseTtlMs,
    pollWaitMs: nonNegative("pollWaitMs", opts.pollWaitMs, 20_000),
    inlineRetryMaxDelayMs: nonNegative("inlineRetryMaxDelayMs", opts.inlineRetryMaxDelayMs, 1_000),
    eagerTasks: opts.eagerTasks ?? true,
    logger: opts.logger,
  };
}

function resolveSubscriber(
  where: string,
  subscriber: SubscriberOptions | undefined,
  positiveInt: (field: string, value: number | undefined, fallback: number) => number,
): ResolvedSubscriber {
  const given = subscriber ?? { type: "grpc" };
  if (typeof given !== "object" || given === null) throw new TypeError(`${where}: \`subscriber\` must be { type: "grpc" | "redis", ... }`);
  switch (given.type) {
    case "grpc": {
      const mode = given.mode ?? "session";
      if (mode !== "session" && mode !== "stream" && mode !== "poll") {
        throw new TypeError(`${where}: subscriber mode must be "session", "stream" or "poll", got ${JSON.stringify(mode)}`);
      }
      return { type: "grpc", mode };
    }
    case "redis":
      return { type: "redis", safetyPollIntervalMs: positiveInt("subscriber.safetyPollIntervalMs", given.safetyPollIntervalMs, 5_000) };
    default:
      throw new TypeError(`${where}: unknown subscriber type ${JSON.stringify((given as { type: unknown }).type)}`);
  }
}
