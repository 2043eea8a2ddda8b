import type { EventDefinitions, Logger, WorkflowVersion } from "@aiki/sdk";
import { workflowVersionInternals, type WorkflowVersionInternals } from "@aiki/sdk/internal";

// biome-ignore lint/suspicious/noExplicitAny: a worker takes versions of any input and output type
export type AnyWorkflowVersion = WorkflowVersion<any, any, EventDefinitions>;

/** How a worker learns that runs are ready. */
export type SubscriberOptions =
  /** Long-poll the server (WorkerLeaseService.PollLeases); the default. */
  | { type: "grpc" }
  /** Ready hints from Redis through the client's `redis` option. */
  | { type: "redis" };

export interface WorkerOptions {
  /** A name for operators (ListWorkers); many processes may share it. */
  name: string;
  /** The workflow versions this worker runs; it is offered runs of these only. */
  workflows: readonly AnyWorkflowVersion[];
  subscriber?: SubscriberOptions;
  opts?: {
    /** Executions at once; default 10. */
    maxConcurrentWorkflowRuns?: number;
    /** The shards to serve; default: unsharded runs only. */
    shards?: readonly string[];
    /** How long stop() lets executions in flight finish before releasing their leases; default 10 s. */
    gracefulShutdownTimeoutMs?: number;
    /** How long a lease lives without a heartbeat; heartbeats go every third of it. Default 30 s. */
    leaseTtlMs?: number;
    /** How long one poll waits for work; default 20 s. */
    pollWaitMs?: number;
    /** Task retries due within this delay wait in process; longer ones suspend the run. Default 1 s. */
    inlineRetryMaxDelayMs?: number;
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
  subscriber: SubscriberOptions;
  maxConcurrentWorkflowRuns: number;
  shards: string[];
  gracefulShutdownTimeoutMs: number;
  leaseTtlMs: number;
  pollWaitMs: number;
  inlineRetryMaxDelayMs: number;
  logger: Logger | undefined;
}

export const versionKey = (name: string, versionId: string): string => `${name}\u0000${versionId}`;

export function resolveWorkerOptions(options: WorkerOptions): ResolvedWorkerOptions {
  if (!options || typeof options.name !== "string" || options.name === "") throw new TypeError("worker(): `name` must be a non-empty string");
  const where = `worker "${options.name}"`;
  if (!Array.isArray(options.workflows) || options.workflows.length === 0) throw new TypeError(`${where}: \`workflows\` must list at least one workflow version`);
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
  const subscriber = options.subscriber ?? { type: "grpc" };
  if (subscriber.type !== "grpc" && subscriber.type !== "redis") throw new TypeError(`${where}: unknown subscriber type ${JSON.stringify((subscriber as { type: unknown }).type)}`);
  const leaseTtlMs = positiveInt("leaseTtlMs", opts.leaseTtlMs, 30_000);
  if (leaseTtlMs < 1_000) throw new RangeError(`${where}: leaseTtlMs must be at least 1000`);
  return {
    name: options.name,
    versions,
    subscriber,
    maxConcurrentWorkflowRuns: positiveInt("maxConcurrentWorkflowRuns", opts.maxConcurrentWorkflowRuns, 10),
    shards,
    gracefulShutdownTimeoutMs: nonNegative("gracefulShutdownTimeoutMs", opts.gracefulShutdownTimeoutMs, 10_000),
    leaseTtlMs,
    pollWaitMs: nonNegative("pollWaitMs", opts.pollWaitMs, 20_000),
    inlineRetryMaxDelayMs: nonNegative("inlineRetryMaxDelayMs", opts.inlineRetryMaxDelayMs, 1_000),
    logger: opts.logger,
  };
}
