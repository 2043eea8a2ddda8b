import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type BatchAction as PbBatchAction,
  BatchActionSchema,
  type BatchOperation,
  BatchOperationSchema,
  BatchOperationStatus as PbStatus,
} from "@aiki/gen/aiki/v1/batch_service_pb";
import { type RunFilter as PbRunFilter, RunFilterSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import type { BatchAction, BatchFailure, BatchOperationStatus } from "../domain/batch-operation.js";
import { filterAsGiven } from "../engine/batch-selection.js";
import type { BatchOperationRow } from "../store/batch-operations.table.js";
import type { RunFilter } from "../store/run-repository.js";
import { jsonToValue, runStatusToPb } from "./run-mapping.js";
import type { Violations } from "./validation.js";

const statusToPb: Record<BatchOperationStatus, PbStatus> = {
  running: PbStatus.RUNNING,
  completed: PbStatus.COMPLETED,
  cancelled: PbStatus.CANCELLED,
  failed: PbStatus.FAILED,
};

export function batchStatusFromPb(v: Violations, field: string, pb: PbStatus): BatchOperationStatus | undefined {
  if (pb === PbStatus.UNSPECIFIED) return undefined;
  const found = (Object.keys(statusToPb) as BatchOperationStatus[]).find((s) => statusToPb[s] === pb);
  if (!found) v.add(field, `unknown batch operation status ${pb}`);
  return found;
}

/** The action of a request; undefined (with a violation) when none or an unknown one is given. */
export function batchActionFromPb(v: Violations, field: string, pb: PbBatchAction | undefined): BatchAction | undefined {
  const a = pb?.action;
  switch (a?.case) {
    case "cancel":
    case "pause":
    case "resume":
      v.text(`${field}.${a.case}.reason`, a.value.reason);
      return { type: a.case, reason: a.value.reason || undefined };
    case "awake":
      return { type: "awake" };
    case "sendEvent": {
      v.identifier(`${field}.send_event.event_name`, a.value.eventName, true);
      v.identifier(`${field}.send_event.reference_id`, a.value.referenceId, false);
      const data = v.payload(`${field}.send_event.data`, a.value.data);
      return { type: "send_event", eventName: a.value.eventName, data, referenceId: a.value.referenceId || undefined };
    }
    case "rerun": {
      const from = a.value.from.case === "start" ? "start" : a.value.from.case === "lastFailure" ? "last_failure" : undefined;
      if (!from) v.add(`${field}.rerun.from`, "is required: one of start, last_failure");
      v.identifier(`${field}.rerun.workflow_version_id`, a.value.workflowVersionId, false);
      return from && { type: "rerun", from, workflowVersionId: a.value.workflowVersionId || undefined };
    }
    default:
      v.add(`${field}.action`, "must be one of cancel, pause, resume, awake, send_event, rerun");
      return undefined;
  }
}

function batchActionToPb(action: BatchAction): PbBatchAction {
  switch (action.type) {
    case "cancel":
    case "pause":
    case "resume":
      return create(BatchActionSchema, { action: { case: action.type, value: { reason: action.reason ?? "" } } });
    case "awake":
      return create(BatchActionSchema, { action: { case: "awake", value: {} } });
    case "send_event":
      return create(BatchActionSchema, {
        action: { case: "sendEvent", value: { eventName: action.eventName, data: jsonToValue(action.data), referenceId: action.referenceId ?? "" } },
      });
    case "rerun":
      return create(BatchActionSchema, {
        action: {
          case: "rerun",
          value: {
            from: action.from === "start" ? { case: "start", value: {} } : { case: "lastFailure", value: {} },
            workflowVersionId: action.workflowVersionId ?? "",
          },
        },
      });
  }
}

function runFilterToPb(f: RunFilter): PbRunFilter {
  return create(RunFilterSchema, {
    workflowName: f.workflowName ?? "",
    workflowVersionId: f.workflowVersionId ?? "",
    statuses: (f.statuses ?? []).map(runStatusToPb),
    shard: f.shard,
    parentRunId: f.parentRunId ?? "",
    referenceId: f.referenceId ?? "",
    runIds: [...(f.runIds ?? [])],
    scheduleId: f.scheduleId ?? "",
    createTimeFrom: f.createTimeFrom ? timestampFromDate(f.createTimeFrom) : undefined,
    createTimeTo: f.createTimeTo ? timestampFromDate(f.createTimeTo) : undefined,
    tags: { ...f.tags },
  });
}

export function batchOperationToPb(row: BatchOperationRow): BatchOperation {
  const failures = (row.failures as unknown as BatchFailure[]) ?? [];
  return create(BatchOperationSchema, {
    id: row.id,
    namespace: row.namespace,
    status: statusToPb[row.status],
    statusReason: row.status_reason ?? "",
    selection: row.run_ids ? { case: "runIds", value: { ids: row.run_ids } } : { case: "filter", value: runFilterToPb(filterAsGiven(row)) },
    action: batchActionToPb(row.action as unknown as BatchAction),
    rate: row.rate,
    requestedBy: row.requested_by,
    description: row.description,
    matching: BigInt(row.matching),
    done: BigInt(row.done),
    skipped: BigInt(row.skipped),
    failed: BigInt(row.failed),
    failures: failures.map((f) => ({ runId: f.runId, reason: f.reason })),
    createTime: timestampFromDate(row.create_time),
    updateTime: timestampFromDate(row.update_time),
    endTime: row.end_time ? timestampFromDate(row.end_time) : undefined,
    requestId: row.request_id ?? "",
  });
}
