import { clientInternals } from "./client.js";
import { type Duration, durationToMs } from "./duration.js";
import type { EventDefinitions } from "./event.js";
import { createEventSenders, type EventSenders } from "./event-senders.js";
import type { ChildRunInfo, ChildWaitResult, RunEngine } from "./run-engine.js";
import type { TerminalRunStatus } from "./run-status.js";
import type { HandleVersion } from "./run-handle.js";
import { runFromPb, type WorkflowRun } from "./workflow-run.js";

/**
 * A child run as its parent workflow sees it. `waitForStatus` is durable: the parent suspends
 * and the answer replays from history. The other methods are plain client calls (not replayed).
 */
export interface ChildRunHandle<Input, Output, Events extends EventDefinitions> {
  /** The child's identity; the same on every replay. */
  readonly run: ChildRunInfo;
  readonly events: EventSenders<Events>;
  /**
   * Suspends the parent until the child is in `status` (success), ends in another terminal
   * status (`run_terminated`), or the timeout passes (`timeout`; the child goes on).
   */
  waitForStatus<S extends TerminalRunStatus>(status: S, options?: { timeout?: Duration }): Promise<ChildWaitResult<S, Output>>;
  refresh(): Promise<WorkflowRun<Input, Output>>;
  cancel(reason?: string): Promise<void>;
}

export class ChildRunHandleImpl<Input, Output, Events extends EventDefinitions> implements ChildRunHandle<Input, Output, Events> {
  readonly events: EventSenders<Events>;

  constructor(
    private readonly engine: RunEngine,
    private readonly version: HandleVersion<Output, Events>,
    readonly run: ChildRunInfo,
  ) {
    this.events = createEventSenders(engine.client, version, version.events, run.id);
    Object.freeze(this.run);
  }

  waitForStatus<S extends TerminalRunStatus>(status: S, options: { timeout?: Duration } = {}): Promise<ChildWaitResult<S, Output>> {
    if (status !== "completed" && status !== "failed" && status !== "cancelled") {
      return Promise.reject(new TypeError(`a child handle waits for a terminal status (completed, failed, cancelled), got ${JSON.stringify(status)}`));
    }
    let timeoutMs: number | undefined;
    try {
      timeoutMs = options.timeout === undefined ? undefined : durationToMs(options.timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.engine.waitForChild({ child: this.run, status, timeoutMs, decodeOutput: (json) => this.version.decodeOutput(json) });
  }

  async refresh(): Promise<WorkflowRun<Input, Output>> {
    const { run } = await clientInternals(this.engine.client).runs.getRun({ runId: this.run.id });
    if (!run) throw new TypeError(`the server answered GetRun(${this.run.id}) without a run`);
    return runFromPb<Input, Output>(run, (json) => this.version.decodeOutput(json));
  }

  async cancel(reason?: string): Promise<void> {
    await clientInternals(this.engine.client).runs.cancelRun({ runId: this.run.id, reason: reason ?? "" });
  }
}
