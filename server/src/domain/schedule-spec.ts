import { Cron } from "croner";
import type { FieldViolation } from "./errors.js";

/** When a schedule fires. A cron timezone of "" means UTC (never the server's local zone). */
export type ScheduleSpec = { type: "cron"; expression: string; timezone: string } | { type: "interval"; everyMs: number };

export type OverlapPolicy = "allow" | "skip" | "cancel_previous";
export type ScheduleStatus = "active" | "paused";

export const minIntervalMs = 1_000;

/** Five fields (minute precision) or six (seconds first); croner's nicknames (@daily, ...) too. */
function cronOf(spec: { expression: string; timezone: string }): Cron {
  return new Cron(spec.expression, { mode: "5-or-6-parts", timezone: spec.timezone || "UTC" });
}

export function isKnownTimeZone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/**
 * What is wrong with a cron spec, each problem naming its field under `prefix` (e.g.
 * "spec.cron"); empty when it parses and has a future occurrence after `now`.
 */
export function cronViolations(spec: { expression: string; timezone: string }, prefix: string, now: Date): FieldViolation[] {
  const out: FieldViolation[] = [];
  if (spec.timezone !== "" && !isKnownTimeZone(spec.timezone)) {
    out.push({ field: `${prefix}.timezone`, description: `is not a known IANA time zone: "${spec.timezone.slice(0, 64)}"` });
  }
  let cron: Cron;
  try {
    // An unknown zone is reported above; check the expression on its own.
    cron = cronOf({ expression: spec.expression, timezone: out.length > 0 ? "" : spec.timezone });
  } catch (error) {
    const reason = (error as Error).message.replace(/^CronPattern:\s*/, "");
    out.push({ field: `${prefix}.expression`, description: `is not a valid cron expression: ${reason}` });
    return out;
  }
  if (out.length === 0 && !cron.nextRun(now)) {
    out.push({ field: `${prefix}.expression`, description: "has no future occurrence" });
  }
  return out;
}

/**
 * The first occurrence strictly after `after`, or undefined when there is none. Intervals are
 * aligned to the Unix epoch (occurrences at whole multiples of `every`), so every replica and
 * every restart computes the same occurrence times, whatever the activation time.
 */
export function nextOccurrenceAfter(spec: ScheduleSpec, after: Date): Date | undefined {
  if (spec.type === "interval") {
    return new Date((Math.floor(after.getTime() / spec.everyMs) + 1) * spec.everyMs);
  }
  return cronOf(spec).nextRun(after) ?? undefined;
}

/**
 * The occurrence to fire when `due` (the schedule's next_time, <= now) is reached at `now`: the
 * latest occurrence at or before `now`. Usually that is `due` itself; when the servers were down
 * (or the loop late) for several occurrences, the earlier missed ones are skipped, so a schedule
 * starts at most one run per firing instead of a burst of catch-up runs.
 */
export function latestOccurrenceDue(spec: ScheduleSpec, due: Date, now: Date): Date {
  if (now.getTime() <= due.getTime()) return due;
  if (spec.type === "interval") {
    const missed = Math.floor((now.getTime() - due.getTime()) / spec.everyMs);
    return new Date(due.getTime() + missed * spec.everyMs);
  }
  const cron = cronOf(spec);
  const following = cron.nextRun(due);
  if (!following || following.getTime() > now.getTime()) return due;
  // croner's previousRuns looks strictly before the whole second of its reference; cron
  // occurrences are whole seconds, so "before the next second" is "at or before now".
  const [latest] = cron.previousRuns(1, new Date(Math.floor(now.getTime() / 1000) * 1000 + 1000));
  return latest && latest.getTime() >= following.getTime() && latest.getTime() <= now.getTime() ? latest : following;
}
