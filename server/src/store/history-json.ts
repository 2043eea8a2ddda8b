import type { ChildRunRow } from "./child-runs.table.js";
import type { EventRow } from "./events.table.js";
import type { RunWaitRow } from "./run-waits.table.js";
import type { TaskRow } from "./tasks.table.js";

/** A run's history rows as one statement returns them with to_jsonb: timestamps as text. */
export interface HistoryJson {
  tasks: Array<Record<string, unknown>>;
  waits: Array<Record<string, unknown>>;
  children: Array<Record<string, unknown>>;
  events: Array<Record<string, unknown>>;
}

/** The same rows as the history's own reads give them (listTasks, listWaits, listChildRecords, eventsOfWaits). */
export interface HistoryRows {
  tasks: TaskRow[];
  waits: RunWaitRow[];
  children: ChildRunRow[];
  events: EventRow[];
}

// The timestamp columns of the four tables: pg gives them as Date, to_jsonb as ISO text.
const timeColumns = new Set(["next_attempt_time", "create_time", "update_time", "start_time", "deadline", "end_time", "consume_time"]);

/** A row of one of those tables as to_jsonb gives it, with its timestamps as Date again. */
export function rowFromJson<T>(row: Record<string, unknown>): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(row)) out[key] = timeColumns.has(key) && typeof value === "string" ? new Date(value) : value;
  return out as T;
}

export function historyRowsFromJson(json: HistoryJson): HistoryRows {
  return {
    tasks: json.tasks.map((r) => rowFromJson<TaskRow>(r)),
    waits: json.waits.map((r) => rowFromJson<RunWaitRow>(r)),
    children: json.children.map((r) => rowFromJson<ChildRunRow>(r)),
    events: json.events.map((r) => rowFromJson<EventRow>(r)),
  };
}
