import { isRunStatus, isTerminal, type RunStatus } from "../domain/run-status.js";
import { HintWaiter } from "../notify/hint-waiter.js";
import { channels } from "../notify/notifier.js";
import type { RunRow } from "../store/runs.table.js";
import type { EngineDeps } from "./engine-deps.js";
import { getRun } from "./query-runs.js";
import { tracePoint } from "@aiki/common/trace-point";

export type WaitOutcome = "reached" | "terminated" | "timeout";

/** The longest a single wait call is held; callers wanting more call again. */
export const maxWaitMs = 5 * 60_000;
/**
 * Long-poll: answers when the run is in `awaited` (undefined: any terminal status), or terminal,
 * or when timeoutMs passes, or the caller goes away.
 */
export async function waitForRunStatus(
  deps: EngineDeps,
  namespace: string,
  runId: string,
  awaited: RunStatus | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ outcome: WaitOutcome; run: RunRow }> {
  const judge = (run: Pick<RunRow, "status">): WaitOutcome | undefined =>
    awaited !== undefined && run.status === awaited ? "reached" : isTerminal(run.status) ? (awaited === undefined ? "reached" : "terminated") : undefined;
  // A run hint carries the run's new status: only one that would answer the wait is worth a read.
  const answers = (status: string) => !isRunStatus(status) || judge({ status }) !== undefined;
  const hints = new HintWaiter(deps.notifier, [channels.run(namespace, runId)], [signal, deps.shutdownSignal], answers);
  // Hints can be lost (Redis restarting): the server's watcher re-reads every held wait's run.
  // A row this server committed that answers the wait is the answer: no read back.
  let offered: RunRow | undefined;
  const unwatch = deps.runStatusWatcher.watch(runId, (status, row) => {
    if (row && row.namespace === namespace && judge(row) && (!offered || row.revision > offered.revision)) offered = row;
    if (answers(status)) hints.poke();
  });
  const deadline = Date.now() + Math.min(timeoutMs, maxWaitMs);
  try {
    for (;;) {
      hints.reset();
      const run = offered ?? (await getRun(deps, namespace, runId));
      const outcome = judge(run);
      if (outcome) return { outcome, run };
      const left = deadline - Date.now();
      if (left <= 0 || hints.aborted) return { outcome: "timeout", run };
      await hints.wait(left);
      tracePoint("wait woken", offered ? "offered" : "hint");
    }
  } finally {
    unwatch();
    hints.close();
  }
}
