import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { Run } from "@aiki/gen/aiki/v1/run_pb";
import { type RerunRunRequest, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import { Backoff } from "./backoff.js";
import { type Client, clientInternals } from "./client.js";
import { type Duration, durationToMs } from "./duration.js";
import type { EventDefinitions } from "./event.js";
import { AikiError, WorkflowRunFailedError } from "./errors.js";
import { createEventSenders, type EventSenders } from "./event-senders.js";
import { RecordedFailureError } from "./failure.js";
import { isTransientRpcError } from "./rpc-error-translation.js";
import { type RunStatus, runStatusToPb } from "./run-status.js";
import { runFromPb, type StateForStatus, type WorkflowRun } from "./workflow-run.js";
import { type RerunOptions, rerunRequest } from "./rerun-options.js";

export interface WaitForStatusOptions {
  /** Give up after this long with `{ success: false, cause: "timeout" }`; default: wait as long as it takes. */
  timeout?: Duration;
  /** Give up when aborted with `{ success: false, cause: "aborted" }`. */
  abortSignal?: AbortSignal;
}

/**
 * Options of `waitForCompletion`. Giving up rejects with the platform's errors rather than an Aiki
 * class, the same ones `AbortSignal.timeout()` and `fetch` use: a `timeout` rejects with a
 * `DOMException` named "TimeoutError" (so `{ timeout: 5000 }` and
 * `{ abortSignal: AbortSignal.timeout(5000) }` fail alike), an abort with the signal's `reason`
 * (by default a `DOMException` named "AbortError"). Neither touches the run, which goes on;
 * `handle.run` holds its state as last seen.
 */
export interface WaitForCompletionOptions {
  /** Give up after this long (a DOMException "TimeoutError"); default: wait as long as it takes. */
  timeout?: Duration;
  /** Give up when aborted (rejects with `abortSignal.reason`). */
  abortSignal?: AbortSignal;
}

export type WaitForStatusResult<S extends RunStatus, Output> =
  | { success: true; state: StateForStatus<S, Output> }
  | { success: false; cause: "run_terminated" | "timeout" | "aborted" };

/** A reference to a run, from outside any workflow: read it, control it, send it events, wait for it. */
export interface WorkflowRunHandle<Input, Output, Events extends EventDefinitions> {
  /** The run as last read (start, refresh, a control call or a wait update it). */
  readonly run: WorkflowRun<Input, Output>;
  readonly events: EventSenders<Events>;
  refresh(): Promise<WorkflowRun<Input, Output>>;
  cancel(reason?: string): Promise<void>;
  pause(reason?: string): Promise<void>;
  resume(reason?: string): Promise<void>;
  /** Ends the current sleep early; the workflow sees `{ cancelled: true }`. */
  awake(): Promise<void>;
  /**
   * Keeps the run (and its tree) past the server's retention age: until a time, forever, or
   * `{ policy: true }` to let the server's age decide again (docs/retention.md).
   */
  keep(retention: { until: Date } | { forever: true } | { policy: true }): Promise<void>;
  /**
   * Waits until the run is in `status` (success) or in another terminal status
   * (`run_terminated`). Answers at once when that already holds.
   */
  waitForStatus<S extends RunStatus>(status: S, options?: WaitForStatusOptions): Promise<WaitForStatusResult<S, Output>>;
  /**
   * Waits until the run ends and resolves with its output when it completed. A run that failed
   * or was cancelled rejects with `WorkflowRunFailedError` (`status`, and `failure`,
   * `failureCause` and a chained `cause` for failed, `reason` for cancelled). Giving up rejects as
   * described on `WaitForCompletionOptions`. Answers at once when the run has already ended.
   */
  waitForCompletion(options?: WaitForCompletionOptions): Promise<Output>;
  /**
   * Starts a new run of the same version from this finished run's history (docs/semantics.md,
   * Rerun): the recorded results before `from` are copied and come back without executing again;
   * the rest executes live. This run is not changed. Rejects with InvalidTransitionError
   * (`action` "rerun", `currentStatus`) while the run is not completed, failed or cancelled.
   */
  rerun(options: RerunOptions<Input>): Promise<WorkflowRunHandle<Input, Output, Events>>;
  /** The reruns of this run (RunService.ListRuns with rerun_of), newest first, at most 1000. */
  reruns(): Promise<Array<WorkflowRun<Input, Output>>>;
}

/** What a handle needs to know of its workflow version. */
export interface HandleVersion<Output, Events extends EventDefinitions> {
  name: string;
  versionId: string;
  events: Events;
  decodeOutput(json: unknown): Output;
  /** Checks an input against the version's schema (before a rerun with new input). */
  parseInput(input: unknown): unknown;
}

// The server holds one WaitForRunStatus call at most this long; longer waits call again.
const serverMaxWaitMs = 5 * 60_000;
// How much longer than the server's hold the call may take before the client gives up on it.
const callGraceMs = 30_000;

export class RunHandle<Input, Output, Events extends EventDefinitions> implements WorkflowRunHandle<Input, Output, Events> {
  #run: WorkflowRun<Input, Output>;
  readonly events: EventSenders<Events>;

  constructor(
    private readonly client: Client,
    private readonly version: HandleVersion<Output, Events>,
    run: Run,
  ) {
    this.#run = this.decode(run);
    this.events = createEventSenders(client, version, version.events, run.id);
  }

  get run(): WorkflowRun<Input, Output> {
    return this.#run;
  }

  async refresh(): Promise<WorkflowRun<Input, Output>> {
    const { run } = await clientInternals(this.client).runs.getRun({ runId: this.#run.id });
    return this.update(run);
  }

  async cancel(reason?: string): Promise<void> {
    this.update((await clientInternals(this.client).runs.cancelRun({ runId: this.#run.id, reason: reason ?? "" })).run);
  }

  async pause(reason?: string): Promise<void> {
    this.update((await clientInternals(this.client).runs.pauseRun({ runId: this.#run.id, reason: reason ?? "" })).run);
  }

  async resume(reason?: string): Promise<void> {
    this.update((await clientInternals(this.client).runs.resumeRun({ runId: this.#run.id, reason: reason ?? "" })).run);
  }

  async rerun(options: RerunOptions<Input>): Promise<WorkflowRunHandle<Input, Output, Events>> {
    const input = options.input === undefined ? undefined : this.version.parseInput(options.input);
    const run = await rerunWithRetries(this.client, rerunRequest(this.#run.id, options, "", input));
    return new RunHandle<Input, Output, Events>(this.client, this.version, run);
  }

  async reruns(): Promise<Array<WorkflowRun<Input, Output>>> {
    const { runs } = await clientInternals(this.client).runs.listRuns({ rerunOf: this.#run.id, pageSize: 1000 });
    return runs.map((r) => runFromPb<Input, Output>(r, (json) => this.version.decodeOutput(json)));
  }

  async awake(): Promise<void> {
    this.update((await clientInternals(this.client).runs.awakeRun({ runId: this.#run.id })).run);
  }

  async keep(retention: { until: Date } | { forever: true } | { policy: true }): Promise<void> {
    const until = "until" in retention ? timestampFromDate(retention.until) : undefined;
    this.update((await clientInternals(this.client).runs.setRunRetention({ runId: this.#run.id, forever: "forever" in retention, until })).run);
  }

  async waitForStatus<S extends RunStatus>(status: S, options: WaitForStatusOptions = {}): Promise<WaitForStatusResult<S, Output>> {
    const awaited = runStatusToPb(status);
    const timeoutMs = options.timeout === undefined ? undefined : durationToMs(options.timeout);
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    const signal = options.abortSignal;
    const runs = clientInternals(this.client).runs;
    const backoff = new Backoff();
    for (;;) {
      if (signal?.aborted) return { success: false, cause: "aborted" };
      const holdMs = Math.min(serverMaxWaitMs, deadline === undefined ? serverMaxWaitMs : Math.max(0, deadline - Date.now()));
      let response: Awaited<ReturnType<typeof runs.waitForRunStatus>>;
      try {
        response = await runs.waitForRunStatus(
          { runId: this.#run.id, status: awaited, timeout: durationFromMs(holdMs) },
          { signal, timeoutMs: holdMs + callGraceMs },
        );
      } catch (error) {
        if (signal?.aborted) return { success: false, cause: "aborted" };
        // A server restarting or a dropped connection is not an answer: wait and ask again.
        if (isTransientRpcError(error, signal) && !clientInternals(this.client).closeSignal.aborted && (deadline === undefined || Date.now() < deadline)) {
          await backoff.wait(signal);
          continue;
        }
        throw error;
      }
      backoff.reset();
      const run = this.update(response.run);
      switch (response.outcome) {
        case WaitForRunStatusResponse_Outcome.REACHED:
          return { success: true, state: run.state as StateForStatus<S, Output> };
        case WaitForRunStatusResponse_Outcome.TERMINATED:
          return { success: false, cause: "run_terminated" };
        default:
          if (deadline !== undefined && Date.now() >= deadline) return { success: false, cause: "timeout" };
      }
    }
  }

  // Only here, not on ChildRunHandle: inside a workflow a wait must be durable and replay from
  // history, and the engine's child wait (RunEngine.waitForChild) reports a child that ended
  // otherwise only as `run_terminated`. The child's status and failure are in the recorded
  // ChildWaitRecord but the executor does not pass them on, so a child-side waitForCompletion
  // could only build its WorkflowRunFailedError from a second durable wait or from a live GetRun
  // that replay would not reproduce. Once ChildWaitResult carries them it can be added there with
  // `{ timeout }` only (an abort signal has no meaning in a replayed wait).
  async waitForCompletion(options: WaitForCompletionOptions = {}): Promise<Output> {
    const result = await this.waitForStatus("completed", options);
    if (result.success) return result.state.output;
    const runId = this.#run.id;
    if (result.cause === "timeout") {
      const after = options.timeout === undefined ? "" : ` after ${durationToMs(options.timeout)} ms`;
      throw new DOMException(`gave up waiting for workflow run ${runId} to complete${after}; it was ${this.#run.state.status}`, "TimeoutError");
    }
    if (result.cause === "aborted") {
      throw options.abortSignal?.reason ?? new DOMException(`the wait for workflow run ${runId} was aborted`, "AbortError");
    }
    // run_terminated: the long-poll's answer carried the run; read it should a server have left it out.
    let state = this.#run.state;
    if (state.status !== "failed" && state.status !== "cancelled") state = (await this.refresh()).state;
    switch (state.status) {
      case "failed":
        throw new WorkflowRunFailedError({
          runId,
          status: "failed",
          failure: state.failure,
          failureCause: state.cause,
          cause: new RecordedFailureError(state.failure),
        });
      case "cancelled":
        throw new WorkflowRunFailedError({ runId, status: "cancelled", reason: state.reason });
      default:
        throw new AikiError(`the server reported workflow run ${runId} terminated, but it is ${state.status}`);
    }
  }

  private update(run: Run | undefined): WorkflowRun<Input, Output> {
    if (run) this.#run = this.decode(run);
    return this.#run;
  }

  private decode(run: Run): WorkflowRun<Input, Output> {
    return runFromPb<Input, Output>(run, (json) => this.version.decodeOutput(json));
  }
}

// A rerun carries a request id, so repeating it after a transient failure never reruns twice.
const maxRerunAttempts = 5;

/** RerunRun, asked again after a transient error (same request id); answers the new run. */
export async function rerunWithRetries(client: Client, request: RerunRunRequest): Promise<Run> {
  const internals = clientInternals(client);
  const backoff = new Backoff();
  for (let attempt = 1; ; attempt++) {
    try {
      const { run } = await internals.runs.rerunRun(request);
      if (!run) throw new AikiError(`the server answered a rerun of ${request.runId} without a run`);
      return run;
    } catch (error) {
      if (attempt >= maxRerunAttempts || !isTransientRpcError(error, internals.closeSignal)) throw error;
      await backoff.wait(internals.closeSignal);
    }
  }
}
