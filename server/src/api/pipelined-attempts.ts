import type { Value } from "@bufbuild/protobuf/wkt";
import type { TaskCompletion as PbTaskCompletion } from "@aiki/gen/aiki/v1/task_service_pb";
import type { SessionRequest_Call } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import { trace } from "@opentelemetry/api";
import type { EngineDeps } from "../engine/engine-deps.js";
import { recordedAttempt } from "../engine/record-task.js";
import type { StartedTask, TaskCompletion } from "../store/task-repository.js";
import type { TaskRow } from "../store/tasks.table.js";
import type { Violations } from "./validation.js";

type Attempt = { taskId: string; attempt: number };

const maxRemembered = 1024;

/** A StartTask's own fields, as its handler validated them. */
export type StartFields = Omit<StartedTask, "output">;

/** What a StartTask taken over by a later write is told: its record as that write recorded it, or to apply itself after all. */
type TakenOutcome = { row: TaskRow } | { released: true };

/**
 * A write of a session that takes part in pipelining, as the session read it: a StartTask with
 * an attempt id (which a later write may take over while it waits to be applied), or a
 * StartTask, SuspendRun or CompleteRun whose completions name such starts by attempt id.
 */
class PipelinedCall {
  /** open: a StartTask that may still be taken over; taken: it was; applying: its handler writes it. */
  state: "open" | "taken" | "applying" = "applying";
  /** The starts this write took over, each with its completion (carried by this write) and that completion's index. */
  readonly took: Array<{ call: PipelinedCall; completion: PbTaskCompletion; index: number }> = [];
  /** Its completions that name tasks recorded by other writes (by task id, or by an attempt id its handler resolves). */
  readonly others: PbTaskCompletion[] = [];
  /** A StartTask's validated fields, once its handler has them; undefined when it refused them. */
  fields: StartFields | undefined;
  /** Settles once the handler has validated the call and resolved `others`: true when both went well. */
  readonly ready = deferred<boolean>();
  /** A taken-over StartTask's outcome, from the write that took it. */
  readonly taken = deferred<TakenOutcome>();
  /** When the oldest start of its chain (itself, or one it took over) arrived. */
  since = performance.now();

  constructor(
    readonly runId: string,
    readonly leaseToken: string,
    readonly attemptId: string,
  ) {}
}

/**
 * A session's StartTask calls by attempt id, so a write carrying a completion that names its
 * attempt only by attempt id (a worker pipelining, see TaskCompletion.attempt_id) is applied
 * after that StartTask has been answered, with the task id and attempt number it recorded: the
 * task's record precedes its result, and everything past the session still sees completions by
 * task id. An attempt started on another session, or answered long ago, is read back from the
 * store.
 *
 * A StartTask still waiting to be applied (for the answer of a start its own completions name,
 * or held a moment for such a write) when a later StartTask, SuspendRun or CompleteRun of the same
 * lease names its attempt is taken over by that write: its record and its result are written
 * with the later write, in one statement and one commit, and it is answered from there. A worker
 * pipelining a chain of tasks thus has the chain written by one statement after its first start,
 * not one per task (docs/worker-protocol.md, Pipelining).
 */
export class PipelinedAttempts {
  /** `holdMs`: how long an open start waits for a later write to take it over (hold). */
  constructor(readonly holdMs = 0) {}

  private readonly starts = new Map<string, Promise<Attempt | undefined>>();
  private readonly open = new Map<string, PipelinedCall>();
  private readonly calls = new WeakMap<object, PipelinedCall>();

  /**
   * A call was read from the session: called in the order they arrive, before its handler runs,
   * so a write takes over only starts that arrived before it (dependencies point backwards, and
   * no two writes can wait for each other).
   */
  arrived(request: SessionRequest_Call["request"]): void {
    if (request.case !== "startTask" && request.case !== "completeRun" && request.case !== "suspendRun") return;
    const r = request.value;
    const attemptId = request.case === "startTask" ? request.value.attemptId : "";
    const named = r.completedTasks.filter((c) => c.taskId === "" && c.attemptId !== "").map((c) => c.attemptId);
    if (named.length === 0 && attemptId === "") return;
    const call = new PipelinedCall(r.runId, r.leaseToken, attemptId);
    // An attempt named twice by one write is left to the store to refuse.
    const once = new Set(named).size === named.length;
    for (const [index, c] of r.completedTasks.entries()) {
      const start = once && c.taskId === "" ? this.open.get(c.attemptId) : undefined;
      if (start && start.runId === call.runId && start.leaseToken === call.leaseToken) {
        start.state = "taken";
        this.open.delete(start.attemptId);
        call.took.push({ call: start, completion: c, index });
        call.since = Math.min(call.since, start.since);
      } else {
        call.others.push(c);
      }
    }
    if (attemptId !== "") {
      call.state = "open";
      this.open.set(attemptId, call);
    }
    this.calls.set(r, call);
  }

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

