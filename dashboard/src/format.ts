// How times, durations, statuses and JSON values read on screen.
import type { JsonValue } from "@bufbuild/protobuf";
import { fromJson } from "@bufbuild/protobuf";
import { type Duration, type Timestamp, timestampMs, type Value, ValueSchema } from "@bufbuild/protobuf/wkt";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";

export const allStatuses: RunStatus[] = [
  RunStatus.SCHEDULED,
  RunStatus.QUEUED,
  RunStatus.RUNNING,
  RunStatus.PAUSED,
  RunStatus.SLEEPING,
  RunStatus.AWAITING_EVENT,
  RunStatus.AWAITING_RETRY,
  RunStatus.AWAITING_CHILD_WORKFLOW,
  RunStatus.COMPLETED,
  RunStatus.FAILED,
  RunStatus.CANCELLED,
];

export const terminal = new Set([RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED]);

/** "AWAITING_EVENT" for the URL and the API's words. */
export function statusKey(s: RunStatus): string {
  return RunStatus[s] ?? "UNSPECIFIED";
}

/** "awaiting event", as a person reads it. */
export function statusLabel(s: RunStatus): string {
  return statusKey(s).toLowerCase().replace(/_/g, " ");
}

export function statusFromKey(key: string): RunStatus | undefined {
  const s = (RunStatus as unknown as Record<string, number>)[key.toUpperCase()];
  return s === undefined || s === RunStatus.UNSPECIFIED ? undefined : (s as RunStatus);
}

export function ms(t: Timestamp | undefined): number | undefined {
  return t ? timestampMs(t) : undefined;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Local time, "2026-12-02 15:04:05.123". */
export function formatTime(t: Timestamp | number | undefined): string {
  const v = typeof t === "number" ? t : ms(t);
  if (v === undefined) return "—";
  const d = new Date(v);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** "1.2 s", "3 min 4 s", "2 h 5 min". */
export function formatDuration(msValue: number): string {
  if (msValue < 1000) return `${Math.round(msValue)} ms`;
  const s = msValue / 1000;
  if (s < 60) return `${s.toFixed(s < 10 && !Number.isInteger(s) ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function durationMs(d: Duration | undefined): number | undefined {
  return d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : undefined;
}

/** "5 s ago", "in 3 min". */
export function relative(t: Timestamp | number | undefined, now = Date.now()): string {
  const v = typeof t === "number" ? t : ms(t);
  if (v === undefined) return "—";
  const d = v - now;
  return d >= 0 ? `in ${formatDuration(d)}` : `${formatDuration(-d)} ago`;
}

/** google.protobuf.Value as plain JSON (undefined when unset). */
export function valueJson(v: Value | undefined): JsonValue | undefined {
  if (!v) return undefined;
  const k = v.kind;
  switch (k.case) {
    case "nullValue":
      return null;
    case "numberValue":
    case "stringValue":
    case "boolValue":
      return k.value;
    case "structValue":
      return Object.fromEntries(Object.entries(k.value.fields).map(([key, f]) => [key, valueJson(f) ?? null]));
    case "listValue":
      return k.value.values.map((x) => valueJson(x) ?? null);
    default:
      return undefined;
  }
}

/** The last 8 hex digits: run ids are UUIDv7, whose first digits are the creation time and alike. */
export function shortId(id: string): string {
  return id.replace(/-/g, "").slice(-8);
}

/** Plain JSON as google.protobuf.Value. */
export function toValue(json: JsonValue): Value {
  return fromJson(ValueSchema, json);
}

/** Parses the JSON a person typed; empty text means no value. Throws a readable error. */
export function parseJsonInput(text: string): JsonValue | undefined {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new Error(`not valid JSON: ${(error as Error).message}`);
  }
}
