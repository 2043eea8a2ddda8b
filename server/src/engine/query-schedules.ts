import { ScheduleNotFoundError } from "../domain/schedule-errors.js";
import { findSchedule, listSchedules } from "../store/schedule-repository.js";
import type { ScheduleRow } from "../store/schedules.table.js";
import type { EngineDeps } from "./engine-deps.js";
import type { Page } from "./query-runs.js";

export async function getSchedule(deps: EngineDeps, namespace: string, id: string): Promise<ScheduleRow> {
  const schedule = await findSchedule(deps.db, namespace, id);
  if (!schedule) throw new ScheduleNotFoundError(id);
  return schedule;
}

/** One page of schedules; fetches one extra row to know whether another page exists. */
export async function querySchedules(
  deps: EngineDeps,
  namespace: string,
  filter: { workflowName?: string | undefined },
  page: { size: number; afterId?: string | undefined },
): Promise<Page<ScheduleRow>> {
  const rows = await listSchedules(deps.db, namespace, filter, { limit: page.size + 1, afterId: page.afterId });
  const items = rows.slice(0, page.size);
  return { items, after: rows.length > page.size ? items[items.length - 1]?.id : undefined };
}
