import { type Duration as PbDuration, durationFromMs } from "@bufbuild/protobuf/wkt";

/** A span of time: milliseconds, or parts that add up (`{ minutes: 5 }`, `{ days: 1, hours: 2 }`). */
export type Duration =
  | number
  | {
      days?: number;
      hours?: number;
      minutes?: number;
      seconds?: number;
      milliseconds?: number;
    };

const msPer = { days: 86_400_000, hours: 3_600_000, minutes: 60_000, seconds: 1_000, milliseconds: 1 } as const;

/** The duration in milliseconds; throws RangeError for negative, non-finite or empty durations. */
export function durationToMs(duration: Duration): number {
  let ms: number;
  if (typeof duration === "number") {
    ms = duration;
  } else if (duration !== null && typeof duration === "object") {
    const unknownKeys = Object.keys(duration).filter((k) => !(k in msPer));
    if (unknownKeys.length > 0) {
      throw new RangeError(`invalid duration: unknown unit(s) ${unknownKeys.join(", ")} (use days, hours, minutes, seconds, milliseconds)`);
    }
    ms = 0;
    for (const unit of Object.keys(msPer) as (keyof typeof msPer)[]) {
      const part = duration[unit];
      if (part === undefined) continue;
      if (typeof part !== "number" || !Number.isFinite(part) || part < 0) {
        throw new RangeError(`invalid duration: ${unit} must be a non-negative number, got ${String(part)}`);
      }
      ms += part * msPer[unit];
    }
  } else {
    throw new RangeError(`invalid duration: expected milliseconds or { days, hours, minutes, seconds, milliseconds }, got ${String(duration)}`);
  }
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`invalid duration: must be a non-negative finite number of milliseconds, got ${ms}`);
  // Sub-millisecond precision means nothing to timers and would only make replays compare unequal.
  return Math.round(ms);
}

export function durationToPb(duration: Duration): PbDuration {
  return durationFromMs(durationToMs(duration));
}
