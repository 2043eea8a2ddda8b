import type { Transaction } from "kysely";
import type { Logger } from "pino";
import { isTerminal } from "../domain/run-status.js";
import { latestOccurrenceDue, nextOccurrenceAfter } from "../domain/schedule-spec.js";
import type { Notifier } from "../notify/notifier.js";
import type { Database, Db } from "../store/database.js";
import type { RunRow } from "../store/runs.table.js";
import { claimDueSchedule, lockRun, updateSchedule } from "../store/schedule-repository.js";
import type { ScheduleRow } from "../store/schedules.table.js";
import { applyRunAction } from "./control-run.js";
import { publishLeaseEnded, publishRunChange } from "./publish-run-change.js";
import { createRun } from "./start-run.js";
import { storeTransaction } from "../tracing/store-spans.js";

/** The reference id of the run an occurrence starts: what makes each occurrence start at most once. */
export function occurrenceReferenceId(scheduleId: string, occurrence: Date): string {
  return `schedule:${scheduleId}:${occurrence.toISOString()}`;
}

interface Fired {
  schedule: ScheduleRow;
  occurrence: Date;
  /** Occurrences after next_time and before `occurrence` that were skipped (servers down, loop late). */
  skippedLate: boolean;
  outcome: "started" | "already_started" | "skipped_overlap";
  /** Runs to publish after commit. */
  changed: RunRow[];
  /** Workers whose lease ended (a cancelled previous run). */
  leasesEnded: string[];
}

// A schedule whose firing fails is tried again once in the same pass (deadlocks, races), then
// left for the next pass.
const triesPerPass = 2;

/**
 * Fires every due active schedule, one transaction per occurrence: claim the schedule (SKIP
 * LOCKED), apply the overlap policy, start the run (reference "schedule:{id}:{time}", unique
 * per workflow version, so an occurrence never starts twice even across restarts and racing
 * replicas), record it and advance next_time, then publish the run changes after commit.
 * Returns how many schedules it claimed (at most `limit`). Throws after the pass when some
 * schedule could not be fired, so the timer loop backs off instead of spinning on it.
 */
export async function fireDueSchedules(db: Db, notifier: Notifier, logger: Logger, limit: number): Promise<number> {
  const failed = new Map<string, number>();
  const excluded: string[] = [];
  let claimed = 0;
  let lastError: unknown;
  while (claimed < limit) {
    const claim: { id?: string } = {};
    let fired: Fired | undefined;
    try {
      fired = await storeTransaction(db, "fireSchedule", undefined, (trx) => fireOne(trx, excluded, claim));
    } catch (error) {
      // Nothing claimed: the store itself failed; the timer loop backs off and retries.
      if (claim.id === undefined) throw error;
      const tries = (failed.get(claim.id) ?? 0) + 1;
      failed.set(claim.id, tries);
      if (tries >= triesPerPass) {
        excluded.push(claim.id);
        lastError = error;
        logger.error({ err: error, scheduleId: claim.id }, "schedule could not fire; retrying on the next pass");
      }
      continue;
    }
    if (!fired) break;
    claimed++;
    for (const run of fired.changed) publishRunChange(notifier, run);
    for (const worker of fired.leasesEnded) publishLeaseEnded(notifier, fired.schedule.namespace, worker);
    const { schedule, occurrence } = fired;
    if (fired.skippedLate) {
      logger.warn(
        { scheduleId: schedule.id, missedFrom: schedule.next_time, firing: occurrence },
        "schedule fired late: earlier missed occurrences skipped, only the latest started",
      );
    }
    logger.debug({ scheduleId: schedule.id, occurrence, outcome: fired.outcome }, "schedule fired");
  }
  if (excluded.length > 0) throw new Error(`schedules failed to fire: ${excluded.join(", ")}`, { cause: lastError });
  return claimed;
}

async function fireOne(trx: Transaction<Database>, excluded: readonly string[], claim: { id?: string }): Promise<Fired | undefined> {
  const due = await claimDueSchedule(trx, excluded);
  if (!due) return undefined;
  const { schedule, now } = due;
  claim.id = schedule.id;
  const spec = schedule.spec;
  // Catch-up choice: when several occurrences were missed (every server down, or the loop held
  // up), only the latest one at or before now starts a run; the earlier ones are skipped rather
  // than started in a burst. Then next_time moves strictly past the fired occurrence.
  const occurrence = latestOccurrenceDue(spec, schedule.next_time!, now);
  const nextTime = nextOccurrenceAfter(spec, occurrence) ?? null;
  const base = { schedule, occurrence, skippedLate: occurrence.getTime() > schedule.next_time!.getTime() };
  const actor = `schedule:${schedule.id}`;

  const previous = schedule.last_run_id && schedule.overlap_policy !== "allow" ? await lockRun(trx, schedule.namespace, schedule.last_run_id) : undefined;
  const previousActive = previous !== undefined && !isTerminal(previous.status);
  if (schedule.overlap_policy === "skip" && previousActive) {
    const updated = await updateSchedule(trx, schedule, { next_time: nextTime });
    return { ...base, schedule: updated!, outcome: "skipped_overlap", changed: [], leasesEnded: [] };
  }
  const changed: RunRow[] = [];
  const leasesEnded: string[] = [];
  if (schedule.overlap_policy === "cancel_previous" && previousActive) {
    const cancelled = await cancelLockedRun(trx, previous, actor, `schedule ${schedule.id}: next occurrence ${occurrence.toISOString()} started`);
    changed.push(...cancelled.changed);
    if (previous.status === "running" && previous.lease_worker_id) leasesEnded.push(previous.lease_worker_id);
  }
  const { run, existing } = await createRun(trx, {
    namespace: schedule.namespace,
    workflowName: schedule.workflow_name,
    workflowVersionId: schedule.workflow_version_id,
    input: schedule.input ?? undefined,
    referenceId: occurrenceReferenceId(schedule.id, occurrence),
    // An existing run with this reference is this occurrence, started before: never start it twice.
    conflictPolicy: "return_existing",
    shard: schedule.shard,
    tags: schedule.tags,
    scheduleId: schedule.id,
    actor,
  });
  if (!existing) changed.push(run);
  const updated = await updateSchedule(trx, schedule, { next_time: nextTime, last_time: occurrence, last_run_id: run.id });
  return { ...base, schedule: updated!, outcome: existing ? "already_started" : "started", changed, leasesEnded };
}

/** Cancels a run the caller has locked, exactly as RunService.CancelRun does. Returns the runs to publish. */
async function cancelLockedRun(trx: Transaction<Database>, current: RunRow, actor: string, reason: string): Promise<{ changed: RunRow[] }> {
  const applied = await applyRunAction(trx, current, "cancelled", { action: "cancel", actor, reason });
  // The row is locked by this transaction, so the guard holds.
  if (!applied) throw new Error(`run ${current.id} changed under its lock`);
  const { run, parent, descendants } = applied;
  return {
    changed: [run, ...(parent ? [parent] : []), ...descendants.map((d) => ({ ...run, id: d.id, status: "cancelled" as const }))],
  };
}
