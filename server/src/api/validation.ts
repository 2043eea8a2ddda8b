import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { type FieldViolation, InvalidArgumentError } from "../domain/errors.js";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const maxIdentifierLength = 256;

/** Collects every problem of a request, so one answer names all the wrong fields. */
export class Violations {
  private readonly list: FieldViolation[] = [];

  add(field: string, description: string): void {
    this.list.push({ field, description });
  }

  /** A name-like field: required or optional, at most 256 characters, no control characters. */
  identifier(field: string, value: string, required: boolean): void {
    if (value === "") {
      if (required) this.add(field, "is required");
      return;
    }
    if (value.length > maxIdentifierLength) this.add(field, `must be at most ${maxIdentifierLength} characters`);
    // biome-ignore lint: control characters are exactly what we reject
    else if (/[\u0000-\u001f\u007f]/.test(value)) this.add(field, "must not contain control characters");
  }

  uuid(field: string, value: string, required = true): void {
    if (value === "") {
      if (required) this.add(field, "is required");
    } else if (!uuidPattern.test(value)) this.add(field, `must be a UUID, got "${value.slice(0, 64)}"`);
  }

  pageSize(field: string, value: number): number {
    if (value < 0 || value > 1000) this.add(field, "must be between 0 and 1000");
    return value === 0 ? 100 : value;
  }

  /** A non-negative Duration in milliseconds, or undefined when unset. */
  durationMs(field: string, value: Duration | undefined, opts: { positive?: boolean } = {}): number | undefined {
    if (!value) return undefined;
    const ms = Number(value.seconds) * 1000 + value.nanos / 1e6;
    const mixedSigns = (value.seconds > 0n && value.nanos < 0) || (value.seconds < 0n && value.nanos > 0);
    if (!Number.isFinite(ms) || mixedSigns || Math.abs(value.nanos) >= 1e9) this.add(field, "is not a valid duration");
    else if (ms < 0) this.add(field, "must not be negative");
    else if (opts.positive && ms === 0) this.add(field, "must be greater than zero");
    else if (ms > 100 * 365 * 24 * 3600_000) this.add(field, "must be at most 100 years");
    return ms;
  }

  timestamp(field: string, value: Timestamp | undefined): Date | undefined {
    if (!value) return undefined;
    const ms = Number(value.seconds) * 1000 + value.nanos / 1e6;
    const date = new Date(ms);
    if (!Number.isFinite(ms) || value.nanos < 0 || value.nanos >= 1e9 || Number.isNaN(date.getTime())) {
      this.add(field, "is not a valid timestamp");
      return undefined;
    }
    return date;
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw new InvalidArgumentError(this.list);
  }
}
