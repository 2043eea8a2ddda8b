import { AikiDomainError } from "./errors.js";
import type { ScheduleStatus } from "./schedule-spec.js";

export class ScheduleNotFoundError extends AikiDomainError {
  readonly kind = "schedule_not_found";
  constructor(readonly scheduleId: string) {
    super(`schedule ${scheduleId} not found`);
    this.name = "ScheduleNotFoundError";
  }
}

/** The schedule's name already holds a schedule with another definition. */
export class ScheduleConflictError extends AikiDomainError {
  readonly kind = "schedule_conflict";
  constructor(
    readonly scheduleId: string,
    readonly scheduleName: string,
  ) {
    super(
      `schedule "${scheduleName}" (${scheduleId}) already exists with a different definition ` +
        "(workflow version, spec, overlap policy, input or shard); delete it first or use another name",
    );
    this.name = "ScheduleConflictError";
  }
}

/** Pause of a schedule that is not active, or resume of one that is not paused. */
export class ScheduleStateError extends AikiDomainError {
  readonly kind = "schedule_state";
  constructor(
    readonly scheduleId: string,
    readonly currentStatus: ScheduleStatus,
    readonly action: "pause" | "resume",
  ) {
    super(`cannot ${action} schedule ${scheduleId}: it is ${currentStatus}`);
    this.name = "ScheduleStateError";
  }
}
