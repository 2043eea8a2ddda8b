import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Run } from "@aiki/gen/aiki/v1/run_pb";
import {
  AwakeRunResponseSchema,
  CancelRunResponseSchema,
  PauseRunResponseSchema,
  ResumeRunResponseSchema,
} from "@aiki/gen/aiki/v1/run_service_pb";
import type { Clients } from "../clients.js";
import { type Command, stringOption } from "../command.js";
import { printJson, println } from "../output.js";
import { forRun } from "../rpc-errors.js";
import { statusName } from "../run-statuses.js";

/** cancel, pause, resume and awake: one call on one run, answered with the run. */
function controlCommand<Desc extends DescMessage>(spec: {
  verb: string;
  done: string;
  summary: string;
  reason: boolean;
  schema: Desc;
  call: (clients: Clients, runId: string, reason: string) => Promise<MessageShape<Desc> & { run?: Run | undefined }>;
}): Command {
  return {
    words: ["runs", spec.verb],
    summary: spec.summary,
    args: ["RUN_ID"],
    options: spec.reason ? { reason: { type: "string" } } : {},
    optionHelp: spec.reason ? [["--reason R", "why, recorded in the run's history and status reason"]] : [],
    async run(ctx) {
      const runId = ctx.args[0]!;
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
