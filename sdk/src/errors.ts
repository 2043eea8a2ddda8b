import type { Failure } from "./failure.js";
import type { RunFailureCause, RunStatus } from "./run-status.js";

/** The base of every error this SDK throws on purpose; `cause` is always kept. */
export class AikiError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Thrown by user code (task or workflow handler) to fail without retry: retry policies are
 * skipped and the failure is recorded with `nonRetryable: true`.
 */
export class NonRetryableError extends AikiError {
  readonly nonRetryable = true;
}

/** A task exhausted its attempts (or threw NonRetryableError); thrown into the workflow handler. */
export class TaskFailedError extends AikiError {
  readonly taskName: string;
  readonly taskId: string | undefined;
  /** Attempts made, the failed one included. */
  readonly attempts: number;
  /** The last attempt's failure, as recorded. */
  readonly failure: Failure;

  constructor(args: { taskName: string; taskId?: string; attempts: number; failure: Failure; cause?: unknown }) {
    super(`task "${args.taskName}" failed after ${args.attempts} attempt${args.attempts === 1 ? "" : "s"}: ${args.failure.message}`, { cause: args.cause });
    this.taskName = args.taskName;
    this.taskId = args.taskId;
    this.attempts = args.attempts;
    this.failure = args.failure;
  }
}

/**
 * A workflow run ended without completing: `failed` (with its recorded failure and why it failed)
 * or `cancelled` (with the reason given to `cancel`). Thrown by `handle.waitForCompletion()`.
 * For a failed run, `cause` is the recorded failure rebuilt as an error (named as the original,
 * with its own cause chain), so `error.cause` reads like the error the workflow threw.
 */
export class WorkflowRunFailedError extends AikiError {
  readonly runId: string;
  /** The terminal status the run ended in. */
  readonly status: "failed" | "cancelled";
  /** The recorded failure; set when `status` is "failed". */
  readonly failure: Failure | undefined;
  /** Why the run failed (a task, the handler, non-determinism, a schema); set when `status` is "failed" and the server knows. */
  readonly failureCause: RunFailureCause | undefined;
  /** The cancellation reason; set when `status` is "cancelled" and one was given. */
  readonly reason: string | undefined;

  constructor(args: {
    runId: string;
    status: "failed" | "cancelled";
    failure?: Failure;
    failureCause?: RunFailureCause;
    reason?: string;
    cause?: unknown;
  }) {
    super(
      args.status === "cancelled"
        ? `workflow run ${args.runId} was cancelled${args.reason ? `: ${args.reason}` : ""}`
        : `workflow run ${args.runId} failed${args.failureCause ? ` (${args.failureCause})` : ""}${args.failure ? `: ${args.failure.message}` : ""}`,
      { cause: args.cause },
    );
    this.runId = args.runId;
    this.status = args.status;
    this.failure = args.failure;
    this.failureCause = args.failureCause;
    this.reason = args.reason;
  }
}

/** One recorded history entry that a replay did not reach. */
export interface UnconsumedEntry {
  kind: "task" | "sleep" | "event_wait" | "child_run" | "child_wait";
  /** Address, sleep name, event name, child key or child run id. */
  key: string;
  sequence: number;
  /** e.g. `task "charge:3f2a…" #0 (completed)`. */
  description: string;
}

/**
 * Replay met a call that history does not have while recorded calls were still unconsumed: the
 * code no longer does what the run did. The run fails without retry.
 */
export class NonDeterminismError extends AikiError {
  readonly runId: string;
  /** The new call that replay met. */
  readonly call: string;
  readonly unconsumed: readonly UnconsumedEntry[];

  constructor(args: { runId: string; call: string; unconsumed: readonly UnconsumedEntry[] }) {
    const listed = args.unconsumed.map((e) => e.description);
    super(
      `non-determinism in run ${args.runId}: ${args.call} is not in the run's history, but ${listed.length} recorded ` +
        `entr${listed.length === 1 ? "y was" : "ies were"} never reached: ${listed.join("; ")}. ` +
        "Start a new workflow version for changed code instead of changing a version that has runs in flight.",
    );
    this.runId = args.runId;
    this.call = args.call;
    this.unconsumed = args.unconsumed;
  }
}

