import { create, fromJson, type JsonValue as PbJson } from "@bufbuild/protobuf";
import { jsonToPbValue } from "@aiki/common/pb-json-value";
import { durationFromMs, type Timestamp, timestampFromDate, type Value } from "@bufbuild/protobuf/wkt";
import { FailureSchema } from "@aiki/gen/aiki/v1/payload_pb";
import {
  type RetryPolicy as PbRetryPolicy,
  RetryPolicySchema,
  type Run,
  RerunStepSchema,
  type RerunStep,
  RunFailureCause,
  RunSchema,
  RunStatus as PbRunStatus,
  type RunTransition,
  RunTransitionSchema,
} from "@aiki/gen/aiki/v1/run_pb";
import type { RetryPolicy } from "../domain/retry-policy.js";
import type { RunStatus } from "../domain/run-status.js";
import type { JsonValue } from "../store/json.js";
import type { RunTransitionRow } from "../store/run-transitions.table.js";
import type { RerunFromStep, RunRow } from "../store/runs.table.js";
import type { Violations } from "./validation.js";

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
export const failureCauseToPb: Record<NonNullable<RunRow["failure_cause"]>, RunFailureCause> = {
  task: RunFailureCause.TASK,
  handler: RunFailureCause.HANDLER,
  non_determinism: RunFailureCause.NON_DETERMINISM,
  output_schema: RunFailureCause.OUTPUT_SCHEMA,
  child_schema: RunFailureCause.CHILD_SCHEMA,
};
export const failureCauseFromPb = new Map(Object.entries(failureCauseToPb).map(([k, v]) => [v, k as NonNullable<RunRow["failure_cause"]>]));

const statusFromPb = new Map(Object.entries(statusToPb).map(([k, v]) => [v, k as RunStatus]));

export function runStatusToPb(status: RunStatus): PbRunStatus {
  return statusToPb[status];
}

/** undefined for UNSPECIFIED; a violation for a number outside the enum. */
export function runStatusFromPb(v: Violations, field: string, value: PbRunStatus): RunStatus | undefined {
  if (value === PbRunStatus.UNSPECIFIED) return undefined;
  const status = statusFromPb.get(value);
  if (!status) v.add(field, `unknown run status ${value}`);
  return status;
}

export function jsonToValue(json: JsonValue | null | undefined): Value | undefined {
  return json === undefined ? undefined : jsonToPbValue(json as PbJson);
}

export function retryPolicyFromPb(v: Violations, field: string, pb: PbRetryPolicy | undefined): RetryPolicy | undefined {
  if (!pb) return undefined;
  const s = pb.strategy;
  const attempts = (value: number) => {
    if (!Number.isInteger(value) || value < 1) v.add(`${field}.${s.case}.max_attempts`, "must be at least 1");
    return value;
  };
  switch (s.case) {
    case undefined:
      v.add(`${field}.strategy`, "must be one of never, fixed, exponential, jittered");
      return undefined;
    case "never":
      return { type: "never" };
    case "fixed":
      return {
        type: "fixed",
        maxAttempts: attempts(s.value.maxAttempts),
        delayMs: v.durationMs(`${field}.fixed.delay`, s.value.delay) ?? 0,
      };
    case "exponential":
    case "jittered": {
      const baseDelayMs = v.durationMs(`${field}.${s.case}.base_delay`, s.value.baseDelay) ?? 0;
      const maxDelayMs = v.durationMs(`${field}.${s.case}.max_delay`, s.value.maxDelay);
      if (maxDelayMs !== undefined && maxDelayMs < baseDelayMs) v.add(`${field}.${s.case}.max_delay`, "must not be less than base_delay");
      const cap = maxDelayMs === undefined ? {} : { maxDelayMs };
      if (s.case === "exponential") {
        const factor = s.value.factor === 0 ? 2 : s.value.factor;
        if (!(factor >= 1)) v.add(`${field}.exponential.factor`, "must be at least 1");
        return { type: "exponential", maxAttempts: attempts(s.value.maxAttempts), baseDelayMs, factor, ...cap };
      }
      const jitterFactor = s.value.jitterFactor === 0 ? 0.5 : s.value.jitterFactor;
      if (!(jitterFactor >= 0 && jitterFactor <= 1)) v.add(`${field}.jittered.jitter_factor`, "must be between 0 and 1");
      return { type: "jittered", maxAttempts: attempts(s.value.maxAttempts), baseDelayMs, jitterFactor, ...cap };
    }
  }
}

