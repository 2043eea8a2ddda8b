import { listChildRecords } from "../store/child-run-repository.js";
import type { Db } from "../store/database.js";
import { eventsOfWaits, listAllEvents } from "../store/event-repository.js";
import type { ChildRunRow } from "../store/child-runs.table.js";
import type { EventRow } from "../store/events.table.js";
import type { RunWaitRow } from "../store/run-waits.table.js";
import type { TaskRow } from "../store/tasks.table.js";
import { listWaits } from "../store/run-wait-repository.js";
import { listTasks } from "../store/task-repository.js";
import type { EngineDeps } from "./engine-deps.js";
import { getRun } from "./query-runs.js";

export interface RunHistoryData {
  tasks: TaskRow[];
  waits: RunWaitRow[];
  children: ChildRunRow[];
  /** Events consumed by the waits, by id. */
  events: Map<string, EventRow>;
}

export function emptyHistory(): RunHistoryData {
  return { tasks: [], waits: [], children: [], events: new Map() };
}

/** The recorded history of several runs in four queries at once, whatever their number. */
export async function loadHistories(db: Db, runIds: readonly string[]): Promise<Map<string, RunHistoryData>> {
  if (runIds.length === 0) return new Map();
  const [tasks, waits, children, consumed] = await Promise.all([
    listTasks(db, runIds),
    listWaits(db, runIds),
    listChildRecords(db, runIds),
    eventsOfWaits(db, runIds),
  ]);
  const events = new Map(consumed.map((e) => [e.id, e]));
  const byRun = new Map<string, RunHistoryData>(runIds.map((id) => [id, { tasks: [], waits: [], children: [], events }]));
  for (const t of tasks) byRun.get(t.run_id)?.tasks.push(t);
  for (const w of waits) byRun.get(w.run_id)?.waits.push(w);
  for (const c of children) byRun.get(c.parent_run_id)?.children.push(c);
  return byRun;
}

export async function loadHistory(db: Db, runId: string): Promise<RunHistoryData> {
  return (await loadHistories(db, [runId])).get(runId)!;
}

/** A run's history as a client reads it: what it recorded plus every event sent to it. */
export async function getRunHistory(deps: EngineDeps, namespace: string, runId: string): Promise<{ history: RunHistoryData; events: EventRow[] }> {
  // NOT_FOUND (and the namespace check) before the history reads, which are by run id only.
  await getRun(deps, namespace, runId);
  const [history, events] = await Promise.all([loadHistory(deps.db, runId), listAllEvents(deps.db, namespace, runId)]);
  return { history, events };
}
