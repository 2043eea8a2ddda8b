import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestDetailSchema,
  InvalidTransitionDetailSchema,
  PermissionDeniedDetailSchema,
  RunConflictDetail_Kind,
  RunConflictDetailSchema,
  RunNotFoundDetailSchema,
} from "@aiki/gen/aiki/v1/error_details_pb";
import { CliError } from "./cli-error.js";
import { statusName } from "./run-statuses.js";

/**
 * An RPC failure as one line a person can act on, from the error's code and typed details
 * (aiki.v1 error_details.proto) rather than its message where possible.
 */
export function rpcErrorToCliError(error: unknown, url: string): CliError | undefined {
  if (!(error instanceof ConnectError)) return undefined;
  const notFound = error.findDetails(RunNotFoundDetailSchema)[0];
  if (error.code === Code.NotFound && notFound) {
    if (notFound.runId) return new CliError(`run ${notFound.runId} not found`);
    const ref = notFound.reference;
    if (ref) return new CliError(`no run with reference id "${ref.referenceId}" in ${ref.workflowName} ${ref.workflowVersionId}`);
  }
  const badRequest = error.findDetails(BadRequestDetailSchema)[0];
  if (error.code === Code.InvalidArgument && badRequest && badRequest.fieldViolations.length > 0) {
    return new CliError(`invalid request: ${badRequest.fieldViolations.map((v) => `${v.field}: ${v.description}`).join("; ")}`);
  }
  const transition = error.findDetails(InvalidTransitionDetailSchema)[0];
  if (error.code === Code.FailedPrecondition && transition) {
    const action = transition.action.replaceAll("_", " ");
    return new CliError(`cannot ${action} run ${transition.runId}: it is ${statusName(transition.currentStatus)}`);
  }
  const conflict = error.findDetails(RunConflictDetailSchema)[0];
  if (error.code === Code.AlreadyExists && conflict) {
    const what = conflict.kind === RunConflictDetail_Kind.REQUEST_ID ? `request id "${conflict.requestId}"` : `reference id "${conflict.referenceId}"`;
    return new CliError(`${what} already belongs to run ${conflict.existingRunId} (with a different request)`);
  }
  if (error.code === Code.Unauthenticated) return new CliError(`${error.rawMessage} (set --api-key or AIKI_API_KEY)`);
  const denied = error.findDetails(PermissionDeniedDetailSchema)[0];
  if (error.code === Code.PermissionDenied && denied) {
    return new CliError(`the API key may not call ${denied.method}: it needs scope "${denied.requiredScope}" (or "admin")`);
  }
  if (error.code === Code.Unavailable) {
    return new CliError(`the Aiki server at ${url} is unavailable: ${error.rawMessage} (is it running? set --url or AIKI_URL)`);
  }
  if (error.code === Code.DeadlineExceeded) return new CliError(`the Aiki server at ${url} did not answer in time: ${error.rawMessage}`);
  return new CliError(`${Code[error.code]}: ${error.rawMessage}`);
}

/** Awaits a call about one run; a refusal of its id names the id as given. */
export async function forRun<T>(runId: string, call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    const violation =
      error instanceof ConnectError && error.code === Code.InvalidArgument
        ? error.findDetails(BadRequestDetailSchema)[0]?.fieldViolations.find((v) => v.field === "run_id" || v.field.endsWith(".run_id"))
        : undefined;
    if (violation) throw new CliError(`invalid run id "${runId}": ${violation.description}`);
    throw error;
  }
}
