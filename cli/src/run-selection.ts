import type { MessageInitShape } from "@bufbuild/protobuf";
import type { RunFilterSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import { UsageError } from "./cli-error.js";
import { type CommandContext, type OptionSpecs, stringOption, stringsOption } from "./command.js";
import { parseRunStatuses } from "./run-statuses.js";

/** The options that select runs by filter (runs list, and the bulk forms of cancel/pause/resume/awake). */
export const runFilterOptions: OptionSpecs = {
  workflow: { type: "string" },
  "workflow-version": { type: "string" },
  status: { type: "string", multiple: true },
  tag: { type: "string", multiple: true },
};

export const runFilterHelp: ReadonlyArray<readonly [string, string]> = [
  ["--workflow W", "only runs of workflow W"],
  ["--workflow-version V", "only runs of version V"],
  ["--status S", "only runs in status S (repeat or comma-separate: --status queued,running)"],
  ["--tag K=V", "only runs tagged K=V (repeat: every tag must match)"],
];

/** `--tag k=v` options as a tag map; the server checks the key's charset and the limits. */
export function parseTags(values: readonly string[], option: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq <= 0) throw new UsageError(`${option} must be KEY=VALUE (got "${v}")`);
    tags[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return tags;
}

/** The filter the options give, and whether any was given. */
export function runFilterFrom(ctx: CommandContext): { filter: MessageInitShape<typeof RunFilterSchema>; given: boolean } {
  const filter = {
    workflowName: stringOption(ctx, "workflow") ?? "",
    workflowVersionId: stringOption(ctx, "workflow-version") ?? "",
    statuses: parseRunStatuses(stringsOption(ctx, "status"), "--status"),
    tags: parseTags(stringsOption(ctx, "tag"), "--tag"),
  };
  const given = filter.workflowName !== "" || filter.workflowVersionId !== "" || filter.statuses.length > 0 || Object.keys(filter.tags).length > 0;
  return { filter, given };
}
