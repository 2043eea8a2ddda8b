import { randomUUID } from "node:crypto";
import { durationFromMs, type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type ChildWaitRecord, ChildWaitStatus, type EventWaitRecord, EventWaitStatus, SleepStatus, type Task, TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import type { Run } from "@aiki/gen/aiki/v1/run_pb";
import type { TaskCompletionSchema } from "@aiki/gen/aiki/v1/task_service_pb";
import type { Lease, SuspendRunRequestSchema, SuspendRunResponse } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import {
  AikiError,
  type ChildRunInfo,
  type ChildWaitResult,
  type Client,
  type EventDefinition,
  type EventWaitResult,
  type Logger,
  LeaseLostError,
  NonDeterminismError,
  ReplayMismatchError,
  type RunFailureCause,
  type StateForStatus,
  TaskFailedError,
  type TerminalRunStatus,
} from "@aiki/sdk";
import {
  abortableDelay,
  Backoff,
  type ChildStartRequest,
  type ChildWaitRequest,
  childRunKey,
  type ClientInternals,
  clientInternals,
  createRunContext,
  errorToFailure,
  failureFromPb,
  failureToPb,
  fromValue,
  isNonRetryable,
  isTransientRpcError,
  rpcCodeOf,
  maxAttemptsOf,
  parseWithSchema,
  replayAwareLogger,
  retryDelayMs,
  runFailureCauseToPb,
  runStatusFromPb,
  runStatusToPb,
  type RunEngine,
  startOptionsToPb,
  type TaskInternals,
  taskAddress,
  toJsonValue,
  toValue,
  type WorkflowVersionInternals,
} from "@aiki/sdk/internal";
import { ExecutionEnded, type ExecutionOutcome } from "./execution-ended.js";
import { findRecord, ReplayHistory } from "./replay-history.js";
import { tracePoint } from "@aiki/common/trace-point";
import { ExecutionTrace } from "./execution-tracing.js";

type SuspendWait = MessageInitShape<typeof SuspendRunRequestSchema>["wait"];
type TaskCompletionInit = MessageInitShape<typeof TaskCompletionSchema>;

/** The fenced calls an execution makes; a client's by default, fakes in tests. */
export interface ExecutionRpc {
  tasks: Pick<ClientInternals["tasks"], "startTask" | "completeTask" | "failTask">;
  leases: Pick<ClientInternals["leases"], "suspendRun" | "completeRun" | "failRun" | "startChildRun">;
  /** The ordered session the calls go over now, if any (WorkerRpc.channel): pipelining needs one. */
  channel?: () => object | undefined;
}

export interface RunExecutionOptions {
  lease: Lease;
  rpc?: ExecutionRpc;
  version: WorkflowVersionInternals;
  client: Client;
  logger: Logger;
  /** Task retries due within this delay wait in process; longer ones suspend the run. */
  inlineRetryMaxDelayMs: number;
  /** For jittered retry delays; injectable for tests. */
  random?: () => number;
  /** Run a task with no record yet while its StartTask commits (WorkerOptions eagerTasks). */
  eagerTasks?: boolean;
  /**
   * Told `true` once the execution runs no more code until the server answers its completion or
   * suspension, and `false` if it runs again after all (the suspension was not needed): its slot
   * may take the next run meanwhile.
   */
  onSettling?: (settling: boolean) => void;
}

// Transient write failures (server restarting) are retried this often before the execution gives
// up and leaves the lease to expire: about 10 s with the backoff below.
const maxWriteAttempts = 8;

/**
 * One execution of one leased run: runs the workflow handler from the top against the run's
 * history and turns its durable calls into fenced writes. Implements the SDK's RunEngine.
 *
 * Invariants: once `ended` is set nothing is written again; suspensions are serialized and wait
 * until no task attempt or write of this execution is in flight, so a suspension never abandons
 * work that already started.
 */
export class RunExecution implements RunEngine {
  readonly runId: string;
  readonly leaseToken: string;
  readonly client: Client;
  private readonly run: Run;
  private readonly version: WorkflowVersionInternals;
  private readonly rpc: ExecutionRpc;
  private readonly history: ReplayHistory;
  private readonly logger: Logger;
  private readonly inlineRetryMaxDelayMs: number;
  private readonly random: () => number;
  private readonly eagerTasks: boolean;

  private outcome: ExecutionOutcome | undefined;
  private readonly stop = new AbortController();
  private resolveEnded!: (outcome: ExecutionOutcome) => void;
  private readonly ended = new Promise<ExecutionOutcome>((resolve) => {
    this.resolveEnded = resolve;
  });

  // Operations with a write or a task attempt in progress; suspensions wait for zero.
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  // Tail of the chain of suspensions; new writes wait while any is pending.
  private suspensionTail: Promise<void> = Promise.resolve();
  private pendingSuspensions = 0;
  // Set when the handler settled and the final write is being made.
  private finishing = false;
  // Task successes not yet recorded: the run's next write carries them (StartTask, SuspendRun,
  // CompleteRun), else a flush a turn later records them on their own. So a task's result is
  // durable before anything the workflow does after it, at one commit fewer per task.
  private pendingCompletions: TaskCompletionInit[] = [];
  /** Pipelined first attempts by attempt id. */
  private readonly pipelinedStarts = new Map<string, PipelinedStart>();
  private flushScheduled = false;
  private readonly trace: ExecutionTrace;
  private readonly onSettling: (settling: boolean) => void;

  constructor(options: RunExecutionOptions) {
    const { lease } = options;
    if (!lease.run) throw new AikiError("a lease without a run");
    this.run = lease.run;
    this.runId = lease.run.id;
    this.leaseToken = lease.leaseToken;
    this.client = options.client;
    this.version = options.version;
    this.rpc = options.rpc ?? clientInternals(options.client);
    this.history = new ReplayHistory(lease.history);
    this.logger = options.logger;
    this.inlineRetryMaxDelayMs = options.inlineRetryMaxDelayMs;
    this.random = options.random ?? Math.random;
    this.eagerTasks = options.eagerTasks ?? false;
    this.onSettling = options.onSettling ?? (() => {});
    this.trace = new ExecutionTrace(lease.run, lease.run.leaseWorkerId || undefined);
  }

  /** How the execution ended, once it has. */
  get result(): ExecutionOutcome | undefined {
    return this.outcome;
  }

  /** Runs the handler to its end (or until the execution ends otherwise); never rejects. */
  async execute(): Promise<ExecutionOutcome> {
    // With the execution's span active: children, events and writes made for it continue its trace.
    const outcome = await this.trace.within(() => this.executeHandler());
    this.trace.end(outcome);
    return outcome;
  }

  private async executeHandler(): Promise<ExecutionOutcome> {
    const context = createRunContext({
      id: this.run.id,
      name: this.run.workflowName,
      versionId: this.run.workflowVersionId,
      attempt: this.run.attempt,
      logger: replayAwareLogger(this.logger, () => this.history.hasUnconsumed()),
      events: this.version.events,
      engine: this,
    });
    try {
      let input: unknown;
      try {
        input = parseWithSchema(this.version.inputSchema, fromValue(this.run.input), `workflow "${this.version.name}" ${this.version.versionId} input`);
      } catch (error) {
        await this.failRun("handler", error);
        return this.outcome ?? "error";
      }
      const settled = await Promise.race([
        (async () => {
          tracePoint("handler entered");
          return this.version.handler(context, input);
        })().then(
          (value) => ({ ok: true as const, value }),
          (error: unknown) => ({ ok: false as const, error }),
        ),
        this.ended.then(() => undefined),
      ]);
      if (!settled || this.outcome) return this.outcome ?? "error";
      tracePoint("handler returned");
      if (settled.ok) await this.completeRun(settled.value);
      else if (settled.error instanceof ExecutionEnded) return this.outcome ?? "error";
      else await this.failRun(failureCauseOf(settled.error), settled.error);
    } catch (error) {
      if (!(error instanceof ExecutionEnded)) {
        this.logger.error("workflow execution failed unexpectedly; leaving the lease to expire", { err: error });
        this.end("error");
      }
    }
    return this.outcome ?? "error";
  }

  /** Stops the execution from outside (lease lost per heartbeat, shutdown): nothing more is written. */
  abort(outcome: "lease_lost" | "aborted"): void {
    if (this.outcome) return;
    this.logger.info(outcome === "lease_lost" ? "lease lost; stopping the execution" : "execution stopped by the worker");
    this.end(outcome);
  }

  isReplaying(): boolean {
    return this.history.hasUnconsumed();
  }

  // ---- RunEngine ----

  async runTask(task: TaskInternals<unknown, unknown>, input: unknown): Promise<unknown> {
    if (this.outcome || this.finishing) return parked();
    const address = taskAddress(task.name, input);
    const { sequence, record } = this.history.claimTask(address);
    const call = `task "${task.name}" (${address}) #${sequence}`;
    if (record) {
      if (record.status === TaskStatus.COMPLETED) return this.decodeTaskOutput(task, fromValue(record.output));
      if (record.status === TaskStatus.FAILED && record.workflowAttempt === this.run.attempt) throw taskFailedError(task.name, record);
      if (record.status === TaskStatus.AWAITING_RETRY) await this.awaitRetryDue(record);
    } else {
      // Synchronous unless it fails: an extra turn here would let a concurrent suspension pass this call.
      const mismatch = this.addressMismatch(task.name, address);
      if (mismatch) await this.failForNonDeterminism(mismatch);
      await this.checkDeterminism(call);
    }
    return this.executeTask(task, toJsonValue(input), address, sequence, !record);
  }

  async sleep(name: string, durationMs: number): Promise<{ cancelled: boolean }> {
    if (this.outcome || this.finishing) return parked();
    const { sequence, record } = this.history.claimSleep(name);
    const recorded = sleepResult(record?.status);
    if (recorded && !this.history.hasUnconsumed()) this.waitEnded("sleep", name, sequence, recorded.cancelled ? "cancelled" : "elapsed", record);
    if (recorded) return recorded;
    if (!record) await this.checkDeterminism(`sleep "${name}" #${sequence}`);
    const response = await this.suspend({ case: "sleep", value: { name, sequence, duration: durationFromMs(durationMs) } });
    const over = findRecord.sleep(response.history, name, sequence);
    const result = sleepResult(over?.status);
    if (!result) return this.protocolError(`SuspendRun(sleep "${name}" #${sequence}) answered not suspended without a finished sleep record`);
    this.waitEnded("sleep", name, sequence, result.cancelled ? "cancelled" : "elapsed", over);
    return result;
  }

  /** The wait this execution resumes past (or found satisfied when it asked): traced with its recorded times. */
  private waitEnded(
    kind: "sleep" | "event wait",
    name: string,
    sequence: number,
    outcome: string,
    record: { startTime?: Timestamp | undefined; endTime?: Timestamp | undefined } | undefined,
  ): void {
    this.trace.waitEnded(kind, name, sequence, outcome, {
      startMs: record?.startTime ? timestampMs(record.startTime) : undefined,
      endMs: record?.endTime ? timestampMs(record.endTime) : undefined,
    });
  }

  async waitForEvent(eventName: string, definition: EventDefinition<unknown>, timeoutMs: number | undefined): Promise<EventWaitResult<unknown>> {
    if (this.outcome || this.finishing) return parked();
    const { sequence, record } = this.history.claimEventWait(eventName);
    const recorded = this.eventResult(eventName, definition, record);
    if (recorded && !this.history.hasUnconsumed()) this.waitEnded("event wait", eventName, sequence, recorded.timeout ? "timed out" : "received", record);
    if (recorded) return recorded;
    if (!record) await this.checkDeterminism(`wait for event "${eventName}" #${sequence}`);
    const response = await this.suspend({
      case: "eventWait",
      value: { eventName, sequence, timeout: timeoutMs === undefined ? undefined : durationFromMs(timeoutMs) },
    });
    const over = findRecord.eventWait(response.history, eventName, sequence);
    const result = this.eventResult(eventName, definition, over);
    if (!result) return this.protocolError(`SuspendRun(wait for event "${eventName}" #${sequence}) answered not suspended without a finished wait record`);
    this.waitEnded("event wait", eventName, sequence, result.timeout ? "timed out" : "received", over);
    return result;
  }

  async startChild(request: ChildStartRequest): Promise<ChildRunInfo> {
    if (this.outcome || this.finishing) return parked();
    const key = childRunKey(request.options.referenceId, request.input);
    const { sequence, record } = this.history.claimChildRun(key);
    const call = `child run of "${request.workflowName}" ${request.versionId} (key ${key}) #${sequence}`;
    const referenceId = request.options.referenceId;
    if (record) {
      if (record.workflowName !== request.workflowName || record.workflowVersionId !== request.versionId) {
        return this.failNonDeterministic(`${call}, where history has a child of "${record.workflowName}" ${record.workflowVersionId}`, [
          {
            kind: "child_run",
            key,
            sequence,
            description: `child run of "${record.workflowName}" ${record.workflowVersionId} (key ${key}) #${sequence}`,
          },
        ]);
      }
      return { id: record.childRunId, name: record.workflowName, versionId: record.workflowVersionId, referenceId };
    }
    await this.checkDeterminism(call);
    await this.passSuspensions();
    await this.flushCompletions();
    const response = await this.track(() =>
      this.write("StartChildRun", (signal) =>
        this.rpc.leases.startChildRun(
          {
            parentRunId: this.runId,
            leaseToken: this.leaseToken,
            workflowName: request.workflowName,
            workflowVersionId: request.versionId,
            input: toValue(request.input),
            key,
            sequence,
            ...startOptionsToPb(request.options, request.defaultRetry),
            traceContext: this.trace.childTraceContext(),
          },
          { signal },
        ),
      ),
    );
    const child = response.run;
    if (!child) return this.protocolError(`StartChildRun (${call}) answered without a run`);
    return { id: child.id, name: child.workflowName, versionId: child.workflowVersionId, referenceId };
  }

  async waitForChild<S extends TerminalRunStatus, Output>(request: ChildWaitRequest<S, Output>): Promise<ChildWaitResult<S, Output>> {
    if (this.outcome || this.finishing) return parked();
    const childRunId = request.child.id;
    const { sequence, record } = this.history.claimChildWait(childRunId);
    const recorded = await this.childResult(request, record);
    if (recorded) return recorded;
    if (!record) await this.checkDeterminism(`wait for child run ${childRunId} #${sequence}`);
    const response = await this.suspend({
      case: "childWait",
      value: {
        childRunId,
        sequence,
        awaitedStatus: runStatusToPb(request.status),
        timeout: request.timeoutMs === undefined ? undefined : durationFromMs(request.timeoutMs),
      },
    });
    const result = await this.childResult(request, findRecord.childWait(response.history, childRunId, sequence));
    if (!result) return this.protocolError(`SuspendRun(wait for child ${childRunId} #${sequence}) answered not suspended without a finished wait record`);
    return result;
  }

  // ---- tasks ----

  private async executeTask(task: TaskInternals<unknown, unknown>, input: unknown, address: string, sequence: number, fresh: boolean): Promise<unknown> {
    const tasks = this.rpc.tasks;
    const maxAttempts = maxAttemptsOf(task.retry);
    const inputValue = toValue(input);
    for (let round = 0; ; round++) {
      await this.passSuspensions();
      const step = await this.track(async (): Promise<{ done: true; value: unknown } | { done: false; suspendFor?: Task }> => {
        // One id per attempt: a StartTask retried after a lost answer does not count another.
        const attemptId = randomUUID();
        const channel = this.rpc.channel?.();
        let sent!: () => void;
        const isSent = new Promise<void>((resolve) => {
          sent = resolve;
        });
        const starting = this.carrying(
          (completedTasks) =>
            this.write("StartTask", (signal) =>
              tasks.startTask(
                {
                  runId: this.runId,
                  leaseToken: this.leaseToken,
                  name: task.name,
                  address,
                  sequence,
                  input: inputValue,
                  maxAttempts,
                  attemptId,
                  completedTasks,
                },
                { signal },
              ),
            ),
          sent,
        );
        // A task the lease's history has no record of has never started: with eagerTasks its
        // first attempt runs (once StartTask is sent) while StartTask commits, and a success is
        // pipelined: the workflow goes on at once and the completion, naming the attempt by its
        // attempt id, rides on the next write, which the server applies after this StartTask's
        // answer. So the task's record still precedes its result and its attempt is counted,
        // and the round trip leaves the path; but a task whose StartTask is refused (lease
        // lost) has then run once without a record.
        // A task never started is at its first attempt, so its span needs no answer either.
        const early =
          this.eagerTasks && fresh && round === 0
            ? settle(async () => {
                // Only once StartTask is on its way: a task never runs before its start is sent.
                await Promise.race([isSent, starting]);
                // And written to the connection (HTTP/2 flushes on the loop's next turn): a worker
                // that dies as the task begins has still sent the StartTask that counts the attempt.
                await nextTurn();
                await nextTurn();
                return this.trace.taskAttempt({ name: task.name, address, sequence, attempt: 1, maxAttempts }, () => this.runTaskHandler(task, input));
              })
            : undefined;
        if (early && channel) {
          const piped = await this.pipelined(task, attemptId, channel, starting, await early);
          if (piped) return piped;
        }
        const { task: record } = await starting;
        if (!record) return this.protocolError(`StartTask(${address} #${sequence}) answered without a task`);
        // Replays and exhausted budgets come back finished: the task must not run again.
        if (record.status === TaskStatus.COMPLETED) return { done: true, value: this.decodeTaskOutput(task, fromValue(record.output)) };
        if (record.status === TaskStatus.FAILED) throw taskFailedError(task.name, record);

        const attempt = record.attempts;
        let stored: unknown;
        try {
          const output = early
            ? unwrap(await early)
            : await this.trace.taskAttempt({ name: task.name, address, sequence, attempt, maxAttempts }, () => this.runTaskHandler(task, input));
          stored = toJsonValue(parseWithSchema(task.outputSchema, output, `task "${task.name}" output`));
        } catch (error) {
          this.assertLive();
          const failure = errorToFailure(error);
          const delayMs = isNonRetryable(error) ? undefined : retryDelayMs(task.retry, attempt, this.random);
          await this.flushCompletions();
          await this.write(
            "FailTask",
            (signal) =>
              tasks.failTask(
                {
                  runId: this.runId,
                  leaseToken: this.leaseToken,
                  taskId: record.id,
                  attempt,
                  failure: failureToPb(failure),
                  retryDelay: delayMs === undefined ? undefined : durationFromMs(delayMs),
                },
                { signal },
              ),
            { landedIfStale: true },
          );
          if (delayMs === undefined) throw new TaskFailedError({ taskName: task.name, taskId: record.id, attempts: attempt, failure, cause: error });
          this.logger.debug("task attempt failed; retrying", { task: task.name, attempt, maxAttempts, delayMs, err: error });
          this.trace.retryScheduled(task.name, attempt, delayMs, delayMs <= this.inlineRetryMaxDelayMs);
          if (delayMs > this.inlineRetryMaxDelayMs) return { done: false, suspendFor: record };
          await this.delay(delayMs);
          return { done: false };
        }
        this.assertLive();
        this.deferCompletion({ taskId: record.id, attempt, output: toValue(stored) });
        // What a replay would return, so the first execution and every replay see the same value.
        return { done: true, value: this.decodeTaskOutput(task, stored) };
      });
      if (step.done) return step.value;
      if (step.suspendFor) await this.suspend({ case: "taskRetry", value: { taskId: step.suspendFor.id } });
    }
  }

  /**
   * The eager first attempt's outcome: a success goes on without StartTask's answer (the answer
   * is checked when it comes, and a refusal ends the execution); a failure, or an output its
   * schema refuses, is left to the caller, which waits for the answer and fails the attempt.
   */
  private async pipelined(
    task: TaskInternals<unknown, unknown>,
    attemptId: string,
    channel: object,
    starting: Promise<{ task?: Task | undefined }>,
    outcome: Settled,
  ): Promise<{ done: true; value: unknown } | undefined> {
    if (!outcome.ok) return undefined;
    let stored: unknown;
    try {
      stored = toJsonValue(parseWithSchema(task.outputSchema, outcome.value, `task "${task.name}" output`));
    } catch {
      return undefined;
    }
    this.assertLive();
    const record = starting.then(({ task: answered }) => {
      if (answered?.status !== TaskStatus.RUNNING)
        return this.protocolError(`StartTask(${task.name}, pipelined) answered ${answered ? TaskStatus[answered.status] : "no task"}`);
      return answered;
    });
    const started: PipelinedStart = { record, channel, task: undefined };
    void record.then(
      (answered) => {
        started.task = answered;
      },
      () => undefined,
    );
    this.pipelinedStarts.set(attemptId, started);
    // Counted in flight until answered, so a suspension or a determinism check waits for it.
    void this.track(() => record).catch((error: unknown) => {
      if (error instanceof ExecutionEnded || this.outcome) return;
      // Refused for another reason than the lease (the workflow has gone on past the task):
      // end the execution, leaving the lease to expire so the run resumes from its history.
      this.logger.error(`StartTask(${task.name}) refused after the task ran; leaving the lease to expire`, { err: error });
      this.end("error");
    });
    this.deferCompletion({ attemptId, output: toValue(stored) });
    return { done: true, value: this.decodeTaskOutput(task, stored) };
  }

  private async runTaskHandler(task: TaskInternals<unknown, unknown>, input: unknown): Promise<unknown> {
    const parsedInput = parseWithSchema(task.inputSchema, input, `task "${task.name}" input`);
    tracePoint("task running", task.name);
    const output = await task.handler(parsedInput);
    tracePoint("task returned", task.name);
    return output;
  }

  /** A task record waiting for its next attempt: wait here when that is soon, else suspend until it is due. */
  private async awaitRetryDue(record: Task): Promise<void> {
    if (!record.nextAttemptTime) return;
    const waitMs = timestampMs(record.nextAttemptTime) - Date.now();
    if (waitMs <= 0) return;
    if (waitMs <= this.inlineRetryMaxDelayMs) {
      await this.track(() => this.delay(waitMs));
      return;
    }
    await this.suspend({ case: "taskRetry", value: { taskId: record.id } });
  }

  private decodeTaskOutput(task: TaskInternals<unknown, unknown>, json: unknown): unknown {
    return parseWithSchema(task.outputSchema, json, `task "${task.name}" output`);
  }

  // ---- events and children ----

  private eventResult(eventName: string, definition: EventDefinition<unknown>, record: EventWaitRecord | undefined): EventWaitResult<unknown> | undefined {
    if (record?.status === EventWaitStatus.TIMED_OUT) return { timeout: true };
    if (record?.status !== EventWaitStatus.RECEIVED) return undefined;
    const data = parseWithSchema(definition.schema, fromValue(record.event?.data), `event "${eventName}" data`);
    return { timeout: false, data };
  }

  private async childResult<S extends TerminalRunStatus, Output>(
    request: ChildWaitRequest<S, Output>,
    record: ChildWaitRecord | undefined,
  ): Promise<ChildWaitResult<S, Output> | undefined> {
    if (record?.status === ChildWaitStatus.TIMED_OUT) return { success: false, cause: "timeout" };
    if (record?.status !== ChildWaitStatus.FINISHED) return undefined;
    const childStatus = runStatusFromPb(record.childStatus);
    if (childStatus !== request.status) return { success: false, cause: "run_terminated" };
    let state: StateForStatus<TerminalRunStatus, Output>;
    switch (request.status) {
      case "completed": {
        let output: Output;
        try {
          output = request.decodeOutput(fromValue(record.output));
        } catch (error) {
          // A cached child output that no longer fits the child's schema: replaying on would be wrong.
          await this.failRun("child_schema", error);
          throw new ExecutionEnded(this.outcome ?? "failed");
        }
        state = { status: "completed", output };
        break;
      }
      case "failed":
        state = {
          status: "failed",
          failure: record.failure ? failureFromPb(record.failure) : { message: "the child run failed without a recorded failure", nonRetryable: false },
          cause: undefined,
        };
        break;
      default:
        state = { status: "cancelled", reason: undefined };
    }
    return { success: true, state: state as StateForStatus<S, Output> };
  }

  // ---- task completions ----

  private deferCompletion(completion: TaskCompletionInit): void {
    this.pendingCompletions.push(completion);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // A write the handler makes right after the task (its next durable call) takes the
    // completion along; if none has by the next turn, it is recorded on its own.
    setImmediate(() => {
      this.flushScheduled = false;
      // A pending suspension carries them (it waits a turn for the handler's other branches).
      if (this.pendingCompletions.length === 0 || this.outcome || this.finishing || this.pendingSuspensions > 0) return;
      void this.flushCompletions().catch(() => undefined);
    });
  }

  private takeCompletions(): TaskCompletionInit[] {
    const taken = this.pendingCompletions;
    this.pendingCompletions = [];
    return taken;
  }

  /**
   * Runs a write that carries the pending completions. They are taken once, so every retry of
   * the write sends the same ones; if the write fails otherwise than by the execution ending,
   * they go back to pending for the next write.
   */
  private async carrying<T>(write: (completedTasks: TaskCompletionInit[]) => Promise<T>, onSent?: () => void): Promise<T> {
    // Sent in this turn unless a completion must first wait for its StartTask's answer.
    const resolving = this.byTaskId(this.takeCompletions());
    const taken = Array.isArray(resolving) ? resolving : await resolving;
    try {
      const writing = write(taken);
      onSent?.();
      return await writing;
    } catch (error) {
      if (!(error instanceof ExecutionEnded) && taken.length > 0) this.pendingCompletions.unshift(...taken);
      throw error;
    }
  }

  /**
   * A pipelined completion names its attempt by attempt id, which the server resolves only on
   * the session its StartTask went over. One whose StartTask answered already, whose session is
   * gone (a reconnect, unary calls), or every one when `byAttemptId` is false (CompleteTask names
   * a task id) goes by task id, waiting for its StartTask's answer if need be; one whose StartTask
   * was refused is dropped (the execution is ending). Answered at once (an array, so the write
   * leaves in this turn) unless some completion has to wait.
   */
  private byTaskId(completions: TaskCompletionInit[], byAttemptId = true): TaskCompletionInit[] | Promise<TaskCompletionInit[]> {
    if (!completions.some((c) => c.attemptId)) return completions;
    const channel = byAttemptId ? this.rpc.channel?.() : undefined;
    const byId = (c: TaskCompletionInit, task: Task): TaskCompletionInit => ({ taskId: task.id, attempt: task.attempts, output: c.output });
    const resolved = completions.map((c) => {
      const started = c.attemptId ? this.pipelinedStarts.get(c.attemptId) : undefined;
      if (!started) return c;
      if (started.task) return byId(c, started.task);
      if (channel !== undefined && started.channel === channel) return c;
      return started.record.then(
        (task) => byId(c, task),
        () => undefined,
      );
    });
    if (!resolved.some((c) => c instanceof Promise)) return resolved as TaskCompletionInit[];
    return Promise.all(resolved).then((all) => all.filter((c) => c !== undefined));
  }

  /** Records the pending completions on their own (before a write that cannot carry them). */
  private async flushCompletions(final = false): Promise<void> {
    const pending = this.takeCompletions();
    if (pending.length === 0) return;
    const tasks = this.rpc.tasks;
    await this.track(async () => {
      for (const c of await this.byTaskId(pending, false)) {
        await this.write(
          "CompleteTask",
          (signal) =>
            tasks.completeTask({ runId: this.runId, leaseToken: this.leaseToken, taskId: c.taskId, attempt: c.attempt, output: c.output }, { signal }),
          { landedIfStale: true, final },
        );
      }
    });
  }

  // ---- suspension, determinism, writes ----

  /**
   * SuspendRun, serialized with other suspensions and after every in-flight operation has
   * settled. Answers the response when the wait was already satisfied; ends the execution (and
   * throws ExecutionEnded) when the run suspended.
   */
  private async suspend(wait: SuspendWait): Promise<SuspendRunResponse> {
    const previous = this.suspensionTail;
    let release!: () => void;
    this.suspensionTail = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.pendingSuspensions++;
    try {
      await previous;
      await this.whenIdle();
      // Nothing else is in flight, and nothing runs until the answer says whether to go on.
      this.onSettling(true);
      const response = await this.track(() =>
        this.carrying((completedTasks) =>
          this.write("SuspendRun", (signal) =>
            this.rpc.leases.suspendRun({ runId: this.runId, leaseToken: this.leaseToken, wait, completedTasks }, { signal }),
          ),
        ),
      ).catch((error: unknown) => {
        this.onSettling(false);
        throw error;
      });
      if (!response.suspended) this.onSettling(false);
      if (response.suspended) {
        this.logger.debug("run suspended", { wait: wait?.case });
        this.trace.suspended(wait?.case ?? "unknown", waitName(wait));
        this.end("suspended");
        throw new ExecutionEnded("suspended");
      }
      return response;
    } finally {
      this.pendingSuspensions--;
      release();
    }
  }

  /** New writes wait while a suspension is pending: if it suspends the run, they must not happen. */
  private async passSuspensions(): Promise<void> {
    while (this.pendingSuspensions > 0) {
      await this.suspensionTail;
      this.assertLive();
    }
    this.assertLive();
  }

  /**
   * A call that history does not have: fine when every recorded entry has been reached. Else the
   * other branches of a concurrent handler get to catch up first (cached answers resolve within
   * a turn; writes in flight finish), and only entries still unreached then are non-determinism.
   */
  private async checkDeterminism(call: string): Promise<void> {
    if (!this.history.hasUnconsumed()) return;
    await this.whenIdle();
    const unconsumed = this.history.unconsumed();
    if (unconsumed.length === 0) return;
    await this.failNonDeterministic(call, unconsumed);
  }

  /**
   * A call with no record at its address, while a record of the same task whose input gives that
   * very address waits unconsumed under another: written by a worker hashing otherwise. Running
   * the task would run it twice, so the run must fail naming both addresses.
   */
  private addressMismatch(taskName: string, address: string): ReplayMismatchError | undefined {
    const record = this.history
      .unconsumedTasks()
      .find((t) => t.name === taskName && t.address !== address && taskAddress(t.name, fromValue(t.input)) === address);
    if (!record) return undefined;
    return new ReplayMismatchError({
      runId: this.runId,
      taskName,
      recordedAddress: record.address,
      calledAddress: address,
      unconsumed: this.history.unconsumed(),
    });
  }

  private failNonDeterministic(call: string, unconsumed: NonDeterminismError["unconsumed"]): Promise<never> {
    return this.failForNonDeterminism(new NonDeterminismError({ runId: this.runId, call, unconsumed }));
  }

  private async failForNonDeterminism(error: NonDeterminismError): Promise<never> {
    this.logger.error(error.message);
    await this.failRun("non_determinism", error);
    throw new ExecutionEnded(this.outcome ?? "failed");
  }

  /** Resolves once no operation is in flight, after letting queued continuations run. */
  private async whenIdle(): Promise<void> {
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.assertLive();
      if (this.inFlight === 0) return;
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
  }

  private async track<T>(operation: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await operation();
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) this.wakeIdleWaiters();
    }
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * A fenced write: retried while the server is briefly unreachable; a lost lease ends the
   * execution quietly. Other errors reach the caller (user code sees e.g. a child-start conflict).
   */
  private write<T>(what: string, call: (signal: AbortSignal) => Promise<T>, options?: { final?: boolean }): Promise<T>;
  /** For task outcome writes, whose answer nobody reads: a stale refusal after a retry means the first try landed. */
  private write(what: string, call: (signal: AbortSignal) => Promise<unknown>, options: { landedIfStale: true; final?: boolean }): Promise<unknown>;
  private async write<T>(
    what: string,
    call: (signal: AbortSignal) => Promise<T>,
    options: { final?: boolean; landedIfStale?: boolean } = {},
  ): Promise<T | undefined> {
    const backoff = new Backoff(100, 2_000);
    for (let attempt = 1; ; attempt++) {
      this.assertLive();
      // Once the run's last word (CompleteRun/FailRun) is being said, nothing else may be.
      if (this.finishing && !options.final) throw new ExecutionEnded("finishing");
      try {
        const result = await call(this.stop.signal);
        this.assertLive();
        return result;
      } catch (error) {
        if (error instanceof ExecutionEnded) throw error;
        this.assertLive();
        if (clientInternals(this.client).closeSignal.aborted) {
          this.logger.warn(`${what} not sent: the client was closed; the lease is left to expire`);
          this.end("aborted");
          throw new ExecutionEnded("aborted");
        }
        if (error instanceof LeaseLostError) {
          this.logger.info(`${what} refused: the lease is lost; stopping the execution`, { currentStatus: error.currentStatus });
          this.end("lease_lost");
          throw new ExecutionEnded("lease_lost");
        }
        // A retried task write refused as stale: the earlier try landed and only its answer was lost.
        if (options.landedIfStale && attempt > 1 && rpcCodeOf(error) === "failed_precondition") return undefined;
        if (isTransientRpcError(error, this.stop.signal)) {
          if (attempt < maxWriteAttempts) {
            this.logger.warn(`${what} failed; retrying`, { attempt, err: error });
            await backoff.wait(this.stop.signal);
            continue;
          }
          this.logger.error(`${what} kept failing; leaving the lease to expire so the run resumes elsewhere`, { err: error });
          this.end("error");
          throw new ExecutionEnded("error");
        }
        throw error;
      }
    }
  }

  private async completeRun(value: unknown): Promise<void> {
    let output: unknown;
    try {
      output = parseWithSchema(this.version.outputSchema, value, `workflow "${this.version.name}" ${this.version.versionId} output`);
    } catch (error) {
      await this.failRun("output_schema", error);
      return;
    }
    try {
      output = toJsonValue(output);
    } catch (error) {
      await this.failRun("handler", error);
      return;
    }
    this.finishing = true;
    this.onSettling(true);
    const completedTasks = await this.byTaskId(this.takeCompletions());
    try {
      await this.write(
        "CompleteRun",
        (signal) => this.rpc.leases.completeRun({ runId: this.runId, leaseToken: this.leaseToken, output: toValue(output), completedTasks }, { signal }),
        { final: true },
      );
      this.end("completed");
    } catch (error) {
      if (error instanceof ExecutionEnded) return;
      // The server refused the output itself (too large, nested too deep, a NUL character it cannot
      // store): every attempt would be refused the same, so the run fails for it, not retried.
      if (rpcCodeOf(error) === "invalid_argument") {
        this.finishing = false;
        await this.failRun("output_schema", error);
        return;
      }
      this.logger.error("CompleteRun failed; leaving the lease to expire so the run resumes elsewhere", { err: error });
      this.end("error");
    }
  }

  private async failRun(cause: RunFailureCause, error: unknown): Promise<void> {
    if (this.outcome || this.finishing) return;
    this.finishing = true;
    this.onSettling(true);
    const failure = errorToFailure(error);
    // These causes fail the same way on every attempt; a workflow retry would only repeat them.
    if (cause === "non_determinism" || cause === "output_schema" || cause === "child_schema") failure.nonRetryable = true;
    this.logger.debug("workflow run failed", { cause, err: error });
    // A workflow retry replays with completed tasks cached: they must be recorded first.
    await this.flushCompletions(true).catch(() => undefined);
    if (this.outcome) return;
    await this.finalWrite("failed", "FailRun", (signal) =>
      this.rpc.leases.failRun({ runId: this.runId, leaseToken: this.leaseToken, failure: failureToPb(failure), cause: runFailureCauseToPb(cause) }, { signal }),
    );
  }

  private async finalWrite(outcome: "completed" | "failed", what: string, call: (signal: AbortSignal) => Promise<unknown>): Promise<void> {
    try {
      await this.write(what, call, { final: true });
      this.end(outcome);
    } catch (error) {
      if (error instanceof ExecutionEnded) return;
      this.logger.error(`${what} failed; leaving the lease to expire so the run resumes elsewhere`, { err: error });
      this.end("error");
    }
  }

  private protocolError(message: string): never {
    this.logger.error(`protocol error: ${message}`);
    this.end("error");
    throw new ExecutionEnded("error");
  }

  private delay(ms: number): Promise<void> {
    return abortableDelay(ms, this.stop.signal).then(() => this.assertLive());
  }

  private assertLive(): void {
    if (this.outcome) throw new ExecutionEnded(this.outcome);
  }

  private end(outcome: ExecutionOutcome): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.stop.abort();
    this.resolveEnded(outcome);
    this.wakeIdleWaiters();
  }
}

