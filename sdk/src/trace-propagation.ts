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
    if (req.stream || req.header.has("traceparent")) return next(req);
    const call = traceCall(req.service.typeName, req.method.name);
    if (!call) return next(req);
    req.header.set("traceparent", call.traceContext.traceparent);
    if (call.traceContext.tracestate) req.header.set("tracestate", call.traceContext.tracestate);
    try {
      const res = await next(req);
      call.end();
      return res;
    } catch (error) {
      call.end(error);
      throw error;
    }
  };
}

/** One traced call: the context to send with it, and the end of its CLIENT span. */
export interface TracedCall {
  traceContext: TraceContextHeaders;
  end(error?: unknown): void;
}

/**
 * The CLIENT span of a call made while a span is active (undefined when none is), for the
 * interceptor above and for the calls a client session sends (client-session.ts), which carry
 * the context in the message instead of a header.
 */
export function traceCall(service: string, method: string): TracedCall | undefined {
  const active = trace.getSpanContext(context.active());
  if (!active || !isSpanContextValid(active)) return undefined;
  const span = trace.getTracer("aiki-sdk").startSpan(`${service}/${method}`, {
    kind: SpanKind.CLIENT,
    attributes: { "rpc.system": "connect_rpc", "rpc.service": service, "rpc.method": method },
  });
  // A non-recording span (no provider) carries the active context itself.
  const traceContext = traceContextOf(span.isRecording() ? span.spanContext() : active)!;
  return {
    traceContext,
    end(error?: unknown) {
      if (error !== undefined) {
        if (error instanceof ConnectError) span.setAttribute("rpc.connect_rpc.error_code", error.code);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      }
      span.end();
    },
  };
}
