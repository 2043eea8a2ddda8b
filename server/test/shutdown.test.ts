import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { expect, it } from "vitest";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki();

it("closing the server answers in-flight long-polls instead of cutting them", async () => {
  const aiki = h.aiki;
  const runs = aiki.client(RunService);
  const { run } = await runs.startRun({ workflowName: "w", workflowVersionId: "1" });
  const waiting = runs.waitForRunStatus({ runId: run!.id, status: RunStatus.COMPLETED, timeout: durationFromMs(60_000) });
  await new Promise((r) => setTimeout(r, 100));
  const closing = aiki.stopServer();
  const res = await waiting;
  expect(res.outcome).toBe(WaitForRunStatusResponse_Outcome.TIMEOUT);
  expect(res.run?.status).toBe(RunStatus.QUEUED);
  await closing;
});
