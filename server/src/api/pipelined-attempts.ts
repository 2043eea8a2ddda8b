import type { TaskCompletion as PbTaskCompletion } from "@aiki/gen/aiki/v1/task_service_pb";
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { EngineDeps } from "../engine/engine-deps.js";
import { recordedAttempt } from "../engine/record-task.js";
import type { Violations } from "./validation.js";

type Attempt = { taskId: string; attempt: number };

const maxRemembered = 1024;

/**
 * A session's StartTask calls by attempt id, so a write carrying a completion that names its
 * attempt only by attempt id (a worker pipelining, see TaskCompletion.attempt_id) is applied
 * after that StartTask has been answered, with the task id and attempt number it recorded: the
 * task's record precedes its result, and everything past the session still sees completions by
 * task id. An attempt started on another session, or answered long ago, is read back from the
 * store.
 */
export class PipelinedAttempts {
  private readonly starts = new Map<string, Promise<Attempt | undefined>>();

  /** A StartTask with `attemptId` was received; `answered` settles with its task once answered. */
  started(attemptId: string, answered: Promise<{ id: string; attempts: number } | undefined>): void {
    const attempt = answered.then(
      (task) => (task ? { taskId: task.id, attempt: task.attempts } : undefined),
      () => undefined,
    );
    this.starts.set(attemptId, attempt);
    // Answered attempts stay a while (a completion often follows its answer closely), the oldest
    // leaving first: the store answers for any that left.
    if (this.starts.size > maxRemembered) this.starts.delete(this.starts.keys().next().value!);
  }

  /** Fills in task_id and attempt of the completions that name only an attempt id. */
  async resolve(deps: EngineDeps, namespace: string, runId: string, completions: PbTaskCompletion[]): Promise<void> {
    for (const c of completions) {
      if (c.taskId !== "" || c.attemptId === "") continue;
      // A StartTask of this session (answered, or answered once it is), else the store (which refuses an unknown one as stale).
      const found = (await this.starts.get(c.attemptId)) ?? (await recordedAttempt(deps, namespace, runId, c.attemptId));
      c.taskId = found.taskId;
      c.attempt = found.attempt;
    }
  }
}

/** The session a call arrived on, when it did: its StartTask calls by attempt id. */
export const pipelinedAttemptsKey = createContextKey<PipelinedAttempts | undefined>(undefined, { description: "the session's StartTask calls by attempt id" });

/**
 * Before a write that carries completions: those naming their attempt by attempt id only get
 * their task id and attempt, from the call's session or from the store.
 */
export async function resolvePipelinedCompletions(
  deps: EngineDeps,
  ctx: HandlerContext,
  v: Violations,
  namespace: string,
  runId: string,
  completions: PbTaskCompletion[],
): Promise<void> {
  if (!completions.some((c) => c.taskId === "" && c.attemptId !== "")) return;
  for (const [i, c] of completions.entries()) v.identifier(`completed_tasks[${i}].attempt_id`, c.attemptId, false);
  if (!v.clean) return;
  await (ctx.values.get(pipelinedAttemptsKey) ?? new PipelinedAttempts()).resolve(deps, namespace, runId, completions);
}
