import { RunFailureCause as PbRunFailureCause, RunStatus as PbRunStatus } from "@aiki/gen/aiki/v1/run_pb";

export type RunStatus =
  | "scheduled"
  | "queued"
  | "running"
  | "paused"
  | "sleeping"
  | "awaiting_event"
  | "awaiting_retry"
  | "awaiting_child_workflow"
  | "completed"
  | "failed"
  | "cancelled";

export type TerminalRunStatus = "completed" | "failed" | "cancelled";

/** Why a run failed. */
export type RunFailureCause = "task" | "handler" | "non_determinism" | "output_schema" | "child_schema";

const statusToPb: Record<RunStatus, PbRunStatus> = {
  scheduled: PbRunStatus.SCHEDULED,
  queued: PbRunStatus.QUEUED,
  running: PbRunStatus.RUNNING,
  paused: PbRunStatus.PAUSED,
  sleeping: PbRunStatus.SLEEPING,
  awaiting_event: PbRunStatus.AWAITING_EVENT,
  awaiting_retry: PbRunStatus.AWAITING_RETRY,
  awaiting_child_workflow: PbRunStatus.AWAITING_CHILD_WORKFLOW,
  completed: PbRunStatus.COMPLETED,
  failed: PbRunStatus.FAILED,
  cancelled: PbRunStatus.CANCELLED,
};
const statusFromPb = new Map<PbRunStatus, RunStatus>(Object.entries(statusToPb).map(([k, v]) => [v, k as RunStatus]));

const causeToPb: Record<RunFailureCause, PbRunFailureCause> = {
  task: PbRunFailureCause.TASK,
  handler: PbRunFailureCause.HANDLER,
  non_determinism: PbRunFailureCause.NON_DETERMINISM,
  output_schema: PbRunFailureCause.OUTPUT_SCHEMA,
  child_schema: PbRunFailureCause.CHILD_SCHEMA,
};
const causeFromPb = new Map<PbRunFailureCause, RunFailureCause>(Object.entries(causeToPb).map(([k, v]) => [v, k as RunFailureCause]));

export function runStatusToPb(status: RunStatus): PbRunStatus {
  const pb = statusToPb[status];
  if (pb === undefined) throw new RangeError(`unknown run status ${JSON.stringify(status)} (use one of ${Object.keys(statusToPb).join(", ")})`);
  return pb;
}

/** undefined for UNSPECIFIED or a value this SDK does not know (a newer server). */
export function runStatusFromPb(status: PbRunStatus): RunStatus | undefined {
  return statusFromPb.get(status);
}

export function isTerminalStatus(status: RunStatus | undefined): status is TerminalRunStatus {
  return status === "completed" || status === "failed" || status === "cancelled";
}

export function runFailureCauseToPb(cause: RunFailureCause): PbRunFailureCause {
  return causeToPb[cause];
}

export function runFailureCauseFromPb(cause: PbRunFailureCause): RunFailureCause | undefined {
  return causeFromPb.get(cause);
}
