import { ListWorkersResponseSchema } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import type { Command } from "../command.js";
import { formatAge, printJson, printTable, println } from "../output.js";

export const workersList: Command = {
  words: ["workers", "list"],
  summary: "List the workers seen recently and the runs they hold leases on",
  args: [],
  options: {},
  optionHelp: [],
  async run(ctx) {
    const res = await ctx.clients().workers.listWorkers({});
    if (ctx.json) return printJson(ctx.out, ListWorkersResponseSchema, res);
    if (res.workers.length === 0) return println(ctx.out.stdout, "No workers seen recently.");
    printTable(
      ctx.out,
      ["WORKER ID", "NAME", "WORKFLOWS", "SHARDS", "LAST SEEN", "LEASES"],
      res.workers.map((w) => [
        w.workerId,
        w.workerName,
        w.workflows.map((f) => `${f.workflowName}@${f.workflowVersionId}`).join(","),
        w.shards.join(",") || "-",
        formatAge(w.lastSeenTime),
        String(w.leasedRunIds.length),
      ]),
    );
    const held = res.workers.flatMap((w) => w.leasedRunIds.map((runId) => [runId, w.workerId] as const));
    if (held.length === 0) return;
    println(ctx.out.stdout);
    printTable(ctx.out, ["LEASED RUN", "WORKER ID"], held);
  },
};
