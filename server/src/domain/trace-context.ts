// W3C Trace Context (https://www.w3.org/TR/trace-context/): the two values a run stores and a
// worker continues. Pure parsing so the API can refuse a malformed value with a field name.

/** A trace context as its two headers carry it. */
export interface TraceContextValues {
  traceparent: string;
  tracestate?: string | undefined;
}

export const maxTracestateLength = 512;

// Version 00's layout; a later version may add fields after the flags, which we keep as given.
const traceparentPattern = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^\s]*)?$/;

/** Why a traceparent is unusable, or undefined when it is valid. */
export function traceparentProblem(value: string): string | undefined {
  const m = traceparentPattern.exec(value);
  if (!m) return 'must be "00-<32 lowercase hex trace id>-<16 lowercase hex span id>-<2 hex flags>"';
  const [, version, traceId, spanId] = m;
  if (version === "ff") return "must not have version ff";
  if (version === "00" && m[5] !== undefined) return "must have nothing after the flags in version 00";
  if (/^0+$/.test(traceId!)) return "must not have an all-zero trace id";
  if (/^0+$/.test(spanId!)) return "must not have an all-zero parent span id";
  return undefined;
}

/** The header pair when the traceparent is valid; an invalid one is dropped, as the spec says. */
export function traceContextFromHeaders(traceparent: string | null, tracestate: string | null): TraceContextValues | undefined {
  if (!traceparent || traceparentProblem(traceparent.trim()) !== undefined) return undefined;
  const state = tracestate?.trim();
  return { traceparent: traceparent.trim(), tracestate: state && state.length <= maxTracestateLength ? state : undefined };
}
