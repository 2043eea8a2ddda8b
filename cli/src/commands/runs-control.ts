import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { BatchActionSchema } from "@aiki/gen/aiki/v1/batch_service_pb";
import type { Run } from "@aiki/gen/aiki/v1/run_pb";
import { AwakeRunResponseSchema, CancelRunResponseSchema, PauseRunResponseSchema, ResumeRunResponseSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import { bulkOptionHelp, runBulkAction } from "../bulk-action.js";
import { UsageError } from "../cli-error.js";
import type { Clients } from "../clients.js";
import { type Command, stringOption } from "../command.js";
import { printJson, println } from "../output.js";
import { forRun } from "../rpc-errors.js";
import { runFilterFrom, runFilterHelp, runFilterOptions } from "../run-selection.js";
import { statusName } from "../run-statuses.js";

/**
 * cancel, pause, resume and awake: one call on one run, answered with the run; or, with filter
 * options instead of a run id, a batch operation on every run they select.
 */
function controlCommand<Desc extends DescMessage>(spec: {
  verb: "cancel" | "pause" | "resume" | "awake";
  done: string;
  summary: string;
  reason: boolean;
  schema: Desc;
  call: (clients: Clients, runId: string, reason: string) => Promise<MessageShape<Desc> & { run?: Run | undefined }>;
}): Command {
  return {
    words: ["runs", spec.verb],
    summary: spec.summary,
    args: ["RUN_ID?"],
    options: {
      ...(spec.reason ? { reason: { type: "string" } } : {}),
      ...runFilterOptions,
      "dry-run": { type: "boolean" },
      yes: { type: "boolean", short: "y" },
      rate: { type: "string" },
      detach: { type: "boolean" },
    },
    optionHelp: [
      ...(spec.reason ? [["--reason R", "why, recorded in the run's history and status reason"] as const] : []),
      ...runFilterHelp,
      ...bulkOptionHelp,
    ],
    notes: `Without RUN_ID, the filter options select the runs: every matching run is ${spec.done} by a batch operation
(the server goes on with it even if this command stops), after a confirmation with their number.
Example: aiki runs ${spec.verb} --workflow charge-card --status ${spec.verb === "resume" ? "paused" : spec.verb === "awake" ? "sleeping" : "queued"} --tag incident=inc-42 --yes`,
    async run(ctx) {
      const runId = ctx.args[0];
      const { filter, given } = runFilterFrom(ctx);
      if (runId === undefined) {
        if (!given) throw new UsageError("give a RUN_ID, or select runs with --workflow, --workflow-version, --status or --tag");
        const reason = stringOption(ctx, "reason") ?? "";
        const action: MessageInitShape<typeof BatchActionSchema> =
          spec.verb === "awake" ? { action: { case: "awake", value: {} } } : { action: { case: spec.verb, value: { reason } } };
        return runBulkAction(ctx, { verb: spec.verb, action, filter });
      }
      if (given || ctx.values["dry-run"] !== undefined || ctx.values.rate !== undefined || ctx.values.detach !== undefined) {
        throw new UsageError("RUN_ID acts on one run: leave out the filter and batch options, or leave out RUN_ID");
      }
      const res = await forRun(runId, spec.call(ctx.clients(), runId, stringOption(ctx, "reason") ?? ""));
      if (ctx.json) return printJson(ctx.out, spec.schema, res);
      println(ctx.out.stdout, `run ${runId} ${spec.done}: now ${statusName(res.run!.status)} (revision ${res.run!.revision})`);
    },
  };
}

export const runsCancel = controlCommand({
  verb: "cancel",
  done: "cancelled",
  summary: "Cancel a run and its unfinished descendants",
  reason: true,
  schema: CancelRunResponseSchema,
  call: (c, runId, reason) => c.runs.cancelRun({ runId, reason }),
});

export const runsPause = controlCommand({
  verb: "pause",
  done: "paused",
  summary: "Pause a run (a worker executing it stops at its next write)",
  reason: true,
  schema: PauseRunResponseSchema,
  call: (c, runId, reason) => c.runs.pauseRun({ runId, reason }),
});

export const runsResume = controlCommand({
  verb: "resume",
  done: "resumed",
  summary: "Resume a paused run (queued; it replays from its history)",
  reason: true,
  schema: ResumeRunResponseSchema,
  call: (c, runId, reason) => c.runs.resumeRun({ runId, reason }),
});

export const runsAwake = controlCommand({
  verb: "awake",
  done: "awoken",
  summary: "End a sleeping run's current sleep early",
  reason: false,
  schema: AwakeRunResponseSchema,
  call: (c, runId) => c.runs.awakeRun({ runId }),
});