/**
 * Replay met a task call whose record is in history under another address: the same task with
 * the same input (the record's input gives the call's address under the contract's canonical
 * JSON), but the record was written with an address computed otherwise, by a worker whose JSON
 * differs (`5.0` for `5`) before the server verified addresses. The task is not run again; the
 * run fails without retry, like any non-determinism, naming both addresses.
 */
export class ReplayMismatchError extends NonDeterminismError {
  readonly taskName: string;
  /** The address the record has. */
  readonly recordedAddress: string;
  /** The address the call has (name + ":" + canonical hash of its input). */
  readonly calledAddress: string;

  constructor(args: { runId: string; taskName: string; recordedAddress: string; calledAddress: string; unconsumed: readonly UnconsumedEntry[] }) {
    super({ runId: args.runId, call: `task "${args.taskName}" (${args.calledAddress})`, unconsumed: args.unconsumed });
    this.message =
      `replay mismatch in run ${args.runId}: task "${args.taskName}" was called at address ${args.calledAddress}, but its ` +
      `record (same task, same input) has address ${args.recordedAddress}. The record was written by a worker whose ` +
      "canonical JSON or hash differs from the contract's (Addresses, in proto/aiki/v1/history.proto); the task is not run again.";
    this.taskName = args.taskName;
    this.recordedAddress = args.recordedAddress;
    this.calledAddress = args.calledAddress;
  }
}

/** Data failed a schema (workflow input/output, task input/output, event data). Nothing was stored. */
export class SchemaValidationError extends AikiError {
  /** What was checked, e.g. `workflow "order" 1.0.0 input`. */
  readonly subject: string;
  /** The schema library's error (zod's ZodError etc.), also kept as `cause`. */
  readonly issues: unknown;

