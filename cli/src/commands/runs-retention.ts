import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { PurgeRunsResponseSchema } from "@aiki/gen/aiki/v1/admin_service_pb";
import { SetRunRetentionResponseSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import { UsageError } from "../cli-error.js";
import { type Command, type CommandContext, stringOption } from "../command.js";
import { parseDuration } from "../durations.js";
import { formatTime, printJson, println } from "../output.js";
import { Progress } from "../progress.js";
import { forRun } from "../rpc-errors.js";

/** An ISO time, or an age ("30d", "12h") counted back from now. */
function timeOption(ctx: CommandContext, name: string, required: true): Date;
function timeOption(ctx: CommandContext, name: string, required: false): Date | undefined;
function timeOption(ctx: CommandContext, name: string, required: boolean): Date | undefined {
  const text = stringOption(ctx, name);
  if (text === undefined) {
    if (required) throw new UsageError(`--${name} is required (an ISO time like 2026-11-01T00:00:00Z, or an age like 30d)`);
    return undefined;
  }
  if (/^\d{4}-\d\d-\d\d/.test(text)) {
    const time = new Date(text);
    if (Number.isNaN(time.getTime())) throw new UsageError(`--${name} is not a valid time (got "${text}")`);
    return time;
  }
  return new Date(Date.now() - parseDuration(text, `--${name}`));
}

export const runsPurge: Command = {
  words: ["runs", "purge"],
  summary: "Delete finished runs that ended before a time, with their history (needs an admin key)",
  args: [],
  options: { before: { type: "string" }, namespace: { type: "string" }, "dry-run": { type: "boolean" }, yes: { type: "boolean" } },
  optionHelp: [
    ["--before T", "an ISO time, or an age: 30d purges runs that ended more than 30 days ago (required)"],
    ["--namespace NS", 'the namespace (default: the key\'s, or "default" without authentication)'],
    ["--dry-run", "count what would be purged, delete nothing"],
    ["--yes", "purge without asking (without it, the command only counts and says how to go on)"],
  ],
  notes:
    "A run goes only with its whole tree (a top-level run and its descendants), once every run of it has ended\nbefore --before and none is kept by `aiki runs keep`. The server also purges by itself: AIKI_RETENTION_DAYS.\n\nExample:\n  aiki runs purge --before 90d --dry-run\n  aiki runs purge --before 90d --yes",
  async run(ctx) {
    const before = timeOption(ctx, "before", true);
    const namespace = stringOption(ctx, "namespace") ?? "";
    const dryRun = ctx.values["dry-run"] === true || ctx.values.yes !== true;
    const progress = new Progress(ctx.out.stderr);
    let runs = 0n;
    let trees = 0n;
    let pageToken = "";
    progress.start(dryRun ? "counting…" : "purging…");
    try {
      do {
        const page = await ctx.clients().admin.purgeRuns({ namespace, finishedBefore: timestampFromDate(before), dryRun, pageToken });
        runs += page.purgedRuns;
        trees += page.purgedTrees;
        pageToken = page.nextPageToken;
        progress.update(`${dryRun ? "counted" : "purged"} ${runs} runs`);
      } while (pageToken !== "");
    } finally {
      progress.stop();
    }
    if (ctx.json) return printJson(ctx.out, PurgeRunsResponseSchema, create(PurgeRunsResponseSchema, { purgedRuns: runs, purgedTrees: trees }));
    const what = `${runs} runs (${trees} top-level) that ended before ${before.toISOString()}`;
    if (ctx.values["dry-run"] === true) println(ctx.out.stdout, `would purge ${what}`);
    else if (dryRun) println(ctx.out.stdout, `would purge ${what}; run again with --yes to purge them`);
    else println(ctx.out.stdout, `purged ${what}`);
  },
};

export const runsKeep: Command = {
  words: ["runs", "keep"],
  summary: "Keep a run past the retention age (until a time, or forever), or give it back to the policy",
  args: ["RUN_ID"],
  options: { until: { type: "string" }, forever: { type: "boolean" }, policy: { type: "boolean" } },
  optionHelp: [
    ["--until T", "an ISO time, or a duration from now (90d)"],
    ["--forever", "never purge it"],
    ["--policy", "the server's retention age alone decides again"],
  ],
  async run(ctx) {
    const runId = ctx.args[0]!;
    const chosen = ["until", "forever", "policy"].filter((o) => ctx.values[o] !== undefined);
    if (chosen.length !== 1) throw new UsageError("give exactly one of --until, --forever and --policy");
    const untilText = stringOption(ctx, "until");
    const until =
      untilText === undefined
        ? undefined
        : /^\d{4}-\d\d-\d\d/.test(untilText)
          ? timeOption(ctx, "until", true)
          : new Date(Date.now() + parseDuration(untilText, "--until"));
    const res = await forRun(
      runId,
      ctx.clients().runs.setRunRetention({ runId, forever: ctx.values.forever === true, until: until && timestampFromDate(until) }),
    );
    if (ctx.json) return printJson(ctx.out, SetRunRetentionResponseSchema, res);
    const run = res.run!;
    println(
      ctx.out.stdout,
      run.retainForever
        ? `run ${runId} is kept forever`
        : run.retainUntil
          ? `run ${runId} is kept until ${formatTime(run.retainUntil)}`
          : `run ${runId} follows the server's retention again`,
    );
  },
};
