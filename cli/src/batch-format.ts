import { type BatchOperation, BatchOperationStatus } from "@aiki/gen/aiki/v1/batch_service_pb";

export function batchStatusName(status: BatchOperationStatus): string {
  return (BatchOperationStatus[status] ?? String(status)).toLowerCase();
}

export function batchActionName(op: BatchOperation): string {
  const a = op.action?.action;
  if (!a?.case) return "?";
  return a.case === "sendEvent" ? `send-event ${a.value.eventName}` : a.case;
}

/** "4000/10000 done, 12 skipped, 0 failed" */
export function batchProgress(op: BatchOperation): string {
  return `${op.done + op.skipped + op.failed}/${op.matching} gone through: ${op.done} done, ${op.skipped} skipped, ${op.failed} failed`;
}
