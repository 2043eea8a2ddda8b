import { Code, ConnectError } from "@connectrpc/connect";
import {
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
} from "@aiki/gen/aiki/v1/error_details_pb";
import { ScheduleStatus } from "@aiki/gen/aiki/v1/schedule_service_pb";
import {
  AikiError,
  AikiRpcError,
  InvalidArgumentError,
  InvalidTransitionError,
  LeaseLostError,
  LimitExceededError,
  PermissionDeniedError,
  type RpcCode,
  RunNotFoundError,
  ScheduleConflictError,
  ScheduleNotFoundError,
  ScheduleStateError,
  WorkflowRunConflictError,
} from "./errors.js";
import { runStatusFromPb } from "./run-status.js";

const codeNames: Record<Code, RpcCode> = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out_of_range",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data_loss",
  [Code.Unauthenticated]: "unauthenticated",
};

/**
 * The one place where wire errors become SDK errors: a ConnectError with a typed detail becomes
 * the matching typed error, any other ConnectError an AikiRpcError with its code; the
 * ConnectError stays reachable as `cause`. Errors that are not RPC errors pass through.
 */
export function translateRpcError(error: unknown): unknown {
  if (error instanceof AikiError) return error;
  if (!(error instanceof ConnectError)) return error;
  const message = error.rawMessage || error.message;
  const options = { cause: error };
  const code = codeNames[error.code] ?? "unknown";

  switch (error.code) {
    case Code.InvalidArgument: {
      const [detail] = error.findDetails(BadRequestDetailSchema);
      const violations = detail?.fieldViolations.map((v) => ({ field: v.field, description: v.description })) ?? [];
      return new InvalidArgumentError(message, violations, options);
    }
    case Code.NotFound: {
      const [schedule] = error.findDetails(ScheduleNotFoundDetailSchema);
      if (schedule) return new ScheduleNotFoundError(message, schedule.scheduleId, options);
      const [detail] = error.findDetails(RunNotFoundDetailSchema);
      if (!detail) break;
      const ref = detail.reference;
      return new RunNotFoundError(
        message,
        {
          runId: detail.runId || undefined,
          reference: ref ? { workflowName: ref.workflowName, versionId: ref.workflowVersionId, referenceId: ref.referenceId } : undefined,
        },
        options,
      );
    }
    case Code.FailedPrecondition: {
      const [lost] = error.findDetails(LeaseLostDetailSchema);
      if (lost) return new LeaseLostError(message, { runId: lost.runId, currentStatus: runStatusFromPb(lost.currentStatus) }, options);
      const [schedule] = error.findDetails(ScheduleStateDetailSchema);
      if (schedule && (schedule.action === "pause" || schedule.action === "resume")) {
        const currentStatus = schedule.currentStatus === ScheduleStatus.ACTIVE ? "active" : "paused";
        return new ScheduleStateError(message, { scheduleId: schedule.scheduleId, action: schedule.action, currentStatus }, options);
      }
      const [detail] = error.findDetails(InvalidTransitionDetailSchema);
      if (!detail) break;
      return new InvalidTransitionError(
        message,
        { runId: detail.runId, currentStatus: runStatusFromPb(detail.currentStatus), action: detail.action, revision: detail.revision },
        options,
      );
    }
    case Code.AlreadyExists: {
      const [schedule] = error.findDetails(ScheduleConflictDetailSchema);
      if (schedule)
        return new ScheduleConflictError(message, { scheduleName: schedule.scheduleName, existingScheduleId: schedule.existingScheduleId }, options);
      const [detail] = error.findDetails(RunConflictDetailSchema);
      if (!detail) break;
      const byRequest = detail.kind === RunConflictDetail_Kind.REQUEST_ID;
      return new WorkflowRunConflictError(
        message,
        {
          existingRunId: detail.existingRunId,
          referenceId: byRequest ? undefined : detail.referenceId || undefined,
          requestId: byRequest ? detail.requestId || undefined : undefined,
        },
        options,
      );
    }
    case Code.PermissionDenied: {
      const [detail] = error.findDetails(PermissionDeniedDetailSchema);
      if (!detail) break;
      return new PermissionDeniedError(message, { requiredScope: detail.requiredScope, method: detail.method }, options);
    }
    case Code.ResourceExhausted: {
      const [detail] = error.findDetails(LimitExceededDetailSchema);
      if (!detail) break;
      return new LimitExceededError(message, { limit: detail.limit, max: Number(detail.max), actual: Number(detail.actual), subject: detail.subject }, options);
    }
  }
  return new AikiRpcError(message, code, options);
}

/**
 * A call refused on a session (a worker's or a client's), as the ConnectError its unary RPC
 * would have thrown: the same code, message and typed details, for translateRpcError.
 */
export function callErrorToConnectError(error: { code: number; message: string; details: readonly { typeUrl: string; value: Uint8Array }[] }): ConnectError {
  const connectError = new ConnectError(error.message, error.code in Code ? (error.code as Code) : Code.Unknown);
  for (const detail of error.details) {
    connectError.details.push({ type: detail.typeUrl.slice(detail.typeUrl.lastIndexOf("/") + 1), value: detail.value });
  }
  return connectError;
}

/** The RPC code of an error from a client call, translated or not; undefined for other errors. */
export function rpcCodeOf(error: unknown): RpcCode | undefined {
  if (error instanceof AikiRpcError) return error.code;
  if (error instanceof ConnectError) return codeNames[error.code];
  return undefined;
}

/**
 * Errors worth trying again after a pause: the server or the network is having a moment. A
 * `canceled` call counts too unless the caller's own `signal` cancelled it: a server dying
 * mid-call resets its HTTP/2 streams, which clients see as CANCEL.
 */
export function isTransientRpcError(error: unknown, signal?: AbortSignal): boolean {
  const code = rpcCodeOf(error);
  if (code === "canceled") return !signal?.aborted;
  return code === "unavailable" || code === "aborted" || code === "resource_exhausted" || code === "deadline_exceeded";
}
