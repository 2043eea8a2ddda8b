import { InvalidTransitionError } from "./errors.js";
import { isTerminal, type RunStatus } from "./run-status.js";

/** Requests a client can make about a run's state. */
export type RunAction = "cancel" | "pause" | "resume" | "awake";

/**
 * The status an action moves a run to, or InvalidTransitionError naming the current status.
 * Every target here is also in allowedTransitions (a table test checks that).
 */
export function targetStatusFor(action: RunAction, run: { id: string; status: RunStatus; revision: number }): RunStatus {
  const refuse = () => new InvalidTransitionError(run.id, run.status, action, run.revision);
  switch (action) {
    case "cancel":
      if (isTerminal(run.status)) throw refuse();
      return "cancelled";
    case "pause":
      if (isTerminal(run.status) || run.status === "paused") throw refuse();
      return "paused";
    case "resume":
      if (run.status !== "paused") throw refuse();
      return "queued";
    case "awake":
      if (run.status !== "sleeping") throw refuse();
      return "queued";
  }
}
