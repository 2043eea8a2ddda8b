import { fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import type { RerunStep } from "@aiki/gen/aiki/v1/run_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type RerunRunRequestSchema, RerunRunResponseSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import type { BatchActionSchema } from "@aiki/gen/aiki/v1/batch_service_pb";
import { bulkOptionHelp, runBulkAction } from "../bulk-action.js";
import { UsageError } from "../cli-error.js";
import { runFilterFrom, runFilterHelp, runFilterOptions } from "../run-selection.js";
import { type Command, type CommandContext, jsonOption, stringOption } from "../command.js";
import { printJson, println } from "../output.js";
import { forRun } from "../rpc-errors.js";
import { statusName } from "../run-statuses.js";

export const runsRerun: Command = {
  words: ["runs", "rerun"],
  summary: "Start a new run from a finished run's history, reusing the results before a step",
  args: ["RUN_ID?"],
  options: {
    ...runFilterOptions,
    "dry-run": { type: "boolean" },
    yes: { type: "boolean", short: "y" },
    rate: { type: "string" },
    detach: { type: "boolean" },
    "from-start": { type: "boolean" },
    "from-last-failure": { type: "boolean" },
    "from-step": { type: "string" },
    input: { type: "string" },
    version: { type: "string" },
    "reference-id": { type: "string" },
    "request-id": { type: "string" },
  },
  optionHelp: [
    ["--from-start", "copy nothing: every step executes again"],
    ["--from-last-failure", "copy what precedes the last failed task; it and what follows execute again"],
    ["--from-step ADDRESS[#N]", "copy what precedes this task record (address and sequence, as `aiki runs tasks` shows)"],
    ["--input JSON", "the new run's input (default: the source's)"],
    ["--version V", "run the rerun on workflow version V (default: the source's)"],
    ["--reference-id R", "the new run's reference id"],
    ["--request-id K", "idempotency key: a repeated rerun with K returns the first new run"],
    ...runFilterHelp,
    ...bulkOptionHelp,
  ],
  notes: [
    "Exactly one --from-* is required. The source must be completed, failed or cancelled; it is not",
    "changed. A rerun whose code or input calls differently than the copied steps fails with",
    "non-determinism naming them (docs/semantics.md, Rerun).",
    "",
    "Without RUN_ID, the filter options select the runs and a batch operation reruns each finished one",
    "(--from-start or --from-last-failure, with each run's own input), after a confirmation with their number.",
    "",
    "Example: aiki runs rerun 01a2…c3 --from-last-failure",
    "         aiki runs rerun --workflow charge-card --status failed --from-last-failure --yes",
  ].join("\n"),
  async run(ctx) {
    const runId = ctx.args[0];
    const { filter, given } = runFilterFrom(ctx);
    if (runId === undefined) {
      if (!given) throw new UsageError("give a RUN_ID, or select runs with --workflow, --workflow-version, --status or --tag");
      for (const one of ["from-step", "input", "reference-id", "request-id"]) {
        if (ctx.values[one] !== undefined) throw new UsageError(`--${one} reruns one run: give a RUN_ID, or leave it out`);
      }
      const from = fromOption(ctx);
      const action: MessageInitShape<typeof BatchActionSchema> = {
        action: {
          case: "rerun",
          value: {
            from: from?.case === "start" ? { case: "start", value: {} } : { case: "lastFailure", value: {} },
            workflowVersionId: stringOption(ctx, "version") ?? "",
          },
        },
      };
      return runBulkAction(ctx, { verb: "rerun", action, filter });
    }
    if (given || ctx.values["dry-run"] !== undefined || ctx.values.rate !== undefined || ctx.values.detach !== undefined) {
      throw new UsageError("RUN_ID reruns one run: leave out the filter and batch options, or leave out RUN_ID");
    }
    const input = jsonOption(ctx, "input");
    const res = await forRun(
      runId,
      ctx.clients().runs.rerunRun({
        runId,
        from: fromOption(ctx),
        input: input === undefined ? undefined : fromJson(ValueSchema, input as never),
        workflowVersionId: stringOption(ctx, "version") ?? "",
        referenceId: stringOption(ctx, "reference-id") ?? "",
        requestId: stringOption(ctx, "request-id") ?? "",
      }),
    );
    if (ctx.json) return printJson(ctx.out, RerunRunResponseSchema, res);
    const run = res.run!;
    const copied = res.existing ? "" : `, ${res.copiedRecords} record${res.copiedRecords === 1 ? "" : "s"} copied`;
    println(
      ctx.out.stdout,
      `${res.existing ? "existing" : "started"} run ${run.id} (${statusName(run.status)}), a rerun of ${runId} from ${formatRerunStep(run.fromStep)}${copied}`,
    );
  },
};

function fromOption(ctx: CommandContext): MessageInitShape<typeof RerunRunRequestSchema>["from"] {
  const step = stringOption(ctx, "from-step");
  const chosen = [ctx.values["from-start"] === true, ctx.values["from-last-failure"] === true, step !== undefined].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError("give exactly one of --from-start, --from-last-failure, --from-step ADDRESS[#N]");
  if (ctx.values["from-start"] === true) return { case: "start", value: {} };
  if (ctx.values["from-last-failure"] === true) return { case: "lastFailure", value: {} };
  const hash = step!.lastIndexOf("#");
  const sequence = hash < 0 ? 0 : Number(step!.slice(hash + 1));
  if (!Number.isInteger(sequence) || sequence < 0) throw new UsageError(`--from-step: "${step!.slice(hash + 1)}" after # is not a sequence (0, 1, …)`);
  return { case: "step", value: { address: hash < 0 ? step! : step!.slice(0, hash), sequence } };
}

/** Where a rerun went live, in words: "the start", "task ADDRESS#N", "the end of its history". */
export function formatRerunStep(step: RerunStep | undefined): string {
  const asked = step?.lastFailure ? " (last failure)" : "";
  switch (step?.point.case) {
    case "start":
      return "the start";
    case "task":
      return `task ${step.point.value.address}#${step.point.value.sequence}${asked}`;
    case "historyEnd":
      return `the end of its history${asked}`;
    default:
      return "an unknown step";
  }
}
