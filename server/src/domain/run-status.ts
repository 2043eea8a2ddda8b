/** Every state a run can be in; the last three are terminal. */
export const runStatuses = [
  "scheduled",
  "queued",
  "running",
  "paused",
  "sleeping",
  "awaiting_event",
  "awaiting_retry",
  "awaiting_child_workflow",
  "completed",
  "failed",
  "cancelled",
] as const;

export type RunStatus = (typeof runStatuses)[number];

export const terminalStatuses: readonly RunStatus[] = ["completed", "failed", "cancelled"];

/** States where the run waits for a timer or an outside signal, holding no worker. */
export const suspendedStatuses: readonly RunStatus[] = ["sleeping", "awaiting_event", "awaiting_retry", "awaiting_child_workflow"];

export function isTerminal(status: RunStatus): boolean {
  return terminalStatuses.includes(status);
}

export function isRunStatus(value: string): value is RunStatus {
  return (runStatuses as readonly string[]).includes(value);
}

const wokenOrStopped: readonly RunStatus[] = ["queued", "cancelled", "paused"];

/** The legal transitions (docs/semantics.md, Run states), as a table so that tests can walk it. */
export const allowedTransitions: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  scheduled: ["queued", "paused", "cancelled"],
  queued: ["running", "paused", "cancelled"],
  running: [
    "sleeping",
    "awaiting_event",
    "awaiting_child_workflow",
    "awaiting_retry",
    "paused",
    "cancelled",
    "completed",
    "failed",
    // The lease was lost: the worker died and its lease expired.
    "queued",
  ],
  sleeping: wokenOrStopped,
  awaiting_event: wokenOrStopped,
  awaiting_child_workflow: wokenOrStopped,
  awaiting_retry: wokenOrStopped,
  paused: ["queued", "cancelled"],
  completed: [],
  failed: [],
  cancelled: [],
};

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return allowedTransitions[from].includes(to);
}

/** A run is created in one of these (SCHEDULED: a start due later); its first history row has no `from`. */
export const initialStatuses = ["scheduled", "queued"] as const satisfies readonly RunStatus[];

export type InitialStatus = (typeof initialStatuses)[number];

/** One history row's move: `from` null is the run's creation. */
export type RunMove = readonly [from: RunStatus | null, to: RunStatus];

/** Whether a history row may hold this move: a creation in an initial status, or a transition of the table. */
export function isAllowedMove([from, to]: RunMove): boolean {
  return from === null ? (initialStatuses as readonly RunStatus[]).includes(to) : canTransition(from, to);
}

/** Every move the table allows, creations included. */
export function allowedMoves(): RunMove[] {
  return [...initialStatuses.map((to): RunMove => [null, to]), ...runStatuses.flatMap((from) => allowedTransitions[from].map((to): RunMove => [from, to]))];
}
