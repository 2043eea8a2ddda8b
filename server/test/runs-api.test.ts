import { create, fromBinary } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { beforeAll, describe, expect, it } from "vitest";
import {
  BadRequestDetailSchema,
  InvalidTransitionDetailSchema,
  RunConflictDetail_Kind,
  RunConflictDetailSchema,
  RunNotFoundDetailSchema,
} from "@aiki/gen/aiki/v1/error_details_pb";
import { ReferenceConflictPolicy, RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService, type StartRunRequestSchema, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { RunStatus as Status } from "../../server/src/domain/run-status.js";
import { insertRun, transitionRun } from "../../server/src/store/run-repository.js";
import { uuidV7 } from "../../server/src/store/uuid-v7.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { rpcError } from "../../test/support/rpc-error.js";

const h = useTestAiki();
let aiki: TestAiki;
let runs: Client<typeof RunService>;

beforeAll(() => {
  aiki = h.aiki;
  runs = aiki.client(RunService);
});

type StartInit = MessageInitShape<typeof StartRunRequestSchema>;
const start = (req: Partial<StartInit> = {}) => runs.startRun({ workflowName: "order", workflowVersionId: "1.0.0", ...req } as StartInit);

async function countRuns(): Promise<number> {
  const { rows } = await sql<{ n: string }>`select count(*) as n from runs`.execute(aiki.deps.db);
  return Number(rows[0]!.n);
}

describe("StartRun / GetRun", () => {
  it("starts a queued run with JSON input and reads it back", async () => {
    const { run, existing } = await start({ input: { kind: { case: "stringValue", value: "x" } } as never });
    expect(existing).toBe(false);
    expect(run?.status).toBe(RunStatus.QUEUED);
    expect(run?.revision).toBe(1);
    const got = await runs.getRun({ runId: run!.id });
    expect(got.run?.id).toBe(run!.id);
    expect(got.run?.workflowName).toBe("order");
    expect(got.run?.createTime).toBeDefined();
  });

  it("refuses an incomplete request with INVALID_ARGUMENT naming every field, creating nothing", async () => {
    const before = await countRuns();
    const error = await rpcError(runs.startRun({ workflowName: "", workflowVersionId: "", shard: "x".repeat(300) }));
    expect(error.code).toBe(Code.InvalidArgument);
    const [detail] = error.findDetails(BadRequestDetailSchema);
    expect(detail?.fieldViolations.map((v) => v.field).sort()).toEqual(["shard", "workflow_name", "workflow_version_id"]);
    expect(await countRuns()).toBe(before);
  });

  it("validates retry policies and triggers field by field", async () => {
    const error = await rpcError(
      start({
        retry: { strategy: { case: "fixed", value: { maxAttempts: 0, delay: durationFromMs(-5) } } } as never,
        trigger: { when: { case: "delay", value: durationFromMs(-1) } } as never,
      }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    const fields = error.findDetails(BadRequestDetailSchema)[0]?.fieldViolations.map((v) => v.field);
    expect(fields).toEqual(expect.arrayContaining(["retry.fixed.max_attempts", "retry.fixed.delay", "trigger.delay"]));
  });

  it("GetRun of an unknown id is NOT_FOUND with the id; a malformed id is INVALID_ARGUMENT", async () => {
    const missing = uuidV7();
    const notFound = await rpcError(runs.getRun({ runId: missing }));
    expect(notFound.code).toBe(Code.NotFound);
    expect(notFound.findDetails(RunNotFoundDetailSchema)[0]?.runId).toBe(missing);
    const bad = await rpcError(runs.getRun({ runId: "not-a-uuid" }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.findDetails(BadRequestDetailSchema)[0]?.fieldViolations[0]?.field).toBe("run_id");
  });

  it("stores the retry policy and returns it", async () => {
    const { run } = await start({
      retry: { strategy: { case: "exponential", value: { maxAttempts: 3, baseDelay: durationFromMs(1000) } } } as never,
    });
    const got = await runs.getRun({ runId: run!.id });
    expect(got.run?.retry?.strategy.case).toBe("exponential");
    const value = got.run?.retry?.strategy.value as { maxAttempts: number; factor: number };
    expect(value.maxAttempts).toBe(3);
    expect(value.factor).toBe(2);
  });
});

describe("idempotency", () => {
  it("a repeated start with the same request id returns the first answer and creates nothing", async () => {
    const requestId = h.uniqueName("req");
    const first = await start({ requestId });
    const before = await countRuns();
    const again = await start({ requestId });
    expect(again.existing).toBe(true);
    expect(again.run?.id).toBe(first.run?.id);
    expect(await countRuns()).toBe(before);
  });

  it("a request id reused for a different request is ALREADY_EXISTS", async () => {
    const requestId = h.uniqueName("req");
    const first = await start({ requestId });
    const error = await rpcError(start({ requestId, workflowName: "other" }));
    expect(error.code).toBe(Code.AlreadyExists);
    const detail = error.findDetails(RunConflictDetailSchema)[0];
    expect(detail?.kind).toBe(RunConflictDetail_Kind.REQUEST_ID);
    expect(detail?.existingRunId).toBe(first.run?.id);
  });

  it("concurrent starts with one request id create exactly one run", async () => {
    const requestId = h.uniqueName("req");
    const results = await Promise.all(Array.from({ length: 8 }, () => start({ requestId })));
    expect(new Set(results.map((r) => r.run?.id)).size).toBe(1);
    expect(results.filter((r) => !r.existing)).toHaveLength(1);
  });
});

describe("reference ids", () => {
  const input = (orderId: string) => ({ kind: { case: "stringValue", value: orderId } }) as never;

  it("same reference and input → the existing run", async () => {
    const referenceId = h.uniqueName("ref");
    const first = await start({ referenceId, input: input("a") });
    const again = await start({ referenceId, input: input("a") });
    expect(again.existing).toBe(true);
    expect(again.run?.id).toBe(first.run?.id);
  });

  it("same reference, different input → ALREADY_EXISTS by default, the existing run with RETURN_EXISTING", async () => {
    const referenceId = h.uniqueName("ref");
    const first = await start({ referenceId, input: input("a") });
    const error = await rpcError(start({ referenceId, input: input("b") }));
    expect(error.code).toBe(Code.AlreadyExists);
    const detail = error.findDetails(RunConflictDetailSchema)[0];
    expect(detail).toMatchObject({ kind: RunConflictDetail_Kind.REFERENCE_ID, existingRunId: first.run?.id, referenceId });
    const returned = await start({ referenceId, input: input("b"), conflictPolicy: ReferenceConflictPolicy.RETURN_EXISTING });
    expect(returned.run?.id).toBe(first.run?.id);
  });

  it("references are unique per workflow version, not globally", async () => {
    const referenceId = h.uniqueName("ref");
    const v1 = await start({ referenceId });
    const v2 = await start({ referenceId, workflowVersionId: "2.0.0" });
    expect(v2.run?.id).not.toBe(v1.run?.id);
    const got = await runs.getRunByReferenceId({ reference: { workflowName: "order", workflowVersionId: "2.0.0", referenceId } });
    expect(got.run?.id).toBe(v2.run?.id);
  });

  it("GetRunByReferenceId of an unknown reference is NOT_FOUND naming it", async () => {
    const error = await rpcError(runs.getRunByReferenceId({ reference: { workflowName: "order", workflowVersionId: "1.0.0", referenceId: "nope" } }));
    expect(error.code).toBe(Code.NotFound);
    expect(error.findDetails(RunNotFoundDetailSchema)[0]?.reference?.referenceId).toBe("nope");
  });
});

describe("pause, resume, cancel, awake", () => {
  it("walks queued → paused → queued → cancelled, with the history recorded", async () => {
    const { run } = await start();
    const id = run!.id;
    expect((await runs.pauseRun({ runId: id, reason: "ops" })).run?.status).toBe(RunStatus.PAUSED);
    expect((await runs.resumeRun({ runId: id })).run?.status).toBe(RunStatus.QUEUED);
    const cancelled = await runs.cancelRun({ runId: id, reason: "customer left" });
    expect(cancelled.run?.status).toBe(RunStatus.CANCELLED);
    expect(cancelled.run?.statusReason).toBe("customer left");
    expect(cancelled.run?.endTime).toBeDefined();
    expect(cancelled.run?.revision).toBe(4);
    const { transitions } = await runs.listRunTransitions({ runId: id });
    expect(transitions.map((t) => [t.revision, t.fromStatus, t.toStatus, t.actor])).toEqual([
      [1, RunStatus.UNSPECIFIED, RunStatus.QUEUED, "client"],
      [2, RunStatus.QUEUED, RunStatus.PAUSED, "client"],
      [3, RunStatus.PAUSED, RunStatus.QUEUED, "client"],
      [4, RunStatus.QUEUED, RunStatus.CANCELLED, "client"],
    ]);
    expect(transitions[3]?.reason).toBe("customer left");
  });

  it("refuses illegal requests with FAILED_PRECONDITION naming the current state", async () => {
    const { run } = await start();
    const id = run!.id;
    const resume = await rpcError(runs.resumeRun({ runId: id }));
    expect(resume.code).toBe(Code.FailedPrecondition);
    expect(resume.rawMessage).toContain("queued");
    expect(resume.findDetails(InvalidTransitionDetailSchema)[0]).toMatchObject({
      runId: id,
      currentStatus: RunStatus.QUEUED,
      action: "resume",
    });
    const awake = await rpcError(runs.awakeRun({ runId: id }));
    expect(awake.code).toBe(Code.FailedPrecondition);
    await runs.cancelRun({ runId: id });
    const again = await rpcError(runs.cancelRun({ runId: id }));
    expect(again.code).toBe(Code.FailedPrecondition);
    expect(again.findDetails(InvalidTransitionDetailSchema)[0]?.currentStatus).toBe(RunStatus.CANCELLED);
    const pause = await rpcError(runs.pauseRun({ runId: id }));
    expect(pause.code).toBe(Code.FailedPrecondition);
    // A refused request writes nothing.
    expect((await runs.getRun({ runId: id })).run?.revision).toBe(2);
  });

  it("awake moves a sleeping run to queued", async () => {
    const { run } = await start();
    // No worker exists in this scope to put a run to sleep; set the state directly.
    await sql`update runs set status = 'sleeping', revision = revision + 1 where id = ${run!.id}`.execute(aiki.deps.db);
    const awoken = await runs.awakeRun({ runId: run!.id });
    expect(awoken.run?.status).toBe(RunStatus.QUEUED);
  });

  it("concurrent pauses: exactly one wins, the others see FAILED_PRECONDITION", async () => {
    const { run } = await start();
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => runs.pauseRun({ runId: run!.id })));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") expect(ConnectError.from(r.reason).code).toBe(Code.FailedPrecondition);
    }
    const { transitions } = await runs.listRunTransitions({ runId: run!.id });
    expect(transitions).toHaveLength(2);
  });

  it("cancelling a run cancels every non-terminal descendant and leaves finished ones alone", async () => {
    const { run: parent } = await start();
    const db = aiki.deps.db;
    const child = await db
      .transaction()
      .execute((trx) =>
        insertRun(trx, { id: uuidV7(), workflow_name: "child", workflow_version_id: "1", status: "queued", parent_run_id: parent!.id }, { actor: "test" }),
      );
    // Brought to their state through the moves a worker's writes make, so their history is one the table allows.
    const childIn = (parentId: string, path: Status[]) =>
      db.transaction().execute(async (trx) => {
        let run = await insertRun(
          trx,
          { id: uuidV7(), workflow_name: "child", workflow_version_id: "1", status: "queued", parent_run_id: parentId },
          { actor: "test" },
        );
        for (const to of path) run = (await transitionRun(trx, run, to, {}, { actor: "test" }))!;
        return run;
      });
    const grandchild = await childIn(child.id, ["running", "sleeping"]);
    const done = await childIn(parent!.id, ["running", "completed"]);
    await runs.cancelRun({ runId: parent!.id });
    const status = async (id: string) => (await runs.getRun({ runId: id })).run?.status;
    expect(await status(child.id)).toBe(RunStatus.CANCELLED);
    expect(await status(grandchild.id)).toBe(RunStatus.CANCELLED);
    expect(await status(done.id)).toBe(RunStatus.COMPLETED);
    const { transitions } = await runs.listRunTransitions({ runId: grandchild.id });
    expect(transitions.at(-1)).toMatchObject({ fromStatus: RunStatus.SLEEPING, toStatus: RunStatus.CANCELLED, actor: `parent:${parent!.id}` });
    const children = await runs.listChildRuns({ parentRunId: parent!.id });
    expect(children.runs.map((r) => r.id)).toEqual([child.id, done.id]);
  });
});

describe("ListRuns", () => {
  it("filters by workflow, status and shard, newest first, paged", async () => {
    const workflowName = h.uniqueName("list");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await start({ workflowName, shard: i % 2 ? "eu" : "" })).run!.id);
    await runs.pauseRun({ runId: ids[0]! });

    const all: string[] = [];
    let pageToken = "";
    do {
      const page = await runs.listRuns({ workflowName, pageSize: 2, pageToken });
      expect(page.runs.length).toBeLessThanOrEqual(2);
      all.push(...page.runs.map((r) => r.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(all).toEqual([...ids].reverse());

    const paused = await runs.listRuns({ workflowName, statuses: [RunStatus.PAUSED] });
    expect(paused.runs.map((r) => r.id)).toEqual([ids[0]]);
    const eu = await runs.listRuns({ workflowName, shard: "eu" });
    expect(eu.runs.map((r) => r.id)).toEqual([ids[3], ids[1]]);
    const unsharded = await runs.listRuns({ workflowName, shard: "" });
    expect(unsharded.runs).toHaveLength(3);
  });

  it("refuses a page token used with other filters, and a bad page size", async () => {
    const workflowName = h.uniqueName("list");
    await start({ workflowName });
    await start({ workflowName });
    const page = await runs.listRuns({ workflowName, pageSize: 1 });
    expect(page.nextPageToken).not.toBe("");
    const error = await rpcError(runs.listRuns({ workflowName: "other", pageSize: 1, pageToken: page.nextPageToken }));
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.findDetails(BadRequestDetailSchema)[0]?.fieldViolations[0]?.field).toBe("page_token");
    const size = await rpcError(runs.listRuns({ pageSize: 5000 }));
    expect(size.findDetails(BadRequestDetailSchema)[0]?.fieldViolations[0]?.field).toBe("page_size");
  });
});

describe("WaitForRunStatus", () => {
  it("answers at once for a run already terminal", async () => {
    const { run } = await start();
    await runs.cancelRun({ runId: run!.id });
    const startedAt = performance.now();
    const res = await runs.waitForRunStatus({ runId: run!.id, status: RunStatus.COMPLETED, timeout: durationFromMs(30_000) });
    expect(performance.now() - startedAt).toBeLessThan(5_000);
    expect(res.outcome).toBe(WaitForRunStatusResponse_Outcome.TERMINATED);
    expect(res.run?.status).toBe(RunStatus.CANCELLED);
  });

  it("wakes as soon as the run changes", async () => {
    const { run } = await start();
    const waiting = runs.waitForRunStatus({ runId: run!.id, status: RunStatus.PAUSED, timeout: durationFromMs(60_000) });
    await runs.pauseRun({ runId: run!.id });
    const res = await waiting;
    expect(res.outcome).toBe(WaitForRunStatusResponse_Outcome.REACHED);
    expect(res.run?.status).toBe(RunStatus.PAUSED);
  });

  it("times out with the current state", async () => {
    const { run } = await start();
    const res = await runs.waitForRunStatus({ runId: run!.id, status: RunStatus.COMPLETED, timeout: durationFromMs(50) });
    expect(res.outcome).toBe(WaitForRunStatusResponse_Outcome.TIMEOUT);
    expect(res.run?.status).toBe(RunStatus.QUEUED);
  });

  it("is NOT_FOUND for an unknown run", async () => {
    const error = await rpcError(runs.waitForRunStatus({ runId: uuidV7(), timeout: durationFromMs(10) }));
    expect(error.code).toBe(Code.NotFound);
  });
});

describe("delayed trigger", () => {
  it("keeps the run scheduled until due, then the timer queues it", async () => {
    const { run } = await start({ trigger: { when: { case: "delay", value: durationFromMs(300) } } as never });
    expect(run?.status).toBe(RunStatus.SCHEDULED);
    expect(run?.wakeTime).toBeDefined();
    const res = await runs.waitForRunStatus({ runId: run!.id, status: RunStatus.QUEUED, timeout: durationFromMs(10_000) });
    expect(res.outcome).toBe(WaitForRunStatusResponse_Outcome.REACHED);
    const { transitions } = await runs.listRunTransitions({ runId: run!.id });
    expect(transitions.at(-1)).toMatchObject({ fromStatus: RunStatus.SCHEDULED, toStatus: RunStatus.QUEUED, actor: "timer" });
    // Not fired early: the transition happened at or after the due time (database clock).
    const wake = Number(run!.wakeTime!.seconds) * 1000 + run!.wakeTime!.nanos / 1e6;
    const fired = transitions.at(-1)!.time!;
    expect(Number(fired.seconds) * 1000 + fired.nanos / 1e6).toBeGreaterThanOrEqual(wake - 1);
  });

  it("a start time in the past queues at once", async () => {
    const { run } = await start({ trigger: { when: { case: "startTime", value: timestampFromDate(new Date(Date.now() - 60_000)) } } as never });
    expect(run?.status).toBe(RunStatus.QUEUED);
  });
});

it("error details decode as typed messages for any client", async () => {
  const error = await rpcError(runs.getRun({ runId: "x" }));
  const raw = error.details[0] as { type: string; value: Uint8Array };
  expect(raw.type).toBe("aiki.v1.BadRequestDetail");
  expect(fromBinary(BadRequestDetailSchema, raw.value).fieldViolations[0]?.field).toBe("run_id");
  void create;
});
