// RunService.RerunRun on the raw contract (real server, Postgres, Redis; the worker's calls made
// by hand): what a rerun copies from a source's history and what it leaves (docs/semantics.md,
// Rerun), where the copy stops, the lineage, idempotency by request id and reference id, and
// the refusals.
import { fromJson, toJson } from "@bufbuild/protobuf";
import { durationFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, type Client } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { BadRequestDetailSchema, InvalidTransitionDetailSchema, RunConflictDetail_Kind, RunConflictDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { SleepStatus, TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { RunFailureCause, RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { type RerunRunRequest, RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { RerunRunRequestSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import { taskAddress } from "../src/engine/canonical-json.js";
import { rpcError } from "../../test/support/rpc-error.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki();
let runs: Client<typeof RunService>;
let tasks: Client<typeof TaskService>;
let leases: Client<typeof WorkerLeaseService>;
let events: Client<typeof EventService>;

beforeAll(() => {
  runs = h.rpc(RunService);
  tasks = h.rpc(TaskService);
  leases = h.rpc(WorkerLeaseService);
  events = h.rpc(EventService);
});

const json = (v: unknown) => fromJson(ValueSchema, v as never);

/** A run of a fresh workflow, driven by hand as a worker would. */
async function sourceRun() {
  const workflow = { workflowName: h.uniqueName("rerun-raw"), workflowVersionId: "1" };
  const { run } = await runs.startRun({ ...workflow, input: json({ n: 1 }) });
  const runId = run!.id;
  let token = "";
  const lease = async () => {
    const { leases: got } = await leases.pollLeases({ workerId: "w", workflows: [workflow], maxLeases: 1, wait: durationFromMs(5_000) });
    expect(got[0]?.run?.id).toBe(runId);
    token = got[0]!.leaseToken;
  };
  await lease();
  const start = async (name: string) => {
    const address = taskAddress(name, name);
    const { task } = await tasks.startTask({ runId, leaseToken: token, name, address, sequence: 0, input: json(name), maxAttempts: 1 });
    return { id: task!.id, address };
  };
  return {
    workflow,
    runId,
    lease,
    start,
    async complete(name: string) {
      const t = await start(name);
      await tasks.completeTask({ runId, leaseToken: token, taskId: t.id, attempt: 1, output: json(`${name} done`) });
      return t;
    },
    async fail(name: string) {
      const t = await start(name);
      await tasks.failTask({ runId, leaseToken: token, taskId: t.id, attempt: 1, failure: { message: `${name} broke` } });
      return t;
    },
    async receive(eventName: string, data: unknown) {
      await events.sendEvent({ targets: [{ target: { case: "runId", value: runId } }], eventName, data: json(data) });
      const res = await leases.suspendRun({ runId, leaseToken: token, wait: { case: "eventWait", value: { eventName, sequence: 0 } } });
      expect(res.suspended).toBe(false);
    },
    async sleepAndAwake(name: string) {
      await leases.suspendRun({ runId, leaseToken: token, wait: { case: "sleep", value: { name, sequence: 0, duration: durationFromMs(3_600_000) } } });
      await runs.awakeRun({ runId });
      await lease();
    },
    async failRun() {
      await leases.failRun({ runId, leaseToken: token, failure: { message: "gave up" }, cause: RunFailureCause.TASK });
    },
  };
}

type From = MessageInitShape<typeof RerunRunRequestSchema>["from"];
const lastFailure: From = { case: "lastFailure", value: {} };
const fromStep = (address: string, sequence = 0): From => ({ case: "step", value: { address, sequence } });
const history = async (runId: string) => (await runs.getRunHistory({ runId })).history!;

describe("what a rerun copies", () => {
  // a ✓, event "go" received, b ✗ (caught), c ✓, sleep "nap" ended by awake, d ✗: the run failed.
  let source: Awaited<ReturnType<typeof sourceRun>>;
  let steps: Record<"a" | "b" | "c" | "d", { id: string; address: string }>;
  let sourceHistoryBefore: unknown;

  beforeAll(async () => {
    source = await sourceRun();
    const a = await source.complete("a");
    await source.receive("go", { amount: 5 });
    const b = await source.fail("b");
    const c = await source.complete("c");
    await source.sleepAndAwake("nap");
    const d = await source.fail("d");
    await source.failRun();
    steps = { a, b, c, d };
    sourceHistoryBefore = await runs.getRunHistory({ runId: source.runId });
  });

  it("from the last failure: every finished record before d, as new rows of the new run; d and what follows are left to execute", async () => {
    const res = await runs.rerunRun({ runId: source.runId, from: lastFailure });
    const run = res.run!;
    expect(res.existing).toBe(false);
    expect(res.copiedRecords).toBe(5);
    expect([run.status, run.rerunOf, run.workflowName, run.workflowVersionId, run.attempt]).toEqual([
      RunStatus.QUEUED,
      source.runId,
      source.workflow.workflowName,
      "1",
      1,
    ]);
    expect(toJson(ValueSchema, run.input!)).toEqual({ n: 1 });
    expect(run.fromStep?.point).toEqual({ case: "task", value: expect.objectContaining({ address: steps.d.address, sequence: 0 }) });
    expect(run.fromStep?.lastFailure).toBe(true);

    const copied = await history(run.id);
    expect(copied.tasks.map((t) => [t.name, t.status, t.runId])).toEqual([
      ["a", TaskStatus.COMPLETED, run.id],
      ["b", TaskStatus.FAILED, run.id],
      ["c", TaskStatus.COMPLETED, run.id],
    ]);
    expect(copied.tasks.map((t) => t.id)).not.toContain(steps.a.id);
    expect(toJson(ValueSchema, copied.tasks[0]!.output!)).toBe("a done");
    expect(copied.tasks[1]!.failure?.message).toBe("b broke");
    expect(copied.eventWaits.map((w) => [w.eventName, toJson(ValueSchema, w.event!.data!), w.event!.runId, w.event!.consumed])).toEqual([
      ["go", { amount: 5 }, run.id, true],
    ]);
    expect(copied.sleeps.map((s) => [s.name, s.status])).toEqual([["nap", SleepStatus.CANCELLED]]);
    // The new run's creation is its only transition: a start, as the state table allows.
    const { transitions } = await runs.listRunTransitions({ runId: run.id });
    expect(transitions.map((t) => [t.fromStatus, t.toStatus, t.actor, t.reason])).toEqual([
      [RunStatus.UNSPECIFIED, RunStatus.QUEUED, "client", `rerun of ${source.runId}`],
    ]);
    // The source is not changed, and lists its rerun.
    expect(await runs.getRunHistory({ runId: source.runId })).toEqual(sourceHistoryBefore);
    expect((await runs.listRuns({ rerunOf: source.runId })).runs.map((r) => r.id)).toContain(run.id);
    expect((await runs.countRuns({ filter: { rerunOf: source.runId } })).total).toBeGreaterThanOrEqual(1n);
  });

  it("from a task: only what precedes it (a, the event, the caught failure b); from the first task, or from the start, nothing", async () => {
    const fromC = await runs.rerunRun({ runId: source.runId, from: fromStep(steps.c.address) });
    expect(fromC.copiedRecords).toBe(3);
    expect((await history(fromC.run!.id)).tasks.map((t) => t.name)).toEqual(["a", "b"]);
    expect(fromC.run!.fromStep?.lastFailure).toBe(false);
    const fromA = await runs.rerunRun({ runId: source.runId, from: fromStep(steps.a.address) });
    expect(fromA.copiedRecords).toBe(0);
    const fromStart = await runs.rerunRun({ runId: source.runId, from: { case: "start", value: {} }, input: json({ n: 2 }), workflowVersionId: "2" });
    expect(fromStart.copiedRecords).toBe(0);
    expect(fromStart.run!.fromStep?.point.case).toBe("start");
    expect([fromStart.run!.workflowVersionId, toJson(ValueSchema, fromStart.run!.input!)]).toEqual(["2", { n: 2 }]);
  });

  it("a rerun of a rerun copies from its own history, which keeps the original order", async () => {
    const first = (await runs.rerunRun({ runId: source.runId, from: lastFailure })).run!;
    await runs.cancelRun({ runId: first.id });
    const second = await runs.rerunRun({ runId: first.id, from: lastFailure });
    // The first rerun was cancelled before it ran: its last failure is the copied b, so a and
    // the event come along.
    expect(second.copiedRecords).toBe(2);
    expect((await history(second.run!.id)).tasks.map((t) => t.name)).toEqual(["a"]);
    expect(second.run!.rerunOf).toBe(first.id);
  });
});

describe("where a copy stops", () => {
  it("at the first record that is not finished: a running task ends it, even before the step; no failed task means the end of the history", async () => {
    const source = await sourceRun();
    await source.complete("a");
    await source.start("b"); // still running when the run is cancelled
    await source.complete("c");
    await runs.cancelRun({ runId: source.runId });
    const res = await runs.rerunRun({ runId: source.runId, from: lastFailure });
    expect(res.run!.fromStep?.point.case).toBe("historyEnd");
    expect(res.run!.fromStep?.lastFailure).toBe(true);
    expect(res.copiedRecords).toBe(1);
    expect((await history(res.run!.id)).tasks.map((t) => t.name)).toEqual(["a"]);
  });
});

describe("idempotency and refusals", () => {
  it("the same request id returns the first rerun and copies nothing more; another request with it is ALREADY_EXISTS", async () => {
    const source = await sourceRun();
    await source.complete("a");
    await source.fail("b");
    await source.failRun();
    const ask = (more: Partial<RerunRunRequest> = {}) => runs.rerunRun({ runId: source.runId, from: lastFailure, requestId: "rerun-req-1", ...more } as never);
    const first = await ask();
    const again = await ask();
    expect([again.existing, again.run!.id, again.copiedRecords]).toEqual([true, first.run!.id, 0]);
    const other = await rpcError(ask({ from: { case: "start", value: {} } } as never));
    expect(other.code).toBe(Code.AlreadyExists);
    expect(other.findDetails(RunConflictDetailSchema)[0]).toMatchObject({ kind: RunConflictDetail_Kind.REQUEST_ID, existingRunId: first.run!.id });
    expect((await runs.listRuns({ rerunOf: source.runId })).runs).toHaveLength(1);
  });

  it("a reference id held by a rerun of the same source returns it; held by another run, ALREADY_EXISTS", async () => {
    const source = await sourceRun();
    await source.failRun();
    const first = await runs.rerunRun({ runId: source.runId, from: lastFailure, referenceId: "retry-1" });
    const again = await runs.rerunRun({ runId: source.runId, from: lastFailure, referenceId: "retry-1" });
    expect([again.existing, again.run!.id]).toEqual([true, first.run!.id]);
    await runs.startRun({ ...source.workflow, referenceId: "taken" });
    const taken = await rpcError(runs.rerunRun({ runId: source.runId, from: lastFailure, referenceId: "taken" }));
    expect(taken.code).toBe(Code.AlreadyExists);
    expect(taken.findDetails(RunConflictDetailSchema)[0]?.kind).toBe(RunConflictDetail_Kind.REFERENCE_ID);
  });

  it("an unfinished source is FAILED_PRECONDITION naming its status; a missing `from`, a bad id or an unknown step is INVALID_ARGUMENT naming the field; an unknown run NOT_FOUND", async () => {
    const source = await sourceRun();
    const a = await source.complete("a");
    const running = await rpcError(runs.rerunRun({ runId: source.runId, from: lastFailure }));
    expect(running.code).toBe(Code.FailedPrecondition);
    expect(running.findDetails(InvalidTransitionDetailSchema)[0]).toMatchObject({ runId: source.runId, currentStatus: RunStatus.RUNNING, action: "rerun" });
    await source.failRun();
    const fields = async (req: Parameters<typeof runs.rerunRun>[0]) => {
      const e = await rpcError(runs.rerunRun(req));
      expect(e.code).toBe(Code.InvalidArgument);
      return e.findDetails(BadRequestDetailSchema)[0]!.fieldViolations.map((v) => v.field);
    };
    expect(await fields({ runId: source.runId })).toEqual(["from"]);
    expect(await fields({ runId: "nope", from: lastFailure })).toEqual(["run_id"]);
    expect(await fields({ runId: source.runId, from: fromStep(a.address, 1) })).toEqual(["step"]);
    expect(await fields({ runId: source.runId, from: fromStep("", 0) })).toEqual(["step.address"]);
    const missing = await rpcError(runs.rerunRun({ runId: "01a1fe68-0000-7000-8000-000000000000", from: lastFailure }));
    expect(missing.code).toBe(Code.NotFound);
    // Nothing was created by the refusals.
    expect((await runs.listRuns({ rerunOf: source.runId })).runs).toEqual([]);
  });
});
