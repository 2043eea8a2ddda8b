import { TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import type { Command } from "../command.js";
import { formatTime, printJson, printTable, println } from "../output.js";
import { forRun } from "../rpc-errors.js";
import { GetRunHistoryResponseSchema } from "@aiki/gen/aiki/v1/run_service_pb";

export const runsTasks: Command = {
  words: ["runs", "tasks"],
  summary: "List a run's task records, in order of first call (the steps `runs rerun --from-step` takes)",
  args: ["RUN_ID"],
  options: {},
  optionHelp: [],
  async run(ctx) {
    const runId = ctx.args[0]!;
    const res = await forRun(runId, ctx.clients().runs.getRunHistory({ runId }));
    if (ctx.json) return printJson(ctx.out, GetRunHistoryResponseSchema, res);
    const tasks = res.history?.tasks ?? [];
    if (tasks.length === 0) return println(ctx.out.stdout, "No tasks.");
    printTable(
      ctx.out,
      ["STEP", "TASK", "STATUS", "ATTEMPTS", "CREATED"],
      tasks.map((t) => [`${t.address}#${t.sequence}`, t.name, TaskStatus[t.status]!.toLowerCase(), String(t.attempts), formatTime(t.createTime)]),
    );
  },
};
