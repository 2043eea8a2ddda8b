import {
  InvalidArgumentError,
  InvalidTransitionError,
  LimitExceededError,
  PermissionDeniedError,
  RunNotFoundError,
  ScheduleConflictError,
  ScheduleNotFoundError,
  ScheduleStateError,
  WorkflowRunConflictError,
} from "@aiki/sdk";
import { translateRpcError } from "@aiki/sdk/internal";
import { Code, ConnectError } from "@connectrpc/connect";
import { CliError } from "./cli-error.js";

/**
 * An RPC failure as one line a person can act on. The typed details are decoded by the SDK's one
 * translation (translateRpcError), so the CLI reads fields, never messages or detail bytes.
 */
export function rpcErrorToCliError(error: unknown, url: string): CliError | undefined {
  if (!(error instanceof ConnectError)) return undefined;
  const e = translateRpcError(error);
  if (e instanceof RunNotFoundError) {
    if (e.runId) return new CliError(`run ${e.runId} not found`);
    if (e.reference) return new CliError(`no run with reference id "${e.reference.referenceId}" in ${e.reference.workflowName} ${e.reference.versionId}`);
  }
  if (e instanceof InvalidArgumentError && e.fieldViolations.length > 0) {
    return new CliError(`invalid request: ${e.fieldViolations.map((v) => `${v.field}: ${v.description}`).join("; ")}`);
  }
  if (e instanceof InvalidTransitionError) {
    return new CliError(`cannot ${e.action.replaceAll("_", " ")} run ${e.runId}: it is ${e.currentStatus ?? "in a status this CLI does not know"}`);
  }
  if (e instanceof WorkflowRunConflictError) {
    const what = e.requestId !== undefined ? `request id "${e.requestId}"` : `reference id "${e.referenceId ?? ""}"`;
    return new CliError(`${what} already belongs to run ${e.existingRunId} (with a different request)`);
  }
  if (e instanceof ScheduleNotFoundError) return new CliError(`schedule ${e.scheduleId} not found`);
  if (e instanceof ScheduleConflictError) {
    return new CliError(
      `schedule name "${e.scheduleName}" already holds schedule ${e.existingScheduleId} with another definition (delete it or use another name)`,
    );
  }
  if (e instanceof ScheduleStateError) return new CliError(`cannot ${e.action} schedule ${e.scheduleId}: it is ${e.currentStatus}`);
  if (e instanceof PermissionDeniedError) {
    return new CliError(`the API key may not call ${e.method}: it needs scope "${e.requiredScope}" (or "admin")`);
  }
  if (e instanceof LimitExceededError) {
    const actual = e.actual > 0 ? `${e.actual}, ` : "";
    return new CliError(`${error.rawMessage} (${e.subject}: ${actual}limit ${e.limit}=${e.max})`);
  }
  if (error.code === Code.Unauthenticated) return new CliError(`${error.rawMessage} (set --api-key or AIKI_API_KEY)`);
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
    const translated = error instanceof ConnectError ? translateRpcError(error) : undefined;
    const violation =
      translated instanceof InvalidArgumentError ? translated.fieldViolations.find((v) => v.field === "run_id" || v.field.endsWith(".run_id")) : undefined;
    if (violation) throw new CliError(`invalid run id "${runId}": ${violation.description}`);
    throw error;
  }
}
