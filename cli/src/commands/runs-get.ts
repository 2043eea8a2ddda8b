import { type Run, RunFailureCause } from "@aiki/gen/aiki/v1/run_pb";
import { GetRunResponseSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import type { Failure } from "@aiki/gen/aiki/v1/payload_pb";
import type { Command } from "../command.js";
import { formatTime, formatTimeAndAge, formatValue, type Output, printFields, printJson } from "../output.js";
import { forRun } from "../rpc-errors.js";
import { statusName } from "../run-statuses.js";
import { formatRerunStep } from "./runs-rerun.js";

export const runsGet: Command = {
  words: ["runs", "get"],
  summary: "Show one run",
  args: ["RUN_ID"],
  options: {},
  optionHelp: [],
  async run(ctx) {
    const runId = ctx.args[0]!;
    const res = await forRun(runId, ctx.clients().runs.getRun({ runId }));
    if (ctx.json) return printJson(ctx.out, GetRunResponseSchema, res);
    printRun(ctx.out, res.run!);
  },
};

/** A run as "field  value" lines, empty fields left out. */
export function printRun(out: Output, run: Run): void {
  printFields(out, [
    ["Run", run.id],
    ["Workflow", `${run.workflowName} ${run.workflowVersionId}`],
    ["Status", statusName(run.status)],
    ["Reason", run.statusReason],
    ["Revision", String(run.revision)],
    ["Attempt", String(run.attempt)],
    ["Reference", run.referenceId],
    ["Shard", run.shard],
    ["Parent", run.parentRunId],
    ["Rerun of", run.rerunOf ? `${run.rerunOf}, from ${formatRerunStep(run.fromStep)}` : undefined],
    ["Trace", run.traceContext?.traceparent],
    ["Namespace", run.namespace],
    ["Created", formatTimeAndAge(run.createTime)],
    ["Updated", formatTimeAndAge(run.updateTime)],
    ["Started", formatTimeAndAge(run.startTime)],
    ["Ended", formatTimeAndAge(run.endTime)],
    ["Wakes", formatTimeAndAge(run.wakeTime)],
    ["Lease", run.leaseWorkerId ? `worker ${run.leaseWorkerId}, expires ${formatTime(run.leaseExpireTime)}` : undefined],
    ["Input", formatValue(run.input)],
    ["Output", formatValue(run.output)],
    ["Failure", run.failure ? formatFailure(run.failure, run.failureCause) : undefined],
  ]);
}

function formatFailure(failure: Failure, cause: RunFailureCause): string {
  const kind = failure.type ? `${failure.type}: ` : "";
  const why = cause === RunFailureCause.UNSPECIFIED ? "" : ` (cause: ${RunFailureCause[cause]!.toLowerCase()})`;
  const causedBy = failure.cause ? `\ncaused by ${failure.cause.type ? `${failure.cause.type}: ` : ""}${failure.cause.message}` : "";
  return `${kind}${failure.message}${why}${causedBy}`;
}
