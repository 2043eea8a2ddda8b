import { create } from "@bufbuild/protobuf";
import type { RunTransition } from "@aiki/gen/aiki/v1/run_pb";
import { ListRunTransitionsResponseSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import type { Command } from "../command.js";
import { formatTime, printJson, printTable } from "../output.js";
import { forRun } from "../rpc-errors.js";
import { statusName } from "../run-statuses.js";

export const runsHistory: Command = {
  words: ["runs", "history"],
  summary: "Show a run's transitions, oldest first",
  args: ["RUN_ID"],
  options: {},
  optionHelp: [],
  async run(ctx) {
    const runId = ctx.args[0]!;
    const transitions: RunTransition[] = [];
    let pageToken = "";
    do {
      const page = await forRun(runId, ctx.clients().runs.listRunTransitions({ runId, pageSize: 1_000, pageToken }));
      transitions.push(...page.transitions);
      pageToken = page.nextPageToken;
    } while (pageToken);

    if (ctx.json) return printJson(ctx.out, ListRunTransitionsResponseSchema, create(ListRunTransitionsResponseSchema, { transitions }));
    printTable(
      ctx.out,
      ["REV", "FROM", "TO", "ACTOR", "REASON", "TIME"],
      transitions.map((t) => [String(t.revision), statusName(t.fromStatus), statusName(t.toStatus), t.actor, t.reason, formatTime(t.time)]),
    );
  },
};
