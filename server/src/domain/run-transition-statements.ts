import { allowedTransitions, type RunMove, type RunStatus, runStatuses, suspendedStatuses, terminalStatuses } from "./run-status.js";

/**
 * A store function whose SQL moves runs: it writes a run's status (an insert, or a guarded update)
 * and appends its `run_transitions` row, often for many runs in one statement. `moves` are the
 * history rows it may write.
 */
export interface RunTransitionStatement {
  /** `file#function`, the file under server/src. */
  statement: string;
  moves: readonly RunMove[];
}

const transitionsOfTable = runStatuses.flatMap((from) => allowedTransitions[from].map((to): RunMove => [from, to]));
const toCancelled = runStatuses.filter((s) => !terminalStatuses.includes(s)).map((from): RunMove => [from, "cancelled"]);
const woken: RunStatus[] = ["scheduled", ...suspendedStatuses];

/**
 * Every statement that moves runs, beside the table it must keep to (run-status.ts). A test
 * scans server/src for functions writing `run_transitions` or setting `runs.status` and fails on
 * one missing here, and on a move here the table forbids; the test harness fails a test file
 * whose database holds a history row the table forbids, whichever statement wrote it.
 */
export const runTransitionStatements: readonly RunTransitionStatement[] = [
  // The generic guarded update; its caller names the target and refuses what the table forbids
  // (run-actions.ts), and transitionRun itself throws before writing a move outside the table.
  { statement: "store/run-repository.ts#transitionRun", moves: transitionsOfTable },
  {
    statement: "store/run-repository.ts#insertRun",
    moves: [
      [null, "scheduled"],
      [null, "queued"],
    ],
  },
  // With a lease: created QUEUED and leased at once (a start handed to an idle session).
  {
    statement: "store/run-repository.ts#insertRunUnlessTaken",
    moves: [
      [null, "scheduled"],
      [null, "queued"],
      ["queued", "running"],
    ],
  },
  { statement: "store/run-repository.ts#insertRunsUnlessTaken", moves: [[null, "queued"]] },
  { statement: "store/run-repository.ts#cancelDescendants", moves: toCancelled },
  // A batch operation's page (engine/batch-page.ts): transitionRun for many runs; its caller
  // names the target as for transitionRun, and it throws before writing a move outside the table.
  { statement: "store/run-repository.ts#transitionRunsGuarded", moves: transitionsOfTable },
  // SendEvent to one run: the wake, and the hand-over to an idle session, in one statement.
  {
    statement: "store/event-repository.ts#deliverEventToRun",
    moves: [
      ["awaiting_event", "queued"],
      ["queued", "running"],
    ],
  },
  { statement: "store/lease-repository.ts#claimReadyRuns", moves: [["queued", "running"]] },
  { statement: "store/lease-repository.ts#completeLeasedRunsWithoutParent", moves: [["running", "completed"]] },
  { statement: "store/lease-repository.ts#suspendOnNewSleepsIfLeased", moves: [["running", "sleeping"]] },
  { statement: "store/timer-repository.ts#fireDueTimers", moves: woken.map((from): RunMove => [from, "queued"]) },
  { statement: "store/timer-repository.ts#expireLeases", moves: [["running", "queued"]] },
];
