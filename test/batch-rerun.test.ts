// A bulk rerun (BatchAction.rerun) on a real server, Postgres and Redis with a real worker: every
// failed run of a workflow (selected by filter) is rerun from its last failure after a code fix,
// once each, with its tags; the copied steps' code does not run again; unfinished runs named by id
// are skipped; a repeated page (the same request id) never makes a second rerun.
import { type BatchOperation, BatchOperationStatus, BatchService } from "@aiki/gen/aiki/v1/batch_service_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { task, workflow } from "@aiki/sdk";
import { describe, expect, it } from "vitest";
import { useTestAiki } from "./support/use-test-aiki.js";

const h = useTestAiki();

describe("bulk rerun", () => {
  it("reruns every failed run of a workflow from its last failure, once each, without running the copied steps again", async () => {
    const calls = { reserve: 0, charge: 0 };
    const state = { fixed: false };
    const reserve = task({
      name: "bulk-rerun-reserve",
      async handler(order: string) {
        calls.reserve++;
        return `reserved ${order}`;
      },
    });
    const charge = task({
      name: "bulk-rerun-charge",
      async handler(reservation: string) {
        calls.charge++;
        if (!state.fixed) throw new Error("provider down");
        return `charged ${reservation}`;
      },
      opts: { retry: { type: "never" } },
    });
    const name = h.uniqueName("charge-card");
    const version = workflow({ name }).v("1", {
      async handler(run, input: { order: string }) {
        return charge.start(run, await reserve.start(run, input.order));
      },
    });
    await h.spawn([version]);
    const handles = await Promise.all(["a", "b", "c"].map((order) => version.with().opt("tags", { incident: "inc-7" }).start(h.client, { order })));
    for (const handle of handles) await h.waitForStatus(handle.run.id, RunStatus.FAILED);
    expect(calls).toEqual({ reserve: 3, charge: 3 });
    // One run of the workflow that is not finished: named by id, the operation skips it.
    const runs = h.rpc(RunService);
    const waiting = (await runs.startRun({ workflowName: name, workflowVersionId: "never-served" })).run!;

    state.fixed = true;
    const batches = h.rpc(BatchService);
    const action = { action: { case: "rerun" as const, value: { from: { case: "lastFailure" as const, value: {} } } } };
    const byFilter = { case: "filter" as const, value: { workflowName: name, statuses: [RunStatus.FAILED] } };
    expect((await batches.startBatchOperation({ selection: byFilter, action, dryRun: true })).matching).toBe(3n);
    const { operation } = await batches.startBatchOperation({ selection: byFilter, action, rate: 1000 });
    const ended = async (id: string): Promise<BatchOperation> => {
      let last: BatchOperation | undefined;
      await h.until(
        async () => {
          last = (await batches.getBatchOperation({ operationId: id })).operation!;
          return last.status !== BatchOperationStatus.RUNNING;
        },
        { what: `batch operation ${id} ended` },
      );
      return last!;
    };
    expect(await ended(operation!.id)).toMatchObject({ status: BatchOperationStatus.COMPLETED, done: 3n, skipped: 0n, failed: 0n });

    for (const handle of handles) {
      const reruns = (await runs.listRuns({ rerunOf: handle.run.id })).runs;
      expect(reruns).toHaveLength(1);
      expect(reruns[0]!.tags).toEqual({ incident: "inc-7" });
      expect(reruns[0]!.fromStep?.lastFailure).toBe(true);
      await h.waitForStatus(reruns[0]!.id, RunStatus.COMPLETED);
    }
    // The reruns executed only the failed step: reserve's code did not run again.
    expect(calls).toEqual({ reserve: 3, charge: 6 });
    // The sources are unchanged.
    for (const handle of handles) expect((await runs.getRun({ runId: handle.run.id })).run!.status).toBe(RunStatus.FAILED);

    // By id: the unfinished run is skipped, a source already rerun is rerun again (another operation).
    const byIds = { case: "runIds" as const, value: { ids: [waiting.id, handles[0]!.run.id] } };
    const second = (await batches.startBatchOperation({ selection: byIds, action, rate: 1000 })).operation!;
    expect(await ended(second.id)).toMatchObject({ status: BatchOperationStatus.COMPLETED, done: 1n, skipped: 1n, failed: 0n });
    expect((await runs.listRuns({ rerunOf: handles[0]!.run.id })).runs).toHaveLength(2);
    expect((await runs.listRuns({ rerunOf: waiting.id })).runs).toHaveLength(0);
    await runs.cancelRun({ runId: waiting.id });
  });

  it("refuses a rerun action without a starting point, naming the field", async () => {
    const batches = h.rpc(BatchService);
    const error = await batches
      .startBatchOperation({
        selection: { case: "filter", value: { workflowName: "x" } },
        action: { action: { case: "rerun", value: {} } },
      })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(error?.message).toContain("action.rerun.from: is required");
  });
});
