import { type Context, ROOT_CONTEXT, type SpanContext, type Tracer, trace, TraceFlags, createTraceState } from "@opentelemetry/api";
import type { TraceContextValues } from "../domain/trace-context.js";

/** The server's tracer: the API's no-op one until a tracer provider is installed (main.ts, by @aiki/common/install-tracing). */
export function serverTracer(): Tracer {
  return trace.getTracer("aiki-server");
}

/** A context whose remote parent is the given W3C trace context (already validated). */
export function parentContextOf(values: TraceContextValues): Context {
  const [, traceId, spanId, flags] = values.traceparent.split("-");
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: traceId!,
    spanId: spanId!,
    traceFlags: Number.parseInt(flags!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
    traceState: values.tracestate ? createTraceState(values.tracestate) : undefined,
  });
}

/** The W3C values naming a span as a parent. */
export function traceContextOfSpan(span: SpanContext, tracestate?: string): TraceContextValues {
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, "0");
  return { traceparent: `00-${span.traceId}-${span.spanId}-${flags}`, tracestate: span.traceState?.serialize() || tracestate };
}
