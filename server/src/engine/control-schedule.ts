import { ScheduleNotFoundError, ScheduleStateError } from "../domain/schedule-errors.js";
import { nextOccurrenceAfter } from "../domain/schedule-spec.js";
import { databaseNow, deleteSchedule as deleteScheduleRow, findScheduleForUpdate, updateSchedule } from "../store/schedule-repository.js";
import type { ScheduleRow } from "../store/schedules.table.js";
import type { EngineDeps } from "./engine-deps.js";
import { publishScheduleDue } from "./publish-schedule-due.js";
import { storeTransaction } from "../tracing/store-spans.js";

/** Stops firing; the runs already started go on. ScheduleStateError unless active. */
export async function pauseSchedule(deps: EngineDeps, namespace: string, id: string): Promise<ScheduleRow> {
  return storeTransaction(deps.db, "pauseSchedule", undefined, async (trx) => {
    const current = await findScheduleForUpdate(trx, namespace, id);
    if (!current) throw new ScheduleNotFoundError(id);
    if (current.status !== "active") throw new ScheduleStateError(id, current.status, "pause");
    return (await updateSchedule(trx, current, { status: "paused", next_time: null }))!;
  });
}

/**
 * Fires again from the first occurrence after now: occurrences missed while paused are
 * skipped, not caught up. ScheduleStateError unless paused.
 */
export async function resumeSchedule(deps: EngineDeps, namespace: string, id: string): Promise<ScheduleRow> {
  const schedule = await storeTransaction(deps.db, "resumeSchedule", undefined, async (trx) => {
    const current = await findScheduleForUpdate(trx, namespace, id);
    if (!current) throw new ScheduleNotFoundError(id);
    if (current.status !== "paused") throw new ScheduleStateError(id, current.status, "resume");
    const next = nextOccurrenceAfter(current.spec, await databaseNow(trx));
    return (await updateSchedule(trx, current, { status: "active", next_time: next ?? null }))!;
  });
  publishScheduleDue(deps.notifier, schedule);
  return schedule;
}

/**
 * Deletes a schedule; the runs it started are left alone. Waits for a firing in progress (the
 * row lock), so nothing fires after this returns.
 */
export async function deleteSchedule(deps: EngineDeps, namespace: string, id: string): Promise<void> {
  if (!(await deleteScheduleRow(deps.db, namespace, id))) throw new ScheduleNotFoundError(id);
}
