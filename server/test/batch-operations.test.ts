// BatchService against a real server, Postgres and Redis: selection by filter (tags, status,
// workflow) or by ids, each action through the single-run guarded transitions, dry runs,
// idempotency, cancellation of an operation, and validation.
import { type Client, Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { beforeAll, describe, expect, it } from "vitest";
import { type BatchOperation, BatchOperationStatus, BatchService } from "@aiki/gen/aiki/v1/batch_service_pb";
import { BadRequestDetailSchema, LimitExceededDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { rpcError } from "../../test/support/rpc-error.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki({ limits: { maxBatchRunIds: 20, batchMaxRate: 5000, maxRunningBatchOperations: 3 } });
let runs: Client<typeof RunService>;
let batches: Client<typeof BatchService>;

beforeAll(() => {
  runs = h.rpc(RunService);
  batches = h.rpc(BatchService);
});

const start = (workflowName: string, tags: Record<string, string>) => runs.startRun({ workflowName, workflowVersionId: "1", tags }).then((r) => r.run!);

/** Resolves once the operation has ended (nothing announces it: polled), with the operation as it ended. */
async function ended(id: string): Promise<BatchOperation> {
  let operation: BatchOperation | undefined;
  await h.until(
    async () => {
      operation = (await batches.getBatchOperation({ operationId: id })).operation;
      return operation!.status !== BatchOperationStatus.RUNNING;
    },
    { what: `batch operation ${id} ended` },
  );
  return operation!;
}

async function statusOf(ids: string[]): Promise<Map<string, RunStatus>> {
  const got = await runs.listRuns({ runIds: ids, pageSize: 100 });
  return new Map(got.runs.map((r) => [r.id, r.status]));
}

describe("bulk actions by filter", () => {
  it("cancels every run matching tag and status, no other, and the dry run counted exactly those", async () => {
    const target = await Promise.all(Array.from({ length: 30 }, () => start("charge-card", { incident: "inc-1" })));
    const pausedTagged = await Promise.all(Array.from({ length: 5 }, () => start("charge-card", { incident: "inc-1" })));
    for (const r of pausedTagged) await runs.pauseRun({ runId: r.id });
    const otherTag = await Promise.all(Array.from({ length: 5 }, () => start("charge-card", { incident: "inc-2" })));
    const selection = { case: "filter" as const, value: { tags: { incident: "inc-1" }, statuses: [RunStatus.QUEUED] } };
    const action = { action: { case: "cancel" as const, value: { reason: "bad deploy" } } };

    const dry = await batches.startBatchOperation({ selection, action, dryRun: true });
    expect(dry.operation).toBeUndefined();
    expect(dry.matching).toBe(30n);

    const { operation } = await batches.startBatchOperation({ selection, action, rate: 5000, description: "inc-1" });
    expect(operation?.status).toBe(BatchOperationStatus.RUNNING);
    expect(operation?.matching).toBe(30n);
    const done = await ended(operation!.id);
    expect(done).toMatchObject({ status: BatchOperationStatus.COMPLETED, done: 30n, skipped: 0n, failed: 0n, requestedBy: "client" });
    expect(done.done + done.skipped).toBe(dry.matching);

    const statuses = await statusOf([...target, ...pausedTagged, ...otherTag].map((r) => r.id));
    for (const r of target) expect(statuses.get(r.id)).toBe(RunStatus.CANCELLED);
    for (const r of pausedTagged) expect(statuses.get(r.id)).toBe(RunStatus.PAUSED);
    for (const r of otherTag) expect(statuses.get(r.id)).toBe(RunStatus.QUEUED);
    const cancelled = (await runs.getRun({ runId: target[0]!.id })).run!;
    expect(cancelled.statusReason).toBe("bad deploy");
    const transitions = await runs.listRunTransitions({ runId: target[0]!.id });
    expect(transitions.transitions.at(-1)).toMatchObject({ toStatus: RunStatus.CANCELLED, actor: `batch:${operation!.id}` });

    const listed = await batches.listBatchOperations({ status: BatchOperationStatus.COMPLETED });
    expect(listed.operations.map((o) => o.id)).toContain(operation!.id);
  });

  it("pauses, then resumes by filter; a run whose state forbids the action is skipped, not an error", async () => {
    const tagged = await Promise.all(Array.from({ length: 8 }, () => start("refund", { batch: "pr" })));
    await runs.cancelRun({ runId: tagged[0]!.id });
    const selection = { case: "filter" as const, value: { tags: { batch: "pr" } } };
    const paused = await ended(
      (await batches.startBatchOperation({ selection, action: { action: { case: "pause", value: { reason: "provider down" } } }, rate: 5000 })).operation!.id,
    );
    expect(paused).toMatchObject({ status: BatchOperationStatus.COMPLETED, done: 7n, skipped: 1n });
    const resumed = await ended(
      (await batches.startBatchOperation({ selection, action: { action: { case: "resume", value: {} } }, rate: 5000 })).operation!.id,
    );
    expect(resumed).toMatchObject({ done: 7n, skipped: 1n });
    const statuses = await statusOf(tagged.map((r) => r.id));
    expect(tagged.slice(1).every((r) => statuses.get(r.id) === RunStatus.QUEUED)).toBe(true);
  });

  it("acts on an explicit list of run ids (unknown ones skipped) and sends events", async () => {
    const a = await start("notify", {});
    const b = await start("notify", {});
    const unknown = "0190a0a0-0000-7000-8000-000000000000";
    const op = await ended(
      (
        await batches.startBatchOperation({
          selection: { case: "runIds", value: { ids: [a.id, b.id, unknown, a.id] } },
          action: { action: { case: "sendEvent", value: { eventName: "approved", data: { kind: { case: "numberValue", value: 1 } }, referenceId: "once" } } },
        })
      ).operation!.id,
    );
    expect(op).toMatchObject({ status: BatchOperationStatus.COMPLETED, matching: 3n, done: 2n, skipped: 1n });
    const { rows } = await sql<{ n: string }>`select count(*) as n from events where name = 'approved'`.execute(h.aiki.deps.db);
    expect(Number(rows[0]!.n)).toBe(2);
  });

  it("is idempotent per request id; another request with that id is ALREADY_EXISTS", async () => {
    await start("idem", { k: "v" });
    const req = {
      requestId: "req-1",
      selection: { case: "filter" as const, value: { tags: { k: "v" } } },
      action: { action: { case: "awake" as const, value: {} } },
    };
    const first = await batches.startBatchOperation(req);
    const again = await batches.startBatchOperation(req);
    expect(again.existing).toBe(true);
    expect(again.operation?.id).toBe(first.operation?.id);
    const other = await rpcError(batches.startBatchOperation({ ...req, action: { action: { case: "pause", value: {} } } }));
    expect(other.code).toBe(Code.AlreadyExists);
    const op = await ended(first.operation!.id);
    // The run is queued, not sleeping: awake skips it.
    expect(op).toMatchObject({ done: 0n, skipped: 1n });
  });

  it("cancelling an operation stops it after the page in progress and leaves the rest alone", async () => {
    const many = await Promise.all(Array.from({ length: 20 }, () => start("slow", { slow: "1" })));
    // One run per second: the operation is still running when it is cancelled.
    const { operation } = await batches.startBatchOperation({
      selection: { case: "filter", value: { tags: { slow: "1" } } },
      action: { action: { case: "pause", value: {} } },
      rate: 1,
    });
    const cancelled = await batches.cancelBatchOperation({ operationId: operation!.id, reason: "changed my mind" });
    expect(cancelled.operation).toMatchObject({ status: BatchOperationStatus.CANCELLED, statusReason: "changed my mind" });
    const after = (await batches.getBatchOperation({ operationId: operation!.id })).operation!;
    expect(after.status).toBe(BatchOperationStatus.CANCELLED);
    const statuses = await statusOf(many.map((r) => r.id));
    const pausedCount = [...statuses.values()].filter((s) => s === RunStatus.PAUSED).length;
    expect(pausedCount).toBe(Number(after.done));
    expect(pausedCount).toBeLessThan(20);
    // Cancelling again answers the ended operation unchanged.
    expect((await batches.cancelBatchOperation({ operationId: operation!.id })).operation?.status).toBe(BatchOperationStatus.CANCELLED);
  });

  it("refuses bad requests with INVALID_ARGUMENT naming the field or limit, unknown operations with NOT_FOUND", async () => {
    const none = await rpcError(batches.startBatchOperation({}));
    expect(none.code).toBe(Code.InvalidArgument);
    const fields = none.findDetails(BadRequestDetailSchema)[0]!.fieldViolations.map((f) => f.field);
    expect(fields).toEqual(expect.arrayContaining(["selection", "action.action"]));

    const tooFast = await rpcError(
      batches.startBatchOperation({ selection: { case: "filter", value: {} }, action: { action: { case: "awake", value: {} } }, rate: 5001 }),
    );
    expect(tooFast.rawMessage).toContain("AIKI_BATCH_MAX_RATE");
    const tooMany = await rpcError(
      batches.startBatchOperation({
        selection: { case: "runIds", value: { ids: Array.from({ length: 21 }, () => "0190a0a0-0000-7000-8000-000000000000") } },
        action: { action: { case: "awake", value: {} } },
      }),
    );
    expect(tooMany.findDetails(LimitExceededDetailSchema)[0]).toMatchObject({ limit: "AIKI_MAX_BATCH_RUN_IDS", max: 20n });
    const badFilter = await rpcError(
      batches.startBatchOperation({ selection: { case: "filter", value: { tags: { "no spaces": "x" } } }, action: { action: { case: "awake", value: {} } } }),
    );
    expect(badFilter.code).toBe(Code.InvalidArgument);
    const noEvent = await rpcError(
      batches.startBatchOperation({ selection: { case: "filter", value: {} }, action: { action: { case: "sendEvent", value: {} } } }),
    );
    expect(noEvent.findDetails(BadRequestDetailSchema)[0]!.fieldViolations[0]!.field).toBe("action.send_event.event_name");

    const missing = await rpcError(batches.getBatchOperation({ operationId: "0190a0a0-0000-7000-8000-000000000000" }));
    expect(missing.code).toBe(Code.NotFound);
  });

  it("refuses a start past AIKI_MAX_RUNNING_BATCH_OPERATIONS with RESOURCE_EXHAUSTED", async () => {
    await start("cap", { cap: "1" });
    const slow = { selection: { case: "filter" as const, value: { tags: { cap: "1" } } }, action: { action: { case: "pause" as const, value: {} } }, rate: 1 };
    // Each goes through five unknown ids at one a second: all three still run when a fourth is asked for.
    const unknownIds = Array.from({ length: 5 }, (_, j) => `0190a0a0-0000-7000-8000-00000000000${j}`);
    const started: BatchOperation[] = [];
    for (let i = 0; i < 3; i++) {
      started.push((await batches.startBatchOperation({ ...slow, selection: { case: "runIds", value: { ids: unknownIds } } })).operation!);
    }
    const refused = await rpcError(batches.startBatchOperation(slow));
    expect(refused.code).toBe(Code.ResourceExhausted);
    expect(refused.findDetails(LimitExceededDetailSchema)[0]).toMatchObject({ limit: "AIKI_MAX_RUNNING_BATCH_OPERATIONS", max: 3n });
    for (const op of started) await batches.cancelBatchOperation({ operationId: op.id });
  });
});
