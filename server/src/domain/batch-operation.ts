import type { JsonValue } from "../store/json.js";
import { AikiDomainError } from "./errors.js";

/**
 * What a batch operation does to each run it selects. Each kind goes through the same guarded
 * transition as its single-run RPC; a rerun starts a new run from each as RerunRun does.
 */
export type BatchAction =
  | { type: "cancel"; reason?: string | undefined }
  | { type: "pause"; reason?: string | undefined }
  | { type: "resume"; reason?: string | undefined }
  | { type: "awake" }
  | { type: "send_event"; eventName: string; data?: JsonValue | undefined; referenceId?: string | undefined }
  | { type: "rerun"; from: "start" | "last_failure"; workflowVersionId?: string | undefined };

export type BatchActionType = BatchAction["type"];

export type BatchOperationStatus = "running" | "completed" | "cancelled" | "failed";

/** One run the action failed on for a reason other than its state. */
export interface BatchFailure {
  runId: string;
  reason: string;
}

/** The first failures an operation keeps, with their reasons; later ones are only counted. */
export const maxKeptBatchFailures = 100;

export class BatchOperationNotFoundError extends AikiDomainError {
  readonly kind = "batch_operation_not_found";
  constructor(readonly operationId: string) {
    super(`batch operation ${operationId} not found`);
    this.name = "BatchOperationNotFoundError";
  }
}

/** The request id started another operation in this namespace. */
export class BatchOperationConflictError extends AikiDomainError {
  readonly kind = "batch_operation_conflict";
  constructor(
    readonly requestId: string,
    readonly existingOperationId: string,
  ) {
    super(`request_id "${requestId}" already started batch operation ${existingOperationId} with a different request`);
    this.name = "BatchOperationConflictError";
  }
}

/** This replica no longer holds the operation (its lease passed to another, or it was cancelled). */
export class BatchLeaseLostError extends AikiDomainError {
  readonly kind = "batch_lease_lost";
  constructor(readonly operationId: string) {
    super(`batch operation ${operationId}: lease lost or operation no longer running`);
    this.name = "BatchLeaseLostError";
  }
}
