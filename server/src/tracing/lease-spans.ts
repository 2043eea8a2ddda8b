import { SpanKind } from "@opentelemetry/api";
import type { RunRow } from "../store/runs.table.js";
import { parentContextOf, serverTracer } from "./server-tracer.js";

/**
 * One span per lease in the trace each run continues, from when the run became ready to when a
 * worker got it: the queue wait a trace otherwise shows as a gap. Runs without a trace context
 * cost nothing; without a tracer provider the spans are no-ops.
 */
export function traceLeases(runs: ReadonlyArray<RunRow & { queued_time?: Date | null }>, path: "claim" | "hand_over"): void {
  for (const run of runs) {
    if (!run.traceparent) continue;
    const parent = parentContextOf({ traceparent: run.traceparent, tracestate: run.tracestate ?? undefined });
    serverTracer()
      .startSpan(
        `lease ${run.workflow_name}`,
        {
          kind: SpanKind.INTERNAL,
          startTime: run.queued_time ?? run.update_time,
          attributes: {
            "aiki.run_id": run.id,
            "aiki.workflow": run.workflow_name,
            "aiki.workflow_version": run.workflow_version_id,
            "aiki.attempt": run.attempt,
            "aiki.worker_id": run.lease_worker_id ?? "",
            "aiki.lease.path": path,
          },
        },
        parent,
      )
      .end(run.update_time);
  }
}
