import { BatchOperationConflictError, BatchOperationNotFoundError } from "../domain/batch-operation.js";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  AddressMismatchDetailSchema,
  BadRequestDetailSchema,
  InvalidTransitionDetailSchema,
  LeaseLostDetailSchema,
  LimitExceededDetailSchema,
  PermissionDeniedDetailSchema,
  RunConflictDetail_Kind,
  RunConflictDetailSchema,
  RunNotFoundDetailSchema,
  ScheduleConflictDetailSchema,
  ScheduleNotFoundDetailSchema,
  ScheduleStateDetailSchema,
  StaleTaskAttemptDetailSchema,
} from "@aiki/gen/aiki/v1/error_details_pb";
import { RunReferenceSchema, RunStatus as PbRunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { ScheduleStatus as PbScheduleStatus } from "@aiki/gen/aiki/v1/schedule_service_pb";
import type { Logger } from "pino";
import {
  AikiDomainError,
  ContentionError,
  InvalidArgumentError,
  InvalidTransitionError,
  LeaseLostError,
  type LimitBreach,
  LimitExceededError,
  RunConflictError,
  RunNotFoundError,
  StaleTaskAttemptError,
  WatchFellBehindError,
} from "../domain/errors.js";
import {
  ApiKeyNotFoundError,
  NamespaceExistsError,
  NamespaceNotEmptyError,
  NamespaceNotFoundError,
  PermissionDeniedError,
  UnauthenticatedError,
} from "../domain/auth-errors.js";
import { ScheduleConflictError, ScheduleNotFoundError, ScheduleStateError } from "../domain/schedule-errors.js";
import { isConnectionError } from "../store/pg-errors.js";
import { taskStatusToPb } from "./history-mapping.js";
import { runStatusToPb } from "./run-mapping.js";

/**
 * The one place where failures become RPC errors: domain errors get their code and a typed
 * detail; an unreachable store is UNAVAILABLE (retryable); anything else is INTERNAL, logged with
 * its stack, and answered without internals.
 */
export function toConnectError(error: unknown, logger: Logger): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof AikiDomainError) return domainToConnect(error);
  if (isConnectionError(error)) {
    logger.warn({ err: error }, "store unavailable");
    return new ConnectError("the store is unavailable; try again", Code.Unavailable);
  }
  logger.error({ err: error }, "internal error");
  return new ConnectError("internal error", Code.Internal);
}

function domainToConnect(error: AikiDomainError): ConnectError {
  if (error instanceof InvalidArgumentError) {
    return new ConnectError(error.message, Code.InvalidArgument, undefined, [
      { desc: BadRequestDetailSchema, value: { fieldViolations: error.violations.map((v) => ({ ...v })) } },
      ...error.limits.map(limitDetail),
      ...error.mismatches.map((m) => ({ desc: AddressMismatchDetailSchema, value: { ...m } })),
    ]);
  }
  if (error instanceof LimitExceededError) return new ConnectError(error.message, Code.ResourceExhausted, undefined, [limitDetail(error.breach)]);
  if (error instanceof RunNotFoundError) {
    const t = error.target;
    return new ConnectError(error.message, Code.NotFound, undefined, [
      {
        desc: RunNotFoundDetailSchema,
        value: "runId" in t ? { runId: t.runId } : { reference: create(RunReferenceSchema, t.reference) },
      },
    ]);
  }
  if (error instanceof InvalidTransitionError) {
    return new ConnectError(error.message, Code.FailedPrecondition, undefined, [
      {
        desc: InvalidTransitionDetailSchema,
        value: { runId: error.runId, currentStatus: runStatusToPb(error.currentStatus), action: error.action, revision: error.revision },
      },
    ]);
  }
  if (error instanceof RunConflictError) {
    const byReference = error.conflict === "reference_id";
    return new ConnectError(error.message, Code.AlreadyExists, undefined, [
      {
        desc: RunConflictDetailSchema,
        value: {
          kind: byReference ? RunConflictDetail_Kind.REFERENCE_ID : RunConflictDetail_Kind.REQUEST_ID,
          existingRunId: error.existingRunId,
          referenceId: byReference ? error.key : "",
          requestId: byReference ? "" : error.key,
        },
      },
    ]);
  }
  if (error instanceof LeaseLostError) {
    return new ConnectError(error.message, Code.FailedPrecondition, undefined, [
      {
        desc: LeaseLostDetailSchema,
        value: { runId: error.runId, currentStatus: error.currentStatus ? runStatusToPb(error.currentStatus) : PbRunStatus.UNSPECIFIED },
      },
    ]);
  }
  if (error instanceof StaleTaskAttemptError) {
    const found = error.currentStatus !== undefined;
    return new ConnectError(error.message, Code.FailedPrecondition, undefined, [
      {
        desc: StaleTaskAttemptDetailSchema,
        value: {
          taskId: error.taskId,
          attempt: error.attempt,
          found,
          currentStatus: found ? taskStatusToPb(error.currentStatus!) : undefined,
          currentAttempts: error.currentAttempts ?? 0,
        },
      },
    ]);
  }
  if (error instanceof ScheduleNotFoundError) {
    return new ConnectError(error.message, Code.NotFound, undefined, [{ desc: ScheduleNotFoundDetailSchema, value: { scheduleId: error.scheduleId } }]);
  }
  if (error instanceof ScheduleConflictError) {
    return new ConnectError(error.message, Code.AlreadyExists, undefined, [
      { desc: ScheduleConflictDetailSchema, value: { scheduleName: error.scheduleName, existingScheduleId: error.scheduleId } },
    ]);
  }
  if (error instanceof ScheduleStateError) {
    const currentStatus = error.currentStatus === "active" ? PbScheduleStatus.ACTIVE : PbScheduleStatus.PAUSED;
    return new ConnectError(error.message, Code.FailedPrecondition, undefined, [
      { desc: ScheduleStateDetailSchema, value: { scheduleId: error.scheduleId, currentStatus, action: error.action } },
    ]);
  }
  if (error instanceof ContentionError) return new ConnectError(error.message, Code.Aborted);
  if (error instanceof BatchOperationNotFoundError) return new ConnectError(error.message, Code.NotFound);
  if (error instanceof BatchOperationConflictError) return new ConnectError(error.message, Code.AlreadyExists);
  if (error instanceof UnauthenticatedError) return new ConnectError(error.message, Code.Unauthenticated);
  if (error instanceof PermissionDeniedError) {
    return new ConnectError(error.message, Code.PermissionDenied, undefined, [
      { desc: PermissionDeniedDetailSchema, value: { requiredScope: error.requiredScope ?? "", method: error.method } },
    ]);
  }
  if (error instanceof NamespaceNotFoundError || error instanceof ApiKeyNotFoundError) return new ConnectError(error.message, Code.NotFound);
  if (error instanceof NamespaceExistsError) return new ConnectError(error.message, Code.AlreadyExists);
  if (error instanceof NamespaceNotEmptyError) return new ConnectError(error.message, Code.FailedPrecondition);
  if (error instanceof WatchFellBehindError) {
    return new ConnectError(error.message, Code.ResourceExhausted, undefined, [
      { desc: LimitExceededDetailSchema, value: { limit: "watch_pending_changes", max: BigInt(error.maxPending), subject: "pending_changes" } },
    ]);
  }
  return new ConnectError(error.message, Code.Internal);
}

export function limitDetail(b: LimitBreach) {
  return { desc: LimitExceededDetailSchema, value: { limit: b.limit, max: BigInt(b.max), actual: BigInt(b.actual), subject: b.subject } };
}
