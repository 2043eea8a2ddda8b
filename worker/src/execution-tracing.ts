import { type Context, context, createTraceState, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, TraceFlags } from "@opentelemetry/api";
import type { Run } from "@aiki/gen/aiki/v1/run_pb";
import { type TraceContextHeaders, traceContextOf } from "@aiki/sdk/internal";

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The context whose remote parent is the run's stored trace context (ROOT when it has none or it is unreadable). */
function parentOf(run: Run): Context {
  const m = run.traceContext ? traceparentPattern.exec(run.traceContext.traceparent) : null;
  if (!m) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: m[1]!,
    spanId: m[2]!,
    traceFlags: Number.parseInt(m[3]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
    traceState: run.traceContext?.tracestate ? createTraceState(run.traceContext.tracestate) : undefined,
  });
}

/**
 * The spans of one execution of a leased run (docs/tracing.md): the execution, a child of the
 * trace context stored with the run; a span per task attempt under it; suspensions as events.
 * Without a tracer provider every span is the API's non-recording one, which still carries the
 * run's trace context, so children and events sent from inside continue the trace regardless.
 */
export class ExecutionTrace {
  readonly span: Span;
  readonly context: Context;
  private readonly runId: string;
  /** The run's trace context: executions and waits are siblings below it. */
  private readonly parent: Context;

  constructor(run: Run, workerId: string | undefined) {
    const parent = parentOf(run);
    this.parent = parent;
    this.runId = run.id;
    this.span = trace.getTracer("aiki-worker").startSpan(
      `run ${run.workflowName}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          "aiki.run_id": run.id,
          "aiki.workflow": run.workflowName,
          "aiki.workflow_version": run.workflowVersionId,
          "aiki.attempt": run.attempt,
          ...(workerId ? { "aiki.worker_id": workerId } : {}),
        },
      },
      parent,
    );
    this.context = trace.setSpan(parent, this.span);
  }

  /** Runs user code with this execution's span active, so calls made from it continue the trace. */
  within<T>(fn: () => T): T {
    return context.with(this.context, fn);
  }

  /** A span for one attempt of a task, under the execution; fn runs with it active. */
  async taskAttempt<T>(task: { name: string; address: string; sequence: number; attempt: number; maxAttempts: number }, fn: () => Promise<T>): Promise<T> {
    const span = trace.getTracer("aiki-worker").startSpan(
      `task ${task.name}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          "aiki.task.name": task.name,
          "aiki.task.address": task.address,
          "aiki.task.sequence": task.sequence,
          "aiki.attempt": task.attempt,
          "aiki.task.max_attempts": task.maxAttempts,
          "aiki.run_id": this.runId,
        },
      },
      this.context,
    );
    try {
      const value = await context.with(trace.setSpan(this.context, span), fn);
      return value;
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  }

  /** A failed attempt that will be tried again: an event on the execution, with the attempt's number and delay. */
  retryScheduled(taskName: string, attempt: number, delayMs: number, inline: boolean): void {
    this.span.addEvent("task retry scheduled", {
      "aiki.task.name": taskName,
      "aiki.attempt": attempt,
      "aiki.retry.delay_ms": delayMs,
      "aiki.retry.inline": inline,
    });
  }

  /** The run suspends on a wait (sleep, event, child, task retry): the execution ends here and a later one goes on. */
  suspended(kind: string, name: string, attributes: Record<string, string | number> = {}): void {
    this.span.addEvent(`suspended on ${kind}`, { "aiki.wait.kind": kind, "aiki.wait.name": name, ...attributes });
  }

  /**
   * A wait this execution found over in the history (the sleep ended, the event came): an event
   * on the execution, and the wait's own span (`sleep <name>`, `wait event <name>`) below the run's
   * trace context, from its recorded start to its recorded end. The wait began in an execution
   * that has ended since, maybe in another process, so its span is made here, when a replay
   * resumes past it, with the times the server recorded.
   */
  waitEnded(kind: "sleep" | "event wait", name: string, sequence: number, outcome: string, times: { startMs?: number; endMs?: number }): void {
    this.span.addEvent(`${kind} ended`, { "aiki.wait.kind": kind, "aiki.wait.name": name, "aiki.wait.outcome": outcome });
    if (times.startMs === undefined || !this.span.isRecording()) return;
    const endMs = times.endMs ?? Date.now();
    trace
      .getTracer("aiki-worker")
      .startSpan(
        kind === "sleep" ? `sleep ${name}` : `wait event ${name}`,
        {
          kind: SpanKind.INTERNAL,
          startTime: times.startMs,
          attributes: {
            "aiki.run_id": this.runId,
            "aiki.wait.kind": kind,
            "aiki.wait.name": name,
            "aiki.wait.sequence": sequence,
            "aiki.wait.outcome": outcome,
          },
        },
        this.parent,
      )
      .end(Math.max(endMs, times.startMs));
  }

  /** The trace context a child started now continues: the active span's (a task's) or this execution's. */
  childTraceContext(): TraceContextHeaders | undefined {
    const active = trace.getSpanContext(context.active());
    if (active && active.traceId === this.span.spanContext().traceId) return traceContextOf(active);
    return traceContextOf(this.span.spanContext());
  }

  end(outcome: string, error?: unknown): void {
    this.span.setAttribute("aiki.outcome", outcome);
    if (outcome === "failed" || outcome === "error") {
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : outcome });
    }
    this.span.end();
  }
}
