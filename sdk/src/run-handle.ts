import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { Run } from "@aiki/gen/aiki/v1/run_pb";
import { WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import { Backoff } from "./backoff.js";
import { type Client, clientInternals } from "./client.js";
import { type Duration, durationToMs } from "./duration.js";
import type { EventDefinitions } from "./event.js";
import { createEventSenders, type EventSenders } from "./event-senders.js";
import { isTransientRpcError } from "./rpc-error-translation.js";
import { type RunStatus, runStatusToPb } from "./run-status.js";
import { runFromPb, type StateForStatus, type WorkflowRun } from "./workflow-run.js";

export interface WaitForStatusOptions {
  /** Give up after this long with `{ success: false, cause: "timeout" }`; default: wait as long as it takes. */
  timeout?: Duration;
  /** Give up when aborted with `{ success: false, cause: "aborted" }`. */
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
   * Waits until the run is in `status` (success) or in another terminal status
   * (`run_terminated`). Answers at once when that already holds.
   */
  waitForStatus<S extends RunStatus>(status: S, options?: WaitForStatusOptions): Promise<WaitForStatusResult<S, Output>>;
}

/** What a handle needs to know of its workflow version. */
export interface HandleVersion<Output, Events extends EventDefinitions> {
  name: string;
  versionId: string;
  events: Events;
  decodeOutput(json: unknown): Output;
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

  async awake(): Promise<void> {
    this.update((await clientInternals(this.client).runs.awakeRun({ runId: this.#run.id })).run);
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
      let response;
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

  private update(run: Run | undefined): WorkflowRun<Input, Output> {
    if (run) this.#run = this.decode(run);
    return this.#run;
  }

  private decode(run: Run): WorkflowRun<Input, Output> {
    return runFromPb<Input, Output>(run, (json) => this.version.decodeOutput(json));
  }
}
