/**
 * Thrown through a workflow handler's awaits once its execution is over (suspended, lease lost,
 * failed, shutting down), so the handler unwinds without doing anything more. The executor
 * knows the execution ended whether or not user code swallows this.
 */
export class ExecutionEnded extends Error {
  constructor(readonly reason: ExecutionOutcome | "finishing") {
    super(`this workflow execution has ended (${reason}); it resumes from history later. Do not catch this error.`);
    this.name = "ExecutionEnded";
  }
}

/** How one execution of a run ended. */
export type ExecutionOutcome =
  /** CompleteRun recorded the output. */
  | "completed"
  /** FailRun recorded the failure (the server may still retry the workflow). */
  | "failed"
  /** SuspendRun ended the lease: a sleep, event, child or retry wait. */
  | "suspended"
  /** The server refused a write or a heartbeat: paused, cancelled, or leased to another worker. */
  | "lease_lost"
  /** The worker stopped the execution (shutdown); it releases the lease. */
  | "aborted"
  /** The server could not be reached or answered outside the protocol; the lease is left to expire or released. */
  | "error";
