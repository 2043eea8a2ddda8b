import { type Context, context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { type ContextKey, type ContextValues, Code, ConnectError, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { type TraceContextValues, traceContextFromHeaders } from "../domain/trace-context.js";
import { parentContextOf, serverTracer, traceContextOfSpan } from "../tracing/server-tracer.js";

/** What the tracing interceptor learnt about a call: its span and the trace context it was given. */
interface CallTrace {
  span: Span;
  given: TraceContextValues | undefined;
}

const callTraceKey: ContextKey<CallTrace | undefined> = createContextKey<CallTrace | undefined>(undefined, { description: "aiki call trace" });

/**
 * One SERVER span per unary call, continuing the caller's `traceparent` header (W3C). With no
 * tracer provider installed the API's tracer is a no-op and this costs a header read.
 * Streams (sessions, watches, held polls) get no span: they last minutes and their work is
 * traced per write and per run instead.
 */
export function rpcTracing(): Interceptor {
  return (next) => async (req) => {
    if (req.stream) return next(req);
    // A request's own trace_context field (StartRun, StartChildRun) wins over the headers.
    const field = (req.message as { traceContext?: { traceparent: string; tracestate: string } }).traceContext;
    const given =
      (field && traceContextFromHeaders(field.traceparent, field.tracestate)) ??
      traceContextFromHeaders(req.header.get("traceparent"), req.header.get("tracestate"));
    const parent = given ? parentContextOf(given) : ROOT_CONTEXT;
    return inServerSpan(req.service.typeName, req.method.name, parent, (span) => {
      req.contextValues.set(callTraceKey, { span, given });
      return next(req);
    });
  };
}

/**
 * A SERVER span for one call on a worker session, below the span the worker named on it (no
 * span when it named none: a session's calls then trace nothing, as streams do not).
 */
export async function traceSessionCall<T>(
  method: string,
  traceContext: { traceparent: string; tracestate: string } | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const given = traceContext && traceContextFromHeaders(traceContext.traceparent, traceContext.tracestate);
  if (!given) return fn();
  const parent = parentContextOf(given);
  return inServerSpan("aiki.v1.WorkerLeaseService", `Session.${method}`, parent, fn);
}

/**
 * A call on a client session (api/client-session.ts) traced as its unary RPC: the same SERVER
 * span (name, attributes, error code), below the request's own trace_context or else the one the
 * client named on the call, and `fn` gets a context carrying it as the interceptor's would, so
 * traceRunOfCall and traceContextForRun see the call as the unary one.
 */
export async function traceClientSessionCall<T>(
  ctx: HandlerContext,
  service: string,
  method: string,
  field: { traceparent: string; tracestate: string } | undefined,
  traceContext: { traceparent: string; tracestate: string } | undefined,
  fn: (ctx: HandlerContext) => Promise<T>,
): Promise<T> {
  const given =
    (field && traceContextFromHeaders(field.traceparent, field.tracestate)) ??
    (traceContext && traceContextFromHeaders(traceContext.traceparent, traceContext.tracestate));
  const parent = given ? parentContextOf(given) : ROOT_CONTEXT;
  return inServerSpan(service, method, parent, (span) => {
    const callTrace: CallTrace = { span, given };
    const shared = ctx.values;
    const values: ContextValues = {
      get: <V>(key: ContextKey<V>): V => (key.id === callTraceKey.id ? (callTrace as V) : shared.get(key)),
      set(key, value) {
        shared.set(key, value);
        return this;
      },
      delete(key) {
        shared.delete(key);
        return this;
      },
    };
    return fn({ ...ctx, values });
  });
}

/**
 * Runs `fn` in a SERVER span `service/method` below `parent` (a unary call, or a call on a
 * session traced as one), marking a failure with its status and gRPC code.
 */
async function inServerSpan<T>(service: string, method: string, parent: Context, fn: (span: Span) => Promise<T>): Promise<T> {
  const span = serverTracer().startSpan(
    `${service}/${method}`,
    { kind: SpanKind.SERVER, attributes: { "rpc.system": "connect_rpc", "rpc.service": service, "rpc.method": method } },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (error) {
    span.setAttribute("rpc.connect_rpc.error_code", error instanceof ConnectError ? Code[error.code] : "INTERNAL");
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}

/** Tags the call's span with the run it acts on (a no-op without tracing). */
export function traceRunOfCall(ctx: HandlerContext, runId: string): void {
  ctx.values.get(callTraceKey)?.span.setAttribute("aiki.run_id", runId);
}

/**
 * The trace context a run started by this call continues: the request's own field wins over the
 * header. When this server records spans, the run hangs below the call's span (so the trace
 * reads client → StartRun → run); otherwise the caller's context is stored unchanged.
 */
export function traceContextForRun(ctx: HandlerContext, field: TraceContextValues | undefined): TraceContextValues | undefined {
  const call = ctx.values.get(callTraceKey);
  const given = field ?? call?.given;
  if (!call?.span.isRecording()) return given;
  const own = call.span.spanContext();
  // The call's span continues what was given unless the field came another way (a session call).
  if (given && given.traceparent.slice(3, 35) !== own.traceId) return given;
  return traceContextOfSpan(own, given?.tracestate);
}
