import type { RunStatus } from "./run-status.js";

/**
 * Domain errors carry the fields a caller can act on. The API layer translates them to RPC
 * codes in one place (api/errors.ts); nothing else inspects messages.
 */
export abstract class AikiDomainError extends Error {
  abstract readonly kind: string;
}

export interface FieldViolation {
  field: string;
  description: string;
}

/** A configured limit a request passed: its variable name, its value, and what was asked. */
export interface LimitBreach {
  limit: string;
  max: number;
  actual: number;
  /** The field or resource, e.g. "input" or "open_streams". */
  subject: string;
}

/**
 * A replay key a worker sent (a task address, a child key) that is not the one the contract
 * derives from the request's other fields (Addresses, in proto/aiki/v1/history.proto).
 */
export interface AddressMismatch {
  field: string;
  expected: string;
  got: string;
}

/**
 * The request is malformed or incomplete; each violation names a field. `limits` are the
 * configured limits among those violations (a payload too large, a page too long), `mismatches`
 * the replay keys among them that differ from the ones the server computed.
 */
export class InvalidArgumentError extends AikiDomainError {
  readonly kind = "invalid_argument";
  constructor(
    readonly violations: readonly FieldViolation[],
    readonly limits: readonly LimitBreach[] = [],
    readonly mismatches: readonly AddressMismatch[] = [],
  ) {
    super(violations.map((v) => `${v.field}: ${v.description}`).join("; "));
    this.name = "InvalidArgumentError";
  }
}

export interface RunReferenceKey {
  workflowName: string;
  workflowVersionId: string;
  referenceId: string;
}

export class RunNotFoundError extends AikiDomainError {
  readonly kind = "run_not_found";
  constructor(readonly target: { runId: string } | { reference: RunReferenceKey }) {
    super(
      "runId" in target
        ? `run ${target.runId} not found`
        : `no run of ${target.reference.workflowName}@${target.reference.workflowVersionId} has reference id "${target.reference.referenceId}"`,
    );
    this.name = "RunNotFoundError";
  }
}

/** The run's current state forbids the requested action. */
export class InvalidTransitionError extends AikiDomainError {
  readonly kind = "invalid_transition";
  constructor(
    readonly runId: string,
    readonly currentStatus: RunStatus,
    readonly action: string,
    readonly revision: number,
  ) {
    super(`cannot ${action} run ${runId}: it is ${currentStatus}`);
    this.name = "InvalidTransitionError";
  }
}

/** A start conflicts with an existing run (reference id with another input, or a reused request id). */
export class RunConflictError extends AikiDomainError {
  readonly kind = "run_conflict";
  constructor(
    readonly conflict: "reference_id" | "request_id",
    readonly existingRunId: string,
    readonly key: string,
  ) {
    super(
      conflict === "reference_id"
        ? `reference id "${key}" already belongs to run ${existingRunId}, started with a different input`
        : `request id "${key}" was already used for a different start request (run ${existingRunId})`,
    );
    this.name = "RunConflictError";
  }
}

/** The caller no longer holds the run's lease; it must stop executing the run. */
export class LeaseLostError extends AikiDomainError {
  readonly kind = "lease_lost";
  constructor(
    readonly runId: string,
    readonly currentStatus: RunStatus | undefined,
  ) {
    super(`lease on run ${runId} is no longer held${currentStatus ? ` (run is ${currentStatus})` : ""}`);
    this.name = "LeaseLostError";
  }
}

/** Optimistic concurrency lost repeatedly against concurrent writers; safe to retry. */
export class ContentionError extends AikiDomainError {
  readonly kind = "contention";
  constructor(readonly runId: string) {
    super(`run ${runId} changed concurrently too many times; try again`);
    this.name = "ContentionError";
  }
}

/** A watch's client fell so far behind that its pending changes hit the cap; it lists again. */
export class WatchFellBehindError extends AikiDomainError {
  readonly kind = "watch_fell_behind";
  constructor(readonly maxPending: number) {
    super(`more than ${maxPending} changes waited for this watch's client to read them; list again and watch anew`);
    this.name = "WatchFellBehindError";
  }
}

/** A task write names an attempt that is no longer the current one; nothing was written. */
export class StaleTaskAttemptError extends AikiDomainError {
  readonly kind = "stale_task_attempt";
  constructor(
    readonly taskId: string,
    readonly attempt: number,
    readonly currentStatus: string | undefined,
    readonly currentAttempts: number | undefined,
  ) {
    super(
      currentStatus === undefined
        ? `task ${taskId} not found`
        : `task ${taskId} attempt ${attempt} is stale: the task is ${currentStatus} at attempt ${currentAttempts}`,
    );
    this.name = "StaleTaskAttemptError";
  }
}

/** The caller holds as much of a shared resource (streams, held waits) as a limit allows; retry later. */
export class LimitExceededError extends AikiDomainError {
  readonly kind = "limit_exceeded";
  constructor(readonly breach: LimitBreach) {
    super(`${breach.subject}: at most ${breach.max} (${breach.limit}); release some and try again`);
    this.name = "LimitExceededError";
  }
}
