// The SDK's bulk actions (startBatchOperation, countBatchRuns, batchOperation) against a real
// server, Postgres and Redis: select by workflow, status and tags or by ids, wait for the end,
// read it again by id, and a refusal translated like any other.
import { batchOperation, countBatchRuns, InvalidArgumentError, startBatchOperation } from "@aiki/sdk";
import { clientInternals } from "@aiki/sdk/internal";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { describe, expect, it } from "vitest";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki();

async function startRuns(workflowName: string, n: number, tags: Record<string, string>): Promise<string[]> {
  const runs = clientInternals(h.client).runs;
  const started = await Promise.all(Array.from({ length: n }, () => runs.startRun({ workflowName, workflowVersionId: "1", tags })));
  return started.map((r) => r.run!.id);
}

async function statuses(ids: string[]): Promise<RunStatus[]> {
  const { runs } = await clientInternals(h.client).runs.listRuns({ runIds: ids });
  return ids.map((id) => runs.find((r) => r.id === id)!.status);
}

describe("SDK batch operations", () => {
  it("counts, pauses by workflow, status and tag, waits for the end, then cancels by ids", async () => {
    const workflowName = h.uniqueName("sdk-batch");
    const tagged = await startRuns(workflowName, 4, { incident: "inc-9" });
    const other = await startRuns(workflowName, 2, { incident: "inc-10" });
    const runs = { workflowName, statuses: ["queued" as const], tags: { incident: "inc-9" } };

    expect(await countBatchRuns(h.client, { runs, action: { type: "pause" } })).toBe(4);
    const pause = await startBatchOperation(h.client, { runs, action: { type: "pause", reason: "provider down" }, rate: 1000 });
    expect(pause.operation).toMatchObject({ status: "running", matching: 4 });
    expect(await pause.waitForEnd({ timeout: 20_000, pollInterval: 25 })).toMatchObject({ status: "completed", done: 4, skipped: 0, failed: 0 });
    expect(await statuses(tagged)).toEqual(tagged.map(() => RunStatus.PAUSED));
    expect(await statuses(other)).toEqual(other.map(() => RunStatus.QUEUED));

    const cancel = await startBatchOperation(h.client, { runs: { ids: [...tagged, ...other] }, action: { type: "cancel", reason: "bad deploy" }, rate: 1000 });
    await cancel.waitForEnd({ timeout: 20_000, pollInterval: 25 });
    const again = await batchOperation(h.client, cancel.id);
    expect(again.operation).toMatchObject({ id: cancel.id, status: "completed", matching: 6, done: 6 });
    expect(await statuses([...tagged, ...other])).toEqual([...tagged, ...other].map(() => RunStatus.CANCELLED));
  });

  it("a refused start is the SDK's InvalidArgumentError naming the field", async () => {
    const error = await startBatchOperation(h.client, { runs: { workflowName: "x" }, action: { type: "send_event", eventName: "" } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toContain("action.send_event.event_name");
  });
});
