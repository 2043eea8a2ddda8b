import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline/promises";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type BatchActionSchema, BatchOperationStatus, GetBatchOperationResponseSchema } from "@aiki/gen/aiki/v1/batch_service_pb";
import type { RunFilterSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import { CliError, UsageError } from "./cli-error.js";
import { type CommandContext, intOption } from "./command.js";
import { batchProgress, batchStatusName } from "./batch-format.js";
import { printJson, println } from "./output.js";
import { Progress } from "./progress.js";

export const bulkOptionHelp: ReadonlyArray<readonly [string, string]> = [
  ["--dry-run", "only print how many runs match"],
  ["--yes", "do not ask for confirmation (required when stdin is not a terminal)"],
  ["--rate N", "runs per second (default: the server's AIKI_BATCH_RATE)"],
  ["--detach", "start the batch operation and print its id without waiting (follow it with `aiki batches get`)"],
];

// How often a waiting command reads the operation's progress.
const pollMs = 500;

/**
 * The bulk form of a run action: counts the runs the filter selects, asks to confirm (unless
 * --yes), starts a batch operation and follows it with a progress line until it ends.
 * Exit 0 when it completed with no failure, 1 otherwise.
 */
export async function runBulkAction(
  ctx: CommandContext,
  spec: { verb: string; action: MessageInitShape<typeof BatchActionSchema>; filter: MessageInitShape<typeof RunFilterSchema> },
): Promise<number> {
  const batches = ctx.clients().batches;
  const rate = ctx.values.rate === undefined ? 0 : intOption(ctx, "rate", 0);
  const selection = { case: "filter" as const, value: spec.filter };
  const dry = await batches.startBatchOperation({ selection, action: spec.action, dryRun: true, rate });
  if (ctx.values["dry-run"] === true) {
    if (ctx.json) println(ctx.out.stdout, JSON.stringify({ matching: Number(dry.matching) }));
    else println(ctx.out.stdout, `${dry.matching} runs match; nothing done (--dry-run)`);
    return 0;
  }
  if (dry.matching === 0n) {
    println(ctx.out.stderr, "no run matches; nothing to do");
    return 0;
  }
  if (ctx.values.yes !== true) await confirm(ctx, `${spec.verb} ${dry.matching} runs?`);
  const { operation } = await batches.startBatchOperation({
    selection,
    action: spec.action,
    rate,
    // One id per command line: a retried call (a lost answer) finds the same operation.
    requestId: `cli-${randomUUID()}`,
    description: `aiki runs ${spec.verb}`,
  });
  const id = operation!.id;
  if (ctx.values.detach === true) {
    if (ctx.json) {
      printJson(ctx.out, GetBatchOperationResponseSchema, create(GetBatchOperationResponseSchema, { operation }));
      return 0;
    }
    println(ctx.out.stdout, `batch operation ${id} started: ${operation!.matching} runs (follow it with \`aiki batches get ${id}\`)`);
    return 0;
  }
  const progress = new Progress(ctx.out.stderr as NodeJS.WritableStream & { isTTY?: boolean });
  progress.start(`${spec.verb}: ${batchProgress(operation!)}`);
  let current = operation!;
  try {
    while (current.status === BatchOperationStatus.RUNNING) {
      await new Promise((r) => setTimeout(r, pollMs));
      current = (await batches.getBatchOperation({ operationId: id })).operation!;
      progress.update(`${spec.verb}: ${batchProgress(current)}`);
    }
  } finally {
    progress.stop();
  }
  if (ctx.json) printJson(ctx.out, GetBatchOperationResponseSchema, create(GetBatchOperationResponseSchema, { operation: current }));
  else {
    println(ctx.out.stdout, `batch operation ${id} ${batchStatusName(current.status)}: ${batchProgress(current)}`);
    for (const f of current.failures) println(ctx.out.stdout, `  failed ${f.runId}: ${f.reason}`);
    if (current.statusReason) println(ctx.out.stdout, `  ${current.statusReason}`);
  }
  return current.status === BatchOperationStatus.COMPLETED && current.failed === 0n ? 0 : 1;
}

async function confirm(ctx: CommandContext, question: string): Promise<void> {
  if (!process.stdin.isTTY) throw new UsageError(`${question} Pass --yes to confirm without a terminal (or --dry-run to only count)`);
  const rl = createInterface({ input: process.stdin, output: ctx.out.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== "y" && answer !== "yes") throw new CliError("not confirmed; nothing done");
  } finally {
    rl.close();
  }
}
