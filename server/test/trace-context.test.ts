// The trace context contract (docs/tracing.md) through the raw RPCs, with no tracer provider in
// this process: what a client gives (header or field) is stored unchanged, carried on Run and on
// the lease, and inherited by children; a malformed field is refused.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { BadRequestDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { rpcError } from "../../test/support/rpc-error.js";
import { childRunKey } from "../src/engine/canonical-json.js";

let aiki: TestAiki;
let runs: Client<typeof RunService>;
let leases: Client<typeof WorkerLeaseService>;

const h = useTestAiki();
beforeAll(async () => {
  aiki = h.aiki;
  runs = aiki.client(RunService);
  leases = aiki.client(WorkerLeaseService);
});

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const otherTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

describe("trace context", () => {
  it("stores the traceparent and tracestate headers of StartRun and carries them on Run and the lease", async () => {
    const { run } = await runs.startRun({ workflowName: "traced-header", workflowVersionId: "1" }, { headers: { traceparent, tracestate: "vendor=abc" } });
    expect(run?.traceContext).toMatchObject({ traceparent, tracestate: "vendor=abc" });
    expect((await runs.getRun({ runId: run!.id })).run?.traceContext?.traceparent).toBe(traceparent);
    const { leases: got } = await leases.pollLeases({
      workerId: "w-trace",
      workerName: "w",
      workflows: [{ workflowName: "traced-header", workflowVersionId: "1" }],
      maxLeases: 1,
      wait: durationFromMs(5_000),
    });
    expect(got[0]?.run?.traceContext?.traceparent).toBe(traceparent);
  });

  it("prefers the request's field to the header, and leaves the field out of the request id's identity", async () => {
    const first = await runs.startRun(
      { workflowName: "traced-field", workflowVersionId: "1", requestId: "trace-req-1", traceContext: { traceparent: otherTraceparent, tracestate: "" } },
      { headers: { traceparent } },
    );
    expect(first.run?.traceContext?.traceparent).toBe(otherTraceparent);
    const again = await runs.startRun({
      workflowName: "traced-field",
      workflowVersionId: "1",
      requestId: "trace-req-1",
      traceContext: { traceparent, tracestate: "" },
    });
    expect(again.existing).toBe(true);
    expect(again.run?.id).toBe(first.run?.id);
  });

  it("starts untraced without either, and ignores a malformed header as W3C says", async () => {
    const plain = await runs.startRun({ workflowName: "untraced", workflowVersionId: "1" });
    expect(plain.run?.traceContext).toBeUndefined();
    const bad = await runs.startRun({ workflowName: "untraced", workflowVersionId: "1" }, { headers: { traceparent: "00-nothex-01" } });
    expect(bad.run?.traceContext).toBeUndefined();
  });

  it("refuses a malformed trace_context field with INVALID_ARGUMENT naming it", async () => {
    const error = await rpcError(
      runs.startRun({
        workflowName: "traced-bad",
        workflowVersionId: "1",
        traceContext: { traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01", tracestate: "" },
      }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    const [detail] = error.findDetails(BadRequestDetailSchema);
    expect(detail?.fieldViolations.map((f) => f.field)).toEqual(["trace_context.traceparent"]);
  });

  it("gives a child the worker's span when StartChildRun names one, else its parent's trace context", async () => {
    await runs.startRun({ workflowName: "traced-parent", workflowVersionId: "1" }, { headers: { traceparent } });
    const { leases: got } = await leases.pollLeases({
      workerId: "w-trace-2",
      workerName: "w",
      workflows: [{ workflowName: "traced-parent", workflowVersionId: "1" }],
      maxLeases: 1,
      wait: durationFromMs(5_000),
    });
    const parent = got[0]!;
    const inherited = await leases.startChildRun({
      parentRunId: parent.run!.id,
      leaseToken: parent.leaseToken,
      workflowName: "traced-child",
      workflowVersionId: "1",
      referenceId: "c-1",
      key: childRunKey("c-1", undefined),
    });
    expect(inherited.run?.traceContext?.traceparent).toBe(traceparent);
    const named = await leases.startChildRun({
      parentRunId: parent.run!.id,
      leaseToken: parent.leaseToken,
      workflowName: "traced-child",
      workflowVersionId: "1",
      referenceId: "c-2",
      key: childRunKey("c-2", undefined),
      traceContext: { traceparent: otherTraceparent, tracestate: "" },
    });
    expect(named.run?.traceContext?.traceparent).toBe(otherTraceparent);
  });
});