  constructor(subject: string, cause: unknown) {
    super(`${subject} failed its schema: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.subject = subject;
    this.issues = cause;
  }
}

/** The gRPC status of a failed call, in lowercase (`not_found`, `unavailable`, ...). */
export type RpcCode =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated";

/** A call to the Aiki server failed; subclasses carry the server's typed details. */
export class AikiRpcError extends AikiError {
  readonly code: RpcCode;

  constructor(message: string, code: RpcCode, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** True when the same call may succeed later (server restarting, store unreachable, contention). */
  get retryable(): boolean {
    return this.code === "unavailable" || this.code === "aborted" || this.code === "resource_exhausted";
  }
}

/** INVALID_ARGUMENT: the request named wrong fields. */
export class InvalidArgumentError extends AikiRpcError {
  readonly fieldViolations: readonly { field: string; description: string }[];

  constructor(message: string, fieldViolations: readonly { field: string; description: string }[], options?: { cause?: unknown }) {
    super(message, "invalid_argument", options);
    this.fieldViolations = fieldViolations;
  }
}

/** NOT_FOUND: no such run (by id, or by reference id within a workflow version). */
export class RunNotFoundError extends AikiRpcError {
  readonly runId: string | undefined;
  readonly reference: { workflowName: string; versionId: string; referenceId: string } | undefined;

  constructor(
    message: string,
    target: { runId?: string; reference?: { workflowName: string; versionId: string; referenceId: string } },
    options?: { cause?: unknown },
  ) {
    super(message, "not_found", options);
    this.runId = target.runId;
    this.reference = target.reference;
  }
}

/** FAILED_PRECONDITION: the run's current status forbids the action (resume a running run, ...). */
export class InvalidTransitionError extends AikiRpcError {
  readonly runId: string;
  /** undefined when the server reported a status this SDK does not know. */
  readonly currentStatus: RunStatus | undefined;
  /** What was asked: "pause", "resume", "cancel", "awake", "send_event", ... */
  readonly action: string;
  readonly revision: number;

  constructor(message: string, args: { runId: string; currentStatus: RunStatus | undefined; action: string; revision: number }, options?: { cause?: unknown }) {
    super(message, "failed_precondition", options);
    this.runId = args.runId;
    this.currentStatus = args.currentStatus;
    this.action = args.action;
    this.revision = args.revision;
  }
}

/** ALREADY_EXISTS: the reference id (or request id) belongs to a run started with another input. */
export class WorkflowRunConflictError extends AikiRpcError {
  readonly existingRunId: string;
  readonly referenceId: string | undefined;
  readonly requestId: string | undefined;

  constructor(message: string, args: { existingRunId: string; referenceId?: string; requestId?: string }, options?: { cause?: unknown }) {
    super(message, "already_exists", options);
    this.existingRunId = args.existingRunId;
    this.referenceId = args.referenceId;
    this.requestId = args.requestId;
  }
}

/** NOT_FOUND from ScheduleService: no schedule with this id (never activated, or deleted). */
export class ScheduleNotFoundError extends AikiRpcError {
  readonly scheduleId: string;

  constructor(message: string, scheduleId: string, options?: { cause?: unknown }) {
    super(message, "not_found", options);
    this.scheduleId = scheduleId;
  }
}

/**
 * ALREADY_EXISTS from ActivateSchedule: the schedule's name already holds a schedule with
 * another definition (version, spec, overlap policy, input or shard). Delete that one first, or
 * use another name.
 */
export class ScheduleConflictError extends AikiRpcError {
  readonly scheduleName: string;
  /** The id of the schedule that holds the name. */
  readonly existingScheduleId: string;

  constructor(message: string, args: { scheduleName: string; existingScheduleId: string }, options?: { cause?: unknown }) {
    super(message, "already_exists", options);
    this.scheduleName = args.scheduleName;
    this.existingScheduleId = args.existingScheduleId;
  }
}

/** FAILED_PRECONDITION from ScheduleService: pause of a schedule that is not active, resume of one that is not paused. */
export class ScheduleStateError extends AikiRpcError {
  readonly scheduleId: string;
  /** What was asked. */
  readonly action: "pause" | "resume";
  /** The schedule's status that refused it, as the server read it. */
  readonly currentStatus: "active" | "paused";

  constructor(message: string, args: { scheduleId: string; action: "pause" | "resume"; currentStatus: "active" | "paused" }, options?: { cause?: unknown }) {
    super(message, "failed_precondition", options);
    this.scheduleId = args.scheduleId;
    this.action = args.action;
    this.currentStatus = args.currentStatus;
  }
}

/**
 * FAILED_PRECONDITION on a worker write: the worker no longer holds the run's lease (expired and
 * re-leased, or the run was paused or cancelled). The worker stops executing the run.
 */
export class LeaseLostError extends AikiRpcError {
  readonly runId: string;
  readonly currentStatus: RunStatus | undefined;

  constructor(message: string, args: { runId: string; currentStatus: RunStatus | undefined }, options?: { cause?: unknown }) {
    super(message, "failed_precondition", options);
    this.runId = args.runId;
    this.currentStatus = args.currentStatus;
  }
}

/** PERMISSION_DENIED: the API key lacks the scope the call needs. */
export class PermissionDeniedError extends AikiRpcError {
  /** The scope the call needs ("client", "worker", "read"); a key holding it, or "admin", may call. */
  readonly requiredScope: string;
  /** The method refused, e.g. "aiki.v1.RunService/StartRun". */
  readonly method: string;

  constructor(message: string, args: { requiredScope: string; method: string }, options?: { cause?: unknown }) {
    super(message, "permission_denied", options);
    this.requiredScope = args.requiredScope;
    this.method = args.method;
  }
}

/**
 * RESOURCE_EXHAUSTED over a configured server limit (message size, held waits, open streams, ...).
 * Retryable like every RESOURCE_EXHAUSTED: a quota frees up when the caller's other calls end.
 */
export class LimitExceededError extends AikiRpcError {
  /** The limit's name as the server is configured, e.g. "AIKI_MAX_MESSAGE_BYTES". */
  readonly limit: string;
  readonly max: number;
  /** What the request had or asked for; 0 when the server did not know. */
  readonly actual: number;
  /** The field or resource the limit applies to, e.g. "input" or "open_streams". */
  readonly subject: string;

  constructor(message: string, args: { limit: string; max: number; actual: number; subject: string }, options?: { cause?: unknown }) {
    super(message, "resource_exhausted", options);
    this.limit = args.limit;
    this.max = args.max;
    this.actual = args.actual;
    this.subject = args.subject;
  }
}

/** True for errors user code marked as not worth retrying. */
export function isNonRetryable(error: unknown): boolean {
  return (
    error instanceof NonRetryableError ||
    error instanceof SchemaValidationError ||
    (typeof error === "object" && error !== null && (error as { nonRetryable?: unknown }).nonRetryable === true)
  );
}
