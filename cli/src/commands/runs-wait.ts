import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { type WaitForRunStatusResponse, WaitForRunStatusResponse_Outcome as Outcome, WaitForRunStatusResponseSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import { type Command, stringOption } from "../command.js";
import { formatDuration, parseDuration } from "../durations.js";
import { printJson, println } from "../output.js";
import { Progress } from "../progress.js";
import { forRun } from "../rpc-errors.js";
import { parseRunStatus, statusName } from "../run-statuses.js";

export const exitTerminatedOtherwise = 1;
export const exitTimeout = 124;

// The server holds one WaitForRunStatus call at most this long.
const maxCallMs = 300_000;
// On a terminal the status shown refreshes this often (each refresh is one long-poll answering early).
const progressCallMs = 5_000;

export const runsWait: Command = {
  words: ["runs", "wait"],
  summary: "Wait until a run reaches a status (default: completed)",
  args: ["RUN_ID"],
  options: { status: { type: "string" }, timeout: { type: "string" } },
  optionHelp: [
    ["--status S", 'the status to wait for (default completed); "terminal" for any of completed, failed, cancelled'],
    ["--timeout D", "give up after D, e.g. 30s, 5m, 1h (default 30s)"],
  ],
  notes: `Exit status: 0 when the run reached the status, ${exitTerminatedOtherwise} when it ended in another terminal status,
${exitTimeout} when the timeout passed first. A spinner shows the current status on stderr when it is a terminal.`,
  async run(ctx) {
    const runId = ctx.args[0]!;
    const statusText = stringOption(ctx, "status") ?? "completed";
    const status = statusText.toLowerCase() === "terminal" ? RunStatus.UNSPECIFIED : parseRunStatus(statusText, "--status");
    const timeoutMs = parseDuration(stringOption(ctx, "timeout") ?? "30s", "--timeout");
    const target = status === RunStatus.UNSPECIFIED ? "a terminal status" : statusName(status);
    const progress = new Progress(ctx.out.stderr);
    const deadline = Date.now() + timeoutMs;
    const onInterrupt = () => {
      progress.stop();
      process.exit(130);
    };
    if (progress.enabled) process.once("SIGINT", onInterrupt);
    let res: WaitForRunStatusResponse;
    try {
      progress.start(`waiting for run ${runId} to reach ${target}`);
      if (progress.enabled) {
        const { run } = await forRun(runId, ctx.clients().runs.getRun({ runId }));
        progress.update(`waiting for run ${runId} to reach ${target} (now ${statusName(run!.status)})`);
      }
      for (;;) {
        const left = Math.max(0, deadline - Date.now());
        const callMs = Math.min(left, progress.enabled ? progressCallMs : maxCallMs);
        res = await forRun(runId, ctx.clients().runs.waitForRunStatus({ runId, status, timeout: durationFromMs(callMs) }, { timeoutMs: callMs + 30_000 }));
        if (res.outcome !== Outcome.TIMEOUT || Date.now() >= deadline) break;
        progress.update(`waiting for run ${runId} to reach ${target} (now ${statusName(res.run!.status)})`);
      }
    } finally {
      progress.stop();
      process.removeListener("SIGINT", onInterrupt);
    }
    if (ctx.json) printJson(ctx.out, WaitForRunStatusResponseSchema, res);
    const now = statusName(res.run!.status);
    switch (res.outcome) {
      case Outcome.REACHED:
        if (!ctx.json) println(ctx.out.stdout, `run ${runId} is ${now}`);
        return 0;
      case Outcome.TERMINATED:
        if (!ctx.json) println(ctx.out.stdout, `run ${runId} ended ${now}, not ${target}`);
        return exitTerminatedOtherwise;
      default:
        if (!ctx.json) println(ctx.out.stdout, `run ${runId} is still ${now} after ${formatDuration(timeoutMs)} (waited for ${target})`);
        return exitTimeout;
    }
  },
};
