import { create } from "@bufbuild/protobuf";
import type { RerunStep } from "@aiki/gen/aiki/v1/run_pb";
import { type RerunRunRequest, RerunRunRequestSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import { randomUUID } from "node:crypto";
import { taskAddress } from "./canonical-json.js";
import { toValue } from "./json-value.js";
import type { Task } from "./task.js";

/**
 * Where a rerun goes live (docs/semantics.md, Rerun): `"start"` copies nothing; `"last_failure"`
 * copies every finished record before the source's last failed task (all of them when no task
 * failed); `{ task, sequence }` copies those before that task record: its address, as
 * GetRunHistory and `aiki runs tasks` show it, or the task itself with the input it was called
 * with (`{ task: chargeCard, input: { orderId } }`), and its position among calls to that
 * address (default 0).
 */
export type RerunFrom =
  | "start"
  | "last_failure"
  | { task: string; sequence?: number }
  // biome-ignore lint/suspicious/noExplicitAny: any task, whatever its types
  | { task: Task<any, any>; input: unknown; sequence?: number };

/** Options of `handle.rerun(...)` and `version.rerun(client, runId, ...)`. */
export interface RerunOptions<Input> {
  from: RerunFrom;
  /** The new run's input; default: the source's. Copied tasks called with another input no longer match: the rerun fails with NonDeterminismError. */
  input?: Input;
  /** Idempotency key; default: a fresh one per call (kept across the call's own retries). */
  requestId?: string;
  /** The new run's reference id (unique per workflow version); default: none. */
  referenceId?: string;
}

/** Where a rerun went live, as the server resolved `from` (WorkflowRun.fromStep). */
export type RerunStepInfo =
  | { kind: "start" }
  | { kind: "history_end"; lastFailure: boolean }
  | { kind: "task"; address: string; sequence: number; lastFailure: boolean };

export function rerunRequest(runId: string, options: RerunOptions<unknown>, versionId: string, input: unknown): RerunRunRequest {
  const from = options.from;
  return create(RerunRunRequestSchema, {
    runId,
    from:
      from === "start"
        ? { case: "start", value: {} }
        : from === "last_failure"
          ? { case: "lastFailure", value: {} }
          : { case: "step", value: { address: stepAddress(from), sequence: from.sequence ?? 0 } },
    input: options.input === undefined ? undefined : toValue(input),
    workflowVersionId: versionId,
    requestId: options.requestId ?? randomUUID(),
    referenceId: options.referenceId ?? "",
  });
}

export function rerunStepFromPb(step: RerunStep | undefined): RerunStepInfo | undefined {
  switch (step?.point.case) {
    case "start":
      return { kind: "start" };
    case "historyEnd":
      return { kind: "history_end", lastFailure: step.lastFailure };
    case "task":
      return { kind: "task", address: step.point.value.address, sequence: step.point.value.sequence, lastFailure: step.lastFailure };
    default:
      return undefined;
  }
}

function stepAddress(from: Exclude<RerunFrom, string>): string {
  return typeof from.task === "string" ? from.task : taskAddress(from.task.name, "input" in from ? from.input : undefined);
}