export function retryPolicyToPb(policy: RetryPolicy | null): PbRetryPolicy | undefined {
  if (!policy) return undefined;
  const max = (ms: number | undefined) => (ms === undefined ? undefined : durationFromMs(ms));
  switch (policy.type) {
    case "never":
      return create(RetryPolicySchema, { strategy: { case: "never", value: {} } });
    case "fixed":
      return create(RetryPolicySchema, {
        strategy: { case: "fixed", value: { maxAttempts: policy.maxAttempts, delay: durationFromMs(policy.delayMs) } },
      });
    case "exponential":
      return create(RetryPolicySchema, {
        strategy: {
          case: "exponential",
          value: { maxAttempts: policy.maxAttempts, baseDelay: durationFromMs(policy.baseDelayMs), factor: policy.factor, maxDelay: max(policy.maxDelayMs) },
        },
      });
    case "jittered":
      return create(RetryPolicySchema, {
        strategy: {
          case: "jittered",
          value: {
            maxAttempts: policy.maxAttempts,
            baseDelay: durationFromMs(policy.baseDelayMs),
            jitterFactor: policy.jitterFactor,
            maxDelay: max(policy.maxDelayMs),
          },
        },
      });
  }
}

const ts = (d: Date | null): Timestamp | undefined => (d ? timestampFromDate(d) : undefined);

export function runToPb(row: RunRow): Run {
  return create(RunSchema, {
    id: row.id,
    namespace: row.namespace,
    workflowName: row.workflow_name,
    workflowVersionId: row.workflow_version_id,
    status: runStatusToPb(row.status),
    revision: row.revision,
    input: jsonToValue(row.input),
    output: row.status === "completed" ? jsonToValue(row.output) : undefined,
    failure: row.failure ? fromJson(FailureSchema, row.failure as PbJson, { ignoreUnknownFields: true }) : undefined,
    failureCause: row.failure_cause ? failureCauseToPb[row.failure_cause] : RunFailureCause.UNSPECIFIED,
    statusReason: row.status_reason ?? "",
    referenceId: row.reference_id ?? "",
    shard: row.shard,
    parentRunId: row.parent_run_id ?? "",
    retry: retryPolicyToPb(row.retry_policy as RetryPolicy | null),
    attempt: row.attempt,
    createTime: ts(row.create_time),
    updateTime: ts(row.update_time),
    startTime: ts(row.start_time),
    endTime: ts(row.end_time),
    wakeTime: ts(row.wake_time),
    leaseWorkerId: row.lease_worker_id ?? "",
    leaseExpireTime: ts(row.lease_expires_time),
    retainUntil: ts(row.retain_until),
    retainForever: row.retain_forever,
    rerunOf: row.rerun_of ?? "",
    fromStep: row.rerun_from_step ? rerunStepToPb(row.rerun_from_step) : undefined,
    tags: row.tags ?? {},
    traceContext: row.traceparent ? { traceparent: row.traceparent, tracestate: row.tracestate ?? "" } : undefined,
  });
}

export function rerunStepToPb(step: RerunFromStep): RerunStep {
  const lastFailure = step.lastFailure === true;
  switch (step.kind) {
    case "start":
      return create(RerunStepSchema, { point: { case: "start", value: {} }, lastFailure });
    case "history_end":
      return create(RerunStepSchema, { point: { case: "historyEnd", value: {} }, lastFailure });
    case "task":
      return create(RerunStepSchema, { point: { case: "task", value: { address: step.address, sequence: step.sequence } }, lastFailure });
  }
}

export function transitionToPb(row: RunTransitionRow): RunTransition {
  return create(RunTransitionSchema, {
    revision: row.revision,
    fromStatus: row.from_status ? runStatusToPb(row.from_status) : PbRunStatus.UNSPECIFIED,
    toStatus: runStatusToPb(row.to_status),
    actor: row.actor,
    reason: row.reason ?? "",
    time: timestampFromDate(row.time),
  });
}