/**
 * What a durable call made after the execution ended returns: a promise that never settles. The
 * call that was in flight at the end rejects with ExecutionEnded so the handler unwinds; a
 * handler that swallows that and calls again is parked here instead of spinning in a loop of
 * instant rejections. Nothing references it once the execution is dropped, so it is collected.
 */
function parked<T>(): Promise<T> {
  return new Promise<T>(() => {});
}

function failureCauseOf(error: unknown): RunFailureCause {
  if (error instanceof TaskFailedError) return "task";
  if (error instanceof NonDeterminismError) return "non_determinism";
  return "handler";
}

function sleepResult(status: number | undefined): { cancelled: boolean } | undefined {
  if (status === SleepStatus.COMPLETED) return { cancelled: false };
  if (status === SleepStatus.CANCELLED) return { cancelled: true };
  return undefined;
}

function taskFailedError(taskName: string, record: Task): TaskFailedError {
  const failure = record.failure ? failureFromPb(record.failure) : { message: "the task failed without a recorded failure", nonRetryable: false };
  return new TaskFailedError({ taskName, taskId: record.id, attempts: record.attempts, failure });
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A first attempt run before its StartTask answered, and the session that StartTask went over. */
interface PipelinedStart {
  record: Promise<Task>;
  channel: object;
  /** The record, once StartTask answered. */
  task: Task | undefined;
}

/** Runs `fn` now and keeps its outcome for later, so a failure waits to be read rather than going unhandled. */
function settle(fn: () => Promise<unknown>): Promise<Settled> {
  return fn().then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

function unwrap(settled: Settled): unknown {
  if (settled.ok) return settled.value;
  throw settled.error;
}

/** What a suspension waits for, in words, for its trace event. */
function waitName(wait: SuspendWait): string {
  switch (wait?.case) {
    case "sleep":
      return wait.value.name ?? "";
    case "eventWait":
      return wait.value.eventName ?? "";
    case "childWait":
      return wait.value.childRunId ?? "";
    case "taskRetry":
      return wait.value.taskId ?? "";
    default:
      return "";
  }
}
