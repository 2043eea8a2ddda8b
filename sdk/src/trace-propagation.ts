import { type Interceptor, ConnectError } from "@connectrpc/connect";
import { context, isSpanContextValid, type SpanContext, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";

/** A W3C trace context as the `traceparent` / `tracestate` headers (and the contracts' TraceContext) carry it. */
export interface TraceContextHeaders {
  traceparent: string;
  tracestate: string;
}

/** The W3C values naming a span as a parent; undefined for an invalid (absent) span context. */
export function traceContextOf(span: SpanContext | undefined): TraceContextHeaders | undefined {
  if (!span || !isSpanContextValid(span)) return undefined;
  const flags = (span.traceFlags & 0xff).toString(16).padStart(2, "0");
  return { traceparent: `00-${span.traceId}-${span.spanId}-${flags}`, tracestate: span.traceState?.serialize() ?? "" };
}

/**
 * Continues the caller's trace on every unary call made while a span is active (an HTTP request
 * the user's instrumentation traces, a task of a workflow): a CLIENT span when a tracer provider
 * is installed, and its W3C `traceparent` header always (written here, not by the global
 * propagator, so a run continues the trace even in a process that exports nothing). With no
 * active span it does nothing, so heartbeats and polls start no traces.
 */
export function tracePropagation(): Interceptor {
  return (next) => async (req) => {
    const active = trace.getSpanContext(context.active());
    if (req.stream || !active || !isSpanContextValid(active) || req.header.has("traceparent")) return next(req);
    const span = trace.getTracer("aiki-sdk").startSpan(`${req.service.typeName}/${req.method.name}`, {
      kind: SpanKind.CLIENT,
      attributes: { "rpc.system": "connect_rpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name },
    });
    // A non-recording span (no provider) carries the active context itself.
    const headers = traceContextOf(span.isRecording() ? span.spanContext() : active)!;
    req.header.set("traceparent", headers.traceparent);
    if (headers.tracestate) req.header.set("tracestate", headers.tracestate);
    try {
      return await next(req);
    } catch (error) {
      if (error instanceof ConnectError) span.setAttribute("rpc.connect_rpc.error_code", error.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  };
}
