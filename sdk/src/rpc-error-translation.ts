import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestDetailSchema,
  InvalidTransitionDetailSchema,
  LeaseLostDetailSchema,
  RunConflictDetail_Kind,
  RunConflictDetailSchema,
  RunNotFoundDetailSchema,
} from "@aiki/gen/aiki/v1/error_details_pb";
import {
  AikiError,
  AikiRpcError,
  InvalidArgumentError,
  InvalidTransitionError,
  LeaseLostError,
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
      const [detail] = error.findDetails(InvalidTransitionDetailSchema);
      if (!detail) break;
      return new InvalidTransitionError(
        message,
        { runId: detail.runId, currentStatus: runStatusFromPb(detail.currentStatus), action: detail.action, revision: detail.revision },
        options,
      );
    }
    case Code.AlreadyExists: {
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
  }
  return new AikiRpcError(message, code, options);
}

/** The ScheduleService call an error came from, for translateScheduleRpcError. */
export type ScheduleCall =
  | { action: "activate"; scheduleName: string }
  | { action: "get" | "delete"; scheduleId: string }
  | { action: "pause" | "resume"; scheduleId: string };

/**
 * translateRpcError for ScheduleService calls. The server sends schedule errors without typed
 * details (NOT_FOUND, ALREADY_EXISTS and FAILED_PRECONDITION carry only a message), so the call
 * itself says what they mean: NOT_FOUND → ScheduleNotFoundError, ALREADY_EXISTS on activation →
 * ScheduleConflictError, FAILED_PRECONDITION on pause/resume → ScheduleStateError.
 */
export function translateScheduleRpcError(error: unknown, call: ScheduleCall): unknown {
  const translated = translateRpcError(error);
  // Only the generic translation is refined; typed errors (InvalidArgumentError, ...) stay.
  if (!(translated instanceof AikiRpcError) || translated.constructor !== AikiRpcError) return translated;
  const options = { cause: translated.cause ?? error };
  switch (translated.code) {
    case "not_found":
      if (call.action !== "activate") return new ScheduleNotFoundError(translated.message, call.scheduleId, options);
      break;
    case "already_exists":
      if (call.action === "activate") return new ScheduleConflictError(translated.message, call.scheduleName, options);
      break;
    case "failed_precondition":
      if (call.action === "pause" || call.action === "resume") {
        return new ScheduleStateError(translated.message, { scheduleId: call.scheduleId, action: call.action }, options);
      }
      break;
  }
  return translated;
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
