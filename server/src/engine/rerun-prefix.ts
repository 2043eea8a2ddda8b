import { InvalidArgumentError } from "../domain/errors.js";
import { isTerminal, type RunStatus } from "../domain/run-status.js";
import type { ChildRunRow } from "../store/child-runs.table.js";
import type { EventRow } from "../store/events.table.js";
import { timelineKey } from "../store/history-copy-repository.js";
import type { RunWaitRow } from "../store/run-waits.table.js";
import type { RerunFromStep } from "../store/runs.table.js";
import type { TaskRow } from "../store/tasks.table.js";
import type { RunHistoryData } from "./run-history.js";

/** Where a rerun goes live, as asked (RerunRunRequest.from). */
export type RerunFrom = { kind: "start" } | { kind: "last_failure" } | { kind: "task"; address: string; sequence: number };

/** The records of the source a rerun copies, and where it went live. */
export interface RerunPrefix {
  tasks: TaskRow[];
  waits: RunWaitRow[];
  children: ChildRunRow[];
  /** The events the copied event waits consumed. */
  events: EventRow[];
  step: RerunFromStep;
}

type Entry =
  | { kind: "task"; time: bigint; tie: string; row: TaskRow }
  | { kind: "wait"; time: bigint; tie: string; row: RunWaitRow }
  | { kind: "child"; time: bigint; tie: string; row: ChildRunRow };

/**
 * The prefix of a finished run's history a rerun copies (docs/semantics.md, Rerun): the records
 * created before the step, in the order the source recorded them, up to the first one not
 * finished. "Before" is by creation on the database clock (a task's first call, a wait's start, a
 * child's start); tasks recorded in the same statement keep their id order. A record the copy
 * cannot carry as a result ends it rather than being skipped: replay matches calls in order, and a
 * copied record behind a missing one would be unreachable (the unconsumed-record rule).
 * `timeline` gives each record's creation in microseconds (historyTimeline). `childStatuses`
 * are the statuses of the source's children now: a child still running ends the copy, so the
 * rerun never waits on a run that is not its own and not finished.
 */
export function selectRerunPrefix(
  history: RunHistoryData,
  timeline: ReadonlyMap<string, bigint>,
  from: RerunFrom,
  childStatuses: ReadonlyMap<string, RunStatus>,
): RerunPrefix {
  const prefix: RerunPrefix = { tasks: [], waits: [], children: [], events: [], step: { kind: "start" } };
  if (from.kind === "start") return prefix;
  const timeOf = (key: string) => timeline.get(key) ?? 0n;
  const taskTime = (t: TaskRow) => timeOf(timelineKey({ kind: "task", id: t.id }));
  const cut = stepTask(history.tasks, from, taskTime);
  const lastFailure = from.kind === "last_failure" ? { lastFailure: true } : {};
  prefix.step = cut ? { kind: "task", address: cut.address, sequence: cut.sequence, ...lastFailure } : { kind: "history_end", ...lastFailure };

  const entries: Entry[] = [
    ...history.tasks.map((row): Entry => ({ kind: "task", time: taskTime(row), tie: row.id, row })),
    ...history.waits.map(
      (row): Entry => ({ kind: "wait", time: timeOf(timelineKey({ kind: "wait", row })), tie: `${row.kind}:${row.key}:${row.sequence}`, row }),
    ),
    ...history.children.map((row): Entry => ({ kind: "child", time: timeOf(timelineKey({ kind: "child", row })), tie: `${row.key}:${row.sequence}`, row })),
  ].sort((a, b) => compare(a.time, b.time) || kindOrder[a.kind] - kindOrder[b.kind] || compare(a.tie, b.tie));

  const cutTime = cut ? taskTime(cut) : undefined;
  // Before the step: strictly earlier, or a task of the same statement with a lower id.
  const beforeCut = (e: Entry) => !cut || cutTime === undefined || e.time < cutTime || (e.time === cutTime && e.kind === "task" && e.tie < cut.id);
  for (const entry of entries) {
    if (!beforeCut(entry)) break;
    if (!finished(entry, childStatuses)) break;
    if (entry.kind === "task") prefix.tasks.push(entry.row);
    else if (entry.kind === "child") prefix.children.push(entry.row);
    else {
      prefix.waits.push(entry.row);
      const event = entry.row.event_id ? history.events.get(entry.row.event_id) : undefined;
      if (event) prefix.events.push(event);
    }
  }
  return prefix;
}

// Within one moment (a statement recording several), tasks first: a wait or child start is
// never recorded in the statement of a task's first call.
const kindOrder = { task: 0, wait: 1, child: 2 } as const;

function stepTask(tasks: readonly TaskRow[], from: Exclude<RerunFrom, { kind: "start" }>, timeOf: (t: TaskRow) => bigint): TaskRow | undefined {
  if (from.kind === "task") {
    const task = tasks.find((t) => t.address === from.address && t.sequence === from.sequence);
    if (!task) {
      throw new InvalidArgumentError([{ field: "step", description: `the source run has no task at address ${from.address}, sequence ${from.sequence}` }]);
    }
    return task;
  }
  let last: TaskRow | undefined;
  for (const t of tasks) {
    if (t.status !== "failed") continue;
    if (!last || (compare(timeOf(t), timeOf(last)) || compare(t.id, last.id)) > 0) last = t;
  }
  return last;
}

function compare<T extends bigint | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether a record holds a result a replay can take: a finished task or wait, a child start of a finished child. */
function finished(entry: Entry, childStatuses: ReadonlyMap<string, RunStatus>): boolean {
  switch (entry.kind) {
    case "task":
      return entry.row.status === "completed" || entry.row.status === "failed";
    case "wait":
      return entry.row.status !== "waiting";
    case "child": {
      const status = childStatuses.get(entry.row.child_run_id);
      return status !== undefined && isTerminal(status);
    }
  }
}
