import { fromJson } from "@bufbuild/protobuf";
import { durationFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import { StartRunResponseSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import { parseTags } from "../run-selection.js";
import { type Command, jsonOption, stringOption, stringsOption } from "../command.js";
import { parseDuration } from "../durations.js";
import { printJson, println } from "../output.js";
import { statusName } from "../run-statuses.js";

export const runsStart: Command = {
  words: ["runs", "start"],
  summary: "Start a run of a workflow version",
  args: ["WORKFLOW", "VERSION"],
  options: {
    input: { type: "string" },
    "reference-id": { type: "string" },
    "request-id": { type: "string" },
    shard: { type: "string" },
    tag: { type: "string", multiple: true },
    delay: { type: "string" },
    traceparent: { type: "string" },
  },
  optionHelp: [
    ["--input JSON", "the workflow's input, as JSON"],
    ["--reference-id R", "your id for the run, unique per workflow version"],
    ["--request-id K", "idempotency key: a repeated start with K returns the first run"],
    ["--shard S", "only workers serving shard S run it"],
    ["--tag K=V", "tag the run (repeat for more tags)"],
    ["--delay D", "start after D (e.g. 10m); scheduled until then"],
    ["--traceparent TP", "continue this W3C trace (00-<trace id>-<span id>-<flags>) in the run (docs/tracing.md)"],
  ],
  async run(ctx) {
    const [workflowName, workflowVersionId] = ctx.args as [string, string];
    const input = jsonOption(ctx, "input");
    const delay = stringOption(ctx, "delay");
    const traceparent = stringOption(ctx, "traceparent");
    const res = await ctx.clients().runs.startRun({
      workflowName,
      workflowVersionId,
      input: input === undefined ? undefined : fromJson(ValueSchema, input as never),
      referenceId: stringOption(ctx, "reference-id") ?? "",
      requestId: stringOption(ctx, "request-id") ?? "",
      shard: stringOption(ctx, "shard") ?? "",
      tags: parseTags(stringsOption(ctx, "tag"), "--tag"),
      traceContext: traceparent === undefined ? undefined : { traceparent, tracestate: "" },
      trigger: delay === undefined ? undefined : { when: { case: "delay", value: durationFromMs(parseDuration(delay, "--delay")) } },
    });
    if (ctx.json) return printJson(ctx.out, StartRunResponseSchema, res);
    const run = res.run!;
    println(ctx.out.stdout, `${res.existing ? "existing" : "started"} run ${run.id} (${statusName(run.status)})`);
  },
};
