import { create } from "@bufbuild/protobuf";
import type { Run } from "@aiki/gen/aiki/v1/run_pb";
import { ListRunsResponseSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import { type Command, intOption, stringOption, stringsOption } from "../command.js";
import { formatAge, printJson, printTable, println } from "../output.js";
import { parseTags } from "../run-selection.js";
import { parseRunStatuses, statusName } from "../run-statuses.js";

const maxPageSize = 1_000;

export const runsList: Command = {
  words: ["runs", "list"],
  summary: "List runs, newest first",
  args: [],
  options: {
    workflow: { type: "string" },
    "workflow-version": { type: "string" },
    status: { type: "string", multiple: true },
    tag: { type: "string", multiple: true },
    "reference-id": { type: "string" },
    parent: { type: "string" },
    "rerun-of": { type: "string" },
    limit: { type: "string" },
    "page-token": { type: "string" },
  },
  optionHelp: [
    ["--workflow W", "only runs of workflow W"],
    ["--workflow-version V", "only runs of version V"],
    ["--status S", "only runs in status S (repeat or comma-separate: --status queued,running)"],
    ["--tag K=V", "only runs tagged K=V (repeat: every tag must match)"],
    ["--reference-id R", "only the run with reference id R"],
    ["--parent RUN_ID", "only children of RUN_ID"],
    ["--rerun-of RUN_ID", "only reruns of RUN_ID (aiki runs rerun)"],
    ["--limit N", "at most N runs (default 20; pages through the server's 1000 per call)"],
    ["--page-token T", "continue after an earlier listing (its nextPageToken)"],
  ],
  async run(ctx) {
    const limit = intOption(ctx, "limit", 20);
    const filter = {
      workflowName: stringOption(ctx, "workflow") ?? "",
      workflowVersionId: stringOption(ctx, "workflow-version") ?? "",
      statuses: parseRunStatuses(stringsOption(ctx, "status"), "--status"),
      referenceId: stringOption(ctx, "reference-id") ?? "",
      parentRunId: stringOption(ctx, "parent") ?? "",
      rerunOf: stringOption(ctx, "rerun-of") ?? "",
      tags: parseTags(stringsOption(ctx, "tag"), "--tag"),
    };
    const runs: Run[] = [];
    let pageToken = stringOption(ctx, "page-token") ?? "";
    do {
      const page = await ctx.clients().runs.listRuns({ ...filter, pageSize: Math.min(limit - runs.length, maxPageSize), pageToken });
      runs.push(...page.runs);
      pageToken = page.nextPageToken;
    } while (pageToken && runs.length < limit);

    if (ctx.json) return printJson(ctx.out, ListRunsResponseSchema, create(ListRunsResponseSchema, { runs, nextPageToken: pageToken }));
    if (runs.length === 0) return println(ctx.out.stdout, "No runs.");
    printTable(
      ctx.out,
      ["RUN ID", "WORKFLOW", "VERSION", "STATUS", "ATTEMPT", "REFERENCE", "CREATED", "UPDATED"],
      runs.map((r) => [
        r.id,
        r.workflowName,
        r.workflowVersionId,
        statusName(r.status),
        String(r.attempt),
        r.referenceId,
        formatAge(r.createTime),
        formatAge(r.updateTime),
      ]),
    );
    if (pageToken) println(ctx.out.stderr, `(more runs: raise --limit, or continue with --page-token ${pageToken})`);
  },
};
