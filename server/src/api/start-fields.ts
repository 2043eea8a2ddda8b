import type { RetryPolicy as PbRetryPolicy, Trigger } from "@aiki/gen/aiki/v1/run_pb";
import { ReferenceConflictPolicy } from "@aiki/gen/aiki/v1/run_pb";
import type { Value } from "@bufbuild/protobuf/wkt";
import { maxTracestateLength, type TraceContextValues, traceparentProblem } from "../domain/trace-context.js";
import type { StartRunCommand } from "../engine/start-run.js";
import type { JsonValue } from "../store/json.js";
import { retryPolicyFromPb } from "./run-mapping.js";
import type { Violations } from "./validation.js";

/** The fields StartRun and StartChildRun share. */
export interface StartFieldsRequest {
  workflowName: string;
  workflowVersionId: string;
  input?: Value | undefined;
  referenceId: string;
  conflictPolicy: ReferenceConflictPolicy;
  shard: string;
  trigger?: Trigger | undefined;
  retry?: PbRetryPolicy | undefined;
  tags: { [key: string]: string };
  traceContext?: { traceparent: string; tracestate: string } | undefined;
}

export type StartFields = Pick<
  StartRunCommand,
  "workflowName" | "workflowVersionId" | "input" | "referenceId" | "conflictPolicy" | "shard" | "trigger" | "retryPolicy" | "tags" | "traceContext"
>;

export function parseStartFields(v: Violations, req: StartFieldsRequest): StartFields {
  v.identifier("workflow_name", req.workflowName, true);
  v.identifier("workflow_version_id", req.workflowVersionId, true);
  v.identifier("reference_id", req.referenceId, false);
  v.identifier("shard", req.shard, false);
  const input = v.payload("input", req.input);
  const retryPolicy = retryPolicyFromPb(v, "retry", req.retry);
  if (!Object.values(ReferenceConflictPolicy).includes(req.conflictPolicy)) v.add("conflict_policy", `unknown policy ${req.conflictPolicy}`);
  let trigger: StartRunCommand["trigger"];
  const when = req.trigger?.when;
  if (req.trigger && when?.case === undefined) v.add("trigger.when", "must be delay or start_time");
  if (when?.case === "delay") {
    const delayMs = v.durationMs("trigger.delay", when.value);
    if (delayMs !== undefined) trigger = { delayMs };
  } else if (when?.case === "startTime") {
    const startTime = v.timestamp("trigger.start_time", when.value);
    if (startTime) trigger = { startTime };
  }
  const traceContext = parseTraceContext(v, req.traceContext);
  return {
    workflowName: req.workflowName,
    workflowVersionId: req.workflowVersionId,
    input,
    referenceId: req.referenceId || undefined,
    conflictPolicy: req.conflictPolicy === ReferenceConflictPolicy.RETURN_EXISTING ? "return_existing" : "error",
    shard: req.shard,
    trigger,
    retryPolicy: retryPolicy as JsonValue | undefined,
    tags: v.tags("tags", req.tags),
    traceContext,
  };
}

/** The request's trace_context field; a given but malformed one is refused, not dropped. */
function parseTraceContext(v: Violations, field: StartFieldsRequest["traceContext"]): TraceContextValues | undefined {
  if (!field) return undefined;
  const problem = traceparentProblem(field.traceparent);
  if (problem) v.add("trace_context.traceparent", problem);
  if (field.tracestate.length > maxTracestateLength) v.add("trace_context.tracestate", `must be at most ${maxTracestateLength} characters`);
  else v.text("trace_context.tracestate", field.tracestate);
  return problem ? undefined : { traceparent: field.traceparent, tracestate: field.tracestate || undefined };
}