  /** The pipelining part of a call this session read, if it has one. */
  callOf(request: object): PipelinedCall | undefined {
    return this.calls.get(request);
  }

  /**
   * A call was answered: whatever its handler did (it may have failed before it took part), a
   * start it took over that is still waiting applies itself, and no later write takes it over.
   */
  answered(request: SessionRequest_Call["request"]): void {
    const call = request.value ? this.calls.get(request.value) : undefined;
    if (call) release(this, call);
  }

  /** The handler applies the call itself: no later write may take it over any more. */
  applying(call: PipelinedCall): void {
    call.state = "applying";
    if (this.open.get(call.attemptId) === call) this.open.delete(call.attemptId);
  }
}

/** The session a call arrived on, when it did: its StartTask calls by attempt id. */
export const pipelinedAttemptsKey = createContextKey<PipelinedAttempts | undefined>(undefined, { description: "the session's StartTask calls by attempt id" });

/**
 * Before a write that carries completions: those naming their attempt by attempt id only get
 * their task id and attempt, from the call's session or from the store.
 */
async function resolvePipelinedCompletions(
  deps: EngineDeps,
  ctx: HandlerContext,
  v: Violations,
  namespace: string,
  runId: string,
  completions: PbTaskCompletion[],
): Promise<void> {
  if (!validAttemptIds(v, completions)) return;
  await (ctx.values.get(pipelinedAttemptsKey) ?? new PipelinedAttempts()).resolve(deps, namespace, runId, completions);
}

function validAttemptIds(v: Violations, completions: readonly PbTaskCompletion[]): boolean {
  if (!completions.some((c) => c.taskId === "" && c.attemptId !== "")) return false;
  for (const [i, c] of completions.entries()) v.identifier(`completed_tasks[${i}].attempt_id`, c.attemptId, false);
  return v.clean;
}

/** The `completed_tasks` of a write, validated (field names as the caller sent them). */
function completionsFromPb(v: Violations, completed: readonly PbTaskCompletion[]): TaskCompletion[] {
  return completed.map((c, i) => {
    // A pipelined completion (attempt_id only) was resolved to its task by now, if it could be.
    const taskId = v.uuid(`completed_tasks[${i}].task_id`, c.taskId);
    if (c.attempt < 1) v.add(`completed_tasks[${i}].attempt`, "must be at least 1");
    return { taskId, attempt: c.attempt, output: v.payload(`completed_tasks[${i}].output`, c.output) };
  });
}

/** A write of a StartTask or CompleteRun, ready to be applied with the starts it took over. */
export interface PipelinedWrite {
  /**
   * Validates the write's completions (its own and those of the starts it took over) and the
   * results of those starts, then applies it with `write`, which answers the write and returns
   * the starts' records as recorded (in the order given); each taken-over start is answered with
   * its record, or with the write's error.
   */
  apply<T>(write: (completions: TaskCompletion[], started: StartedTask[]) => Promise<{ answer: T; started: TaskRow[] }>): Promise<T>;
}

/**
 * A StartTask, SuspendRun or CompleteRun handler's part in pipelining (PipelinedAttempts): `start` is a
 * StartTask's own validated fields (undefined when it has violations). Answers `{ answered }`
 * when a later write took this StartTask over and recorded it; else the write to apply, with
 * every completion resolved to its task.
 */
/** The write a handler brings to joinPipeline: its call, validations so far, and where it writes. */
export interface PipelineJoin {
  deps: EngineDeps;
  ctx: HandlerContext;
  v: Violations;
  namespace: string;
  runId: string;
  request: { completedTasks: PbTaskCompletion[] };
}

