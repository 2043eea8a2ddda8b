// A worker in another process continues a run's trace (docs/tracing.md): the client gives only a
// W3C traceparent header; the worker, configured by OTEL_* alone, exports its spans over
// OTLP/HTTP to a receiver of this test, under that trace id.
import { RunService, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { fromJson } from "@bufbuild/protobuf";
import { durationFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import type { TestAiki } from "./support/aiki-server.js";
import { useTestAiki } from "./support/use-test-aiki.js";
import { type OtlpSink, startOtlpSink } from "./support/otlp-sink.js";
import { startWorkerProcess, type WorkerProcess } from "./support/worker-process.js";

let aiki: TestAiki;
let sink: OtlpSink;
let workerProcess: WorkerProcess | undefined;

const h = useTestAiki();
beforeAll(async () => {
  aiki = h.aiki;
  sink = await startOtlpSink();
});
afterAll(async () => {
  await workerProcess?.kill("SIGTERM");
  await sink?.close();
});

it("a worker in another process continues the trace its run was started in", async () => {
  workerProcess = await startWorkerProcess({
    AIKI_URL: aiki.url,
    WORKER_NAME: "traced-worker",
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
    OTEL_SERVICE_NAME: "checkout-worker",
    // Export each batch at once rather than every 5 s.
    OTEL_BSP_SCHEDULE_DELAY: "20",
  });
  const traceId = "5d8a1c0e3b7f4a2c9e6d1b0a8f7c3e21";
  const traceparent = `00-${traceId}-a1b2c3d4e5f60718-01`;
  const runs = aiki.client(RunService);
  const { run } = await runs.startRun(
    { workflowName: "load-steps", workflowVersionId: "1.0.0", input: fromJson(ValueSchema, { tag: "traced" }) },
    { headers: { traceparent } },
  );
  const done = await runs.waitForRunStatus({ runId: run!.id, status: RunStatus.COMPLETED, timeout: durationFromMs(20_000) });
  expect(done.outcome).toBe(WaitForRunStatusResponse_Outcome.REACHED);

  // Two executions (before and after the durable sleep), three task attempts between them; the
  // worker ends an execution's span after the server answered its last write.
  await vi.waitFor(
    () => {
      const tasks = sink.spans.filter((s) => s.traceId === traceId && s.name === "task step");
      const finished = sink.spans.some((s) => s.traceId === traceId && s.attributes["aiki.outcome"] === "completed");
      if (tasks.length < 3 || !finished) throw new Error(`${tasks.length} task spans received so far, the last execution ${finished ? "too" : "not yet"}`);
    },
    { timeout: 10_000, interval: 50 },
  );
  const ours = sink.spans.filter((s) => s.traceId === traceId);
  const executions = ours.filter((s) => s.name === "run load-steps");
  expect(executions.length).toBeGreaterThanOrEqual(2);
  for (const e of executions) {
    // The client's span is the parent: the server records nothing here (no provider in this process).
    expect(e.parentSpanId).toBe("a1b2c3d4e5f60718");
    expect(e.attributes).toMatchObject({ "aiki.run_id": run!.id, "aiki.workflow": "load-steps", "aiki.workflow_version": "1.0.0", "aiki.attempt": 1 });
    expect(e.serviceName).toBe("checkout-worker");
  }
  const executionIds = new Set(executions.map((e) => e.spanId));
  for (const t of ours.filter((s) => s.name === "task step")) {
    expect(executionIds.has(t.parentSpanId)).toBe(true);
    expect(t.attributes).toMatchObject({ "aiki.run_id": run!.id, "aiki.attempt": 1 });
  }
  // Nothing the worker did for this run went to another trace.
  expect(sink.spans.filter((s) => s.attributes["aiki.run_id"] === run!.id && s.traceId !== traceId)).toEqual([]);
});
