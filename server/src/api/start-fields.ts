import type { RetryPolicy as PbRetryPolicy, Trigger } from "@aiki/gen/aiki/v1/run_pb";
import { ReferenceConflictPolicy } from "@aiki/gen/aiki/v1/run_pb";
import type { Value } from "@bufbuild/protobuf/wkt";
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
}

export type StartFields = Pick<
  StartRunCommand,
  "workflowName" | "workflowVersionId" | "input" | "referenceId" | "conflictPolicy" | "shard" | "trigger" | "retryPolicy" | "tags"
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
  };
}
