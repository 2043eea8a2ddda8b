import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type BatchActionSchema,
  type BatchOperation as PbBatchOperation,
  BatchOperationStatus as PbStatus,
  type StartBatchOperationRequestSchema,
} from "@aiki/gen/aiki/v1/batch_service_pb";
import type { RunFilterSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import { type Client, clientInternals } from "./client.js";
import { type Duration, durationToMs } from "./duration.js";
import { AikiError } from "./errors.js";
import { toValue } from "./json-value.js";
import { type RunStatus, runStatusToPb } from "./run-status.js";

/** Which runs a batch operation acts on: every run matching all the fields given, or these ids. */
export type BatchRunSelection =
  | {
      workflowName?: string;
      workflowVersionId?: string;
      statuses?: RunStatus[];
      /** Runs carrying every one of these tags. */
      tags?: Record<string, string>;
      createdAfter?: Date;
      createdBefore?: Date;
      parentRunId?: string;
      scheduleId?: string;
      /** Reruns of this run. */
      rerunOf?: string;
    }
  | { ids: string[] };

/** What a batch operation does to each run (docs/bulk-actions.md); a run whose state forbids it is skipped. */
export type BatchAction =
  | { type: "cancel" | "pause" | "resume"; reason?: string }
  | { type: "awake" }
  | { type: "send_event"; eventName: string; data?: unknown; referenceId?: string }
  | { type: "rerun"; from: "start" | "last_failure"; workflowVersionId?: string };

export type BatchOperationStatus = "running" | "completed" | "cancelled" | "failed";

/** A batch operation as last read. */
export interface BatchOperationInfo {
  id: string;
  status: BatchOperationStatus;
  /** Why it failed or was cancelled. */
  statusReason: string;
  /** Runs selected when it started. */
  matching: number;
  done: number;
  skipped: number;
  failed: number;
  /** The first failures, with their reasons. */
  failures: Array<{ runId: string; reason: string }>;
}

export interface StartBatchOptions {
  runs: BatchRunSelection;
  action: BatchAction;
  /** Runs per second; unset: the server's AIKI_BATCH_RATE. */
  rate?: number;
  /** Idempotency key: a repeated start with it returns the first operation. */
  requestId?: string;
  description?: string;
}

/** A batch operation to read, wait for or cancel. */
export interface BatchOperationHandle {
  readonly id: string;
  /** As last read (start, refresh, waitForEnd). */
  readonly operation: BatchOperationInfo;
  refresh(): Promise<BatchOperationInfo>;
  /** Stops the operation after the page it is on; runs already acted on stay so. */
  cancel(reason?: string): Promise<void>;
  /** Resolves once the operation is no longer running; rejects with a TimeoutError DOMException after `timeout`. */
  waitForEnd(options?: { timeout?: Duration; pollInterval?: Duration }): Promise<BatchOperationInfo>;
}

/** How many runs `runs` selects now, for `action` (a dry run: nothing is stored or changed). */
export async function countBatchRuns(client: Client, options: Pick<StartBatchOptions, "runs" | "action">): Promise<number> {
  const res = await clientInternals(client).batches.startBatchOperation({ ...request(options), dryRun: true });
  return Number(res.matching);
}

/** Starts a durable batch operation: the server goes on with it whatever this process does. */
export async function startBatchOperation(client: Client, options: StartBatchOptions): Promise<BatchOperationHandle> {
  const res = await clientInternals(client).batches.startBatchOperation(request(options));
  if (!res.operation) throw new AikiError("StartBatchOperation answered without an operation");
  return new Handle(client, fromPb(res.operation));
}

/** A handle on an operation started earlier (by id), read once. */
export async function batchOperation(client: Client, id: string): Promise<BatchOperationHandle> {
  const handle = new Handle(client, { id, status: "running", statusReason: "", matching: 0, done: 0, skipped: 0, failed: 0, failures: [] });
  await handle.refresh();
  return handle;
}

class Handle implements BatchOperationHandle {
  #operation: BatchOperationInfo;

  constructor(
    private readonly client: Client,
    operation: BatchOperationInfo,
  ) {
    this.#operation = operation;
  }

  get id(): string {
    return this.#operation.id;
  }

  get operation(): BatchOperationInfo {
    return this.#operation;
  }

  async refresh(): Promise<BatchOperationInfo> {
    const res = await clientInternals(this.client).batches.getBatchOperation({ operationId: this.id });
    if (res.operation) this.#operation = fromPb(res.operation);
    return this.#operation;
  }

  async cancel(reason?: string): Promise<void> {
    const res = await clientInternals(this.client).batches.cancelBatchOperation({ operationId: this.id, reason: reason ?? "" });
    if (res.operation) this.#operation = fromPb(res.operation);
  }

  async waitForEnd(options: { timeout?: Duration; pollInterval?: Duration } = {}): Promise<BatchOperationInfo> {
    const deadline = options.timeout === undefined ? Number.POSITIVE_INFINITY : Date.now() + durationToMs(options.timeout);
    const pollMs = options.pollInterval === undefined ? 250 : durationToMs(options.pollInterval);
    // Progress is a row the server updates per page, with no hint to wait on: polled.
    while ((await this.refresh()).status === "running") {
      if (Date.now() + pollMs > deadline) throw new DOMException(`batch operation ${this.id} still running`, "TimeoutError");
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    return this.#operation;
  }
}

function request(options: Pick<StartBatchOptions, "runs" | "action"> & Partial<StartBatchOptions>): MessageInitShape<typeof StartBatchOperationRequestSchema> {
  return {
    selection: "ids" in options.runs ? { case: "runIds", value: { ids: options.runs.ids } } : { case: "filter", value: filterOf(options.runs) },
    action: actionOf(options.action),
    rate: options.rate ?? 0,
    requestId: options.requestId ?? "",
    description: options.description ?? "",
  };
}

function filterOf(s: Exclude<BatchRunSelection, { ids: string[] }>): MessageInitShape<typeof RunFilterSchema> {
  return {
    workflowName: s.workflowName ?? "",
    workflowVersionId: s.workflowVersionId ?? "",
    statuses: (s.statuses ?? []).map(runStatusToPb),
    tags: s.tags ?? {},
    createTimeFrom: s.createdAfter && timestampFromDate(s.createdAfter),
    createTimeTo: s.createdBefore && timestampFromDate(s.createdBefore),
    parentRunId: s.parentRunId ?? "",
    scheduleId: s.scheduleId ?? "",
    rerunOf: s.rerunOf ?? "",
  };
}

function actionOf(a: BatchAction): MessageInitShape<typeof BatchActionSchema> {
  switch (a.type) {
    case "cancel":
    case "pause":
    case "resume":
      return { action: { case: a.type, value: { reason: a.reason ?? "" } } };
    case "awake":
      return { action: { case: "awake", value: {} } };
    case "send_event":
      return { action: { case: "sendEvent", value: { eventName: a.eventName, data: toValue(a.data), referenceId: a.referenceId ?? "" } } };
    case "rerun":
      return {
        action: {
          case: "rerun",
          value: { from: a.from === "start" ? { case: "start", value: {} } : { case: "lastFailure", value: {} }, workflowVersionId: a.workflowVersionId ?? "" },
        },
      };
  }
}

const statusFromPb: Record<PbStatus, BatchOperationStatus> = {
  [PbStatus.UNSPECIFIED]: "running",
  [PbStatus.RUNNING]: "running",
  [PbStatus.COMPLETED]: "completed",
  [PbStatus.CANCELLED]: "cancelled",
  [PbStatus.FAILED]: "failed",
};

function fromPb(op: PbBatchOperation): BatchOperationInfo {
  return {
    id: op.id,
    status: statusFromPb[op.status],
    statusReason: op.statusReason,
    matching: Number(op.matching),
    done: Number(op.done),
    skipped: Number(op.skipped),
    failed: Number(op.failed),
    failures: op.failures.map((f) => ({ runId: f.runId, reason: f.reason })),
  };
}
