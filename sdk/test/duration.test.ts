import { describe, expect, it } from "vitest";
import { durationToMs, durationToPb } from "../src/duration.js";

describe("durationToMs", () => {
  it("takes milliseconds as they are", () => {
    expect(durationToMs(0)).toBe(0);
    expect(durationToMs(1500)).toBe(1500);
  });

  it("adds up parts", () => {
    expect(durationToMs({ days: 1 })).toBe(86_400_000);
    expect(durationToMs({ hours: 1, minutes: 2, seconds: 3, milliseconds: 4 })).toBe(3_723_004);
    expect(durationToMs({ minutes: 5 })).toBe(300_000);
    expect(durationToMs({ seconds: 0.5 })).toBe(500);
  });

  it("refuses negative, non-finite and unknown parts with a RangeError naming them", () => {
    expect(() => durationToMs(-1)).toThrow(RangeError);
    expect(() => durationToMs(Number.POSITIVE_INFINITY)).toThrow(/non-negative finite/);
    expect(() => durationToMs({ minutes: -1 })).toThrow(/minutes must be a non-negative number/);
    expect(() => durationToMs({ weeks: 1 } as never)).toThrow(/unknown unit\(s\) weeks/);
    expect(() => durationToMs("5m" as never)).toThrow(RangeError);
  });

  it("converts to a protobuf Duration", () => {
    const d = durationToPb({ seconds: 90, milliseconds: 250 });
    expect(d.seconds).toBe(90n);
    expect(d.nanos).toBe(250_000_000);
  });
});
