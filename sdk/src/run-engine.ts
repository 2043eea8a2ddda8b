import type { Client } from "./client.js";
import type { EventDefinition } from "./event.js";
import type { RetryStrategy } from "./retry-strategy.js";
import type { TerminalRunStatus } from "./run-status.js";
import type { StartOptions } from "./start-options.js";
import type { TaskInternals } from "./task.js";
import type { StateForStatus } from "./workflow-run.js";

/** The identity of a child run as its parent knows it (the same on every replay). */
export interface ChildRunInfo {
  id: string;
  name: string;
  versionId: string;
  referenceId: string | undefined;
}

export interface ChildStartRequest {
  workflowName: string;
  versionId: string;
  /** Already validated against the child's input schema. */
  input: unknown;
  options: StartOptions;
  /** The child version's own retry policy, used unless options.retry overrides it. */
  defaultRetry: RetryStrategy | undefined;
}

export interface ChildWaitRequest<S extends TerminalRunStatus, Output> {
  child: ChildRunInfo;
  status: S;
  timeoutMs: number | undefined;
  /** Parses a recorded child output with the child's output schema; throws SchemaValidationError. */
  decodeOutput(json: unknown): Output;
}

export type ChildWaitResult<S extends TerminalRunStatus, Output> =
  | { success: true; state: StateForStatus<S, Output> }
  | { success: false; cause: "run_terminated" | "timeout" };

export type EventWaitResult<T> = { timeout: false; data: T } | { timeout: true };

/**
 * The durable operations behind a workflow's `run`: implemented by the worker's replay executor,
 * called by tasks, sleeps, event waits and children. Every method may reject with the executor's
 * end-of-execution signal, which user code must let through.
 */
export interface RunEngine {
  readonly client: Client;
  /** True while recorded history entries remain that this execution has not reached yet. */
  isReplaying(): boolean;
  runTask(task: TaskInternals<unknown, unknown>, input: unknown): Promise<unknown>;
  sleep(name: string, durationMs: number): Promise<{ cancelled: boolean }>;
  waitForEvent(eventName: string, definition: EventDefinition<unknown>, timeoutMs: number | undefined): Promise<EventWaitResult<unknown>>;
  startChild(request: ChildStartRequest): Promise<ChildRunInfo>;
  waitForChild<S extends TerminalRunStatus, Output>(request: ChildWaitRequest<S, Output>): Promise<ChildWaitResult<S, Output>>;
}
