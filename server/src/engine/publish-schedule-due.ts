import { channels, type Notifier } from "../notify/notifier.js";
import type { ScheduleRow } from "../store/schedules.table.js";
import { timerHorizonMs } from "./publish-run-change.js";

/**
 * A hint, sent after commit, that an active schedule is due soon: timer loops planning to sleep
 * past it wake earlier. Loops sleep at most the horizon, so a later due time needs no hint.
 */
export function publishScheduleDue(notifier: Notifier, schedule: Pick<ScheduleRow, "status" | "next_time">): void {
  const due = schedule.status === "active" ? schedule.next_time : null;
  if (due && due.getTime() - Date.now() < timerHorizonMs) notifier.publish(channels.timers, String(due.getTime()));
}