export function joinPipeline(join: PipelineJoin): Promise<PipelinedWrite>;
export function joinPipeline(join: PipelineJoin, start: StartFields): Promise<{ answered: TaskRow } | PipelinedWrite>;
export async function joinPipeline(
  { deps, ctx, v, namespace, runId, request }: PipelineJoin,
  start?: StartFields,
): Promise<{ answered: TaskRow } | PipelinedWrite> {
  const session = ctx.values.get(pipelinedAttemptsKey);
  const call = session?.callOf(request);
  if (!session || !call) {
    await resolvePipelinedCompletions(deps, ctx, v, namespace, runId, request.completedTasks);
    return plainWrite(v, request.completedTasks, [], []);
  }
  call.fields = v.clean ? start : undefined;
  try {
    if (v.clean && validAttemptIds(v, call.others)) await session.resolve(deps, namespace, runId, call.others);
  } catch (error) {
    release(session, call);
    throw error;
  }
  call.ready.resolve(v.clean);
  if (!v.clean) {
    release(session, call);
    return plainWrite(v, request.completedTasks, [], []);
  }
  // The starts taken over, depth first: each after the starts it took over, as they were sent.
  // This call stays open (a later write may still take it over) until they are all ready.
  const completions = [...call.others];
  const took: Taken[] = [];
  const gather = async (c: PipelinedCall): Promise<void> => {
    for (const t of c.took) {
      if (!(await t.call.ready.promise)) {
        // Refused on its own (its answer says why, and it gave back what it took): its result
        // goes by what the store recorded for its attempt, and is stale if nothing.
        const found = await recordedAttempt(deps, namespace, runId, t.call.attemptId);
        t.completion.taskId = found.taskId;
        t.completion.attempt = found.attempt;
        completions.push(t.completion);
        continue;
      }
      await gather(t.call);
      completions.push(...t.call.others);
      took.push({ call: t.call, fields: t.call.fields!, output: t.completion.output, index: t.index });
    }
  };
  try {
    await gather(call);
  } catch (error) {
    release(session, call);
    throw error;
  }
  // An open start waits a moment for the write that carries its result: a pipelining worker
  // sends it as soon as the task returns, and then both are one statement and one commit.
  if (call.state === "open") await hold(call, session.holdMs);
  if (call.state === "taken") {
    const outcome = await call.taken.promise;
    if ("row" in outcome) {
      // Its store work is in the span of the write that took it over.
      trace.getActiveSpan()?.setAttribute("aiki.written_with_later_write", true);
      return { answered: outcome.row };
    }
    // Given back: apply it here after all, with what it took over.
  }
  session.applying(call);
  return plainWrite(
    v,
    completions,
    took,
    call.took.map((t) => t.call),
  );
}

type Taken = { call: PipelinedCall; fields: StartFields; output: Value | undefined; index: number };

/** `took`: every start taken over, depth first; `direct`: those this write took itself (the others' takers are among them). */
function plainWrite(v: Violations, completed: readonly PbTaskCompletion[], took: readonly Taken[], direct: readonly PipelinedCall[]): PipelinedWrite {
  return {
    async apply(write) {
      let completions: TaskCompletion[];
      let started: StartedTask[];
      try {
        completions = completionsFromPb(v, completed);
        started = took.map((t) => ({ ...t.fields, output: v.payload(`completed_tasks[${t.index}].output`, t.output) }));
        v.throwIfAny();
      } catch (error) {
        for (const c of direct) c.taken.resolve({ released: true });
        throw error;
      }
      try {
        const { answer, started: rows } = await write(completions, started);
        for (const [i, t] of took.entries()) t.call.taken.resolve({ row: rows[i]! });
        return answer;
      } catch (error) {
        for (const t of took) t.call.taken.reject(error);
        throw error;
      }
    },
  };
}

/**
 * An open start waits up to `holdMs` (AIKI_PIPELINE_HOLD_MS), from the oldest start of its
 * chain, for a later write to take it over. Its worker has not waited for it (the task ran at
 * once), so the wait costs the chain nothing; a task that runs longer has its start recorded
 * this much later.
 */
async function hold(call: PipelinedCall, holdMs: number): Promise<void> {
  const left = call.since + holdMs - performance.now();
  if (left <= 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    call.taken.promise.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, left);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * A write that will not apply the starts it took over gives them back: each applies itself, as
 * it would have had it not been taken (and gives back what it took in turn).
 */
function release(session: PipelinedAttempts, call: PipelinedCall): void {
  call.ready.resolve(false);
  session.applying(call);
  for (const t of call.took) t.call.taken.resolve({ released: true });
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Settled whether or not anyone waits (a start whose handler refused it never does).
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
