import {
  BatchOperationStatus,
  CancelBatchOperationResponseSchema,
  GetBatchOperationResponseSchema,
  ListBatchOperationsResponseSchema,
} from "@aiki/gen/aiki/v1/batch_service_pb";
import { UsageError } from "../cli-error.js";
import { type Command, intOption, stringOption } from "../command.js";
import { batchActionName, batchProgress, batchStatusName } from "../batch-format.js";
import { formatAge, formatTimeAndAge, printFields, printJson, printTable, println } from "../output.js";
import { statusName } from "../run-statuses.js";

const statusByName: Record<string, BatchOperationStatus> = {
  running: BatchOperationStatus.RUNNING,
  completed: BatchOperationStatus.COMPLETED,
  cancelled: BatchOperationStatus.CANCELLED,
  failed: BatchOperationStatus.FAILED,
};

export const batchesList: Command = {
  words: ["batches", "list"],
  summary: "List batch operations (bulk actions), newest first",
  args: [],
  options: { status: { type: "string" }, limit: { type: "string" } },
  optionHelp: [
    ["--status S", "only operations in status S: running, completed, cancelled or failed"],
    ["--limit N", "at most N operations (default 20, at most 1000)"],
  ],
  async run(ctx) {
    const name = stringOption(ctx, "status");
    const status = name === undefined ? BatchOperationStatus.UNSPECIFIED : statusByName[name];
    if (status === undefined) throw new UsageError(`--status must be one of ${Object.keys(statusByName).join(", ")} (got "${name}")`);
    const res = await ctx.clients().batches.listBatchOperations({ status, pageSize: intOption(ctx, "limit", 20, 1000) });
    if (ctx.json) return printJson(ctx.out, ListBatchOperationsResponseSchema, res);
    if (res.operations.length === 0) return println(ctx.out.stdout, "No batch operations.");
    printTable(
      ctx.out,
      ["OPERATION ID", "ACTION", "STATUS", "MATCHING", "DONE", "SKIPPED", "FAILED", "CREATED"],
      res.operations.map((o) => [
        o.id,
        batchActionName(o),
        batchStatusName(o.status),
        String(o.matching),
        String(o.done),
        String(o.skipped),
        String(o.failed),
        formatAge(o.createTime),
      ]),
    );
  },
};

export const batchesGet: Command = {
  words: ["batches", "get"],
  summary: "Show a batch operation: its selection, action, progress and failures",
  args: ["OPERATION_ID"],
  options: {},
  optionHelp: [],
  async run(ctx) {
    const res = await ctx.clients().batches.getBatchOperation({ operationId: ctx.args[0]! });
    if (ctx.json) return printJson(ctx.out, GetBatchOperationResponseSchema, res);
    const o = res.operation!;
    const selection =
      o.selection.case === "runIds"
        ? `${o.selection.value.ids.length} run ids`
        : [
            o.selection.value?.workflowName && `workflow=${o.selection.value.workflowName}`,
            o.selection.value?.workflowVersionId && `version=${o.selection.value.workflowVersionId}`,
            o.selection.value?.statuses.length ? `status=${o.selection.value.statuses.map(statusName).join(",")}` : "",
            ...Object.entries(o.selection.value?.tags ?? {}).map(([k, v]) => `tag ${k}=${v}`),
          ]
            .filter(Boolean)
            .join(" ") || "every run";
    printFields(ctx.out, [
      ["id", o.id],
      ["status", batchStatusName(o.status) + (o.statusReason ? ` (${o.statusReason})` : "")],
      ["action", batchActionName(o)],
      ["selection", selection],
      ["progress", batchProgress(o)],
      ["rate", `${o.rate} runs/s`],
      ["requested by", o.requestedBy],
      ["description", o.description || undefined],
      ["created", formatTimeAndAge(o.createTime)],
      ["ended", formatTimeAndAge(o.endTime)],
    ]);
    for (const f of o.failures) println(ctx.out.stdout, `  failed ${f.runId}: ${f.reason}`);
  },
};

export const batchesCancel: Command = {
  words: ["batches", "cancel"],
  summary: "Stop a running batch operation (runs already acted on stay so)",
  args: ["OPERATION_ID"],
  options: { reason: { type: "string" } },
  optionHelp: [["--reason R", "why, recorded as its status reason"]],
  async run(ctx) {
    const res = await ctx.clients().batches.cancelBatchOperation({ operationId: ctx.args[0]!, reason: stringOption(ctx, "reason") ?? "" });
    if (ctx.json) return printJson(ctx.out, CancelBatchOperationResponseSchema, res);
    println(ctx.out.stdout, `batch operation ${res.operation!.id} ${batchStatusName(res.operation!.status)}: ${batchProgress(res.operation!)}`);
  },
};
