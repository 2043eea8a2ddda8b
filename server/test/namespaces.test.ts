// Everything is namespaced end to end (AIKI_AUTH=on, real server, Postgres, Redis): a run, its
// events, tasks, children, leases and schedules in namespace A are NOT_FOUND through every RPC
// with a key of namespace B, exactly as missing ones are; B's workers never lease A's runs;
// schedules fire in their own namespace; hint channels and metrics carry the namespace.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, type ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { RunNotFoundDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { ScheduleService } from "@aiki/gen/aiki/v1/schedule_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { type Lease, WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { createApiKey } from "../src/engine/api-keys.js";
import { createNamespace } from "../src/engine/namespaces.js";
import { uuidV7 } from "../src/store/uuid-v7.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { rpcError } from "../../test/support/rpc-error.js";
import { childRunKey, taskAddress } from "../src/engine/canonical-json.js";

const h = useTestAiki({ auth: {} });
let aiki: TestAiki;

interface Tenant {
  runs: Client<typeof RunService>;
  events: Client<typeof EventService>;
  tasks: Client<typeof TaskService>;
  leases: Client<typeof WorkerLeaseService>;
  schedules: Client<typeof ScheduleService>;
}
let a: Tenant;
let b: Tenant;

async function tenant(namespace: string): Promise<Tenant> {
  await createNamespace(aiki.deps, namespace);
  const { secret } = await createApiKey(aiki.deps, { namespace, scopes: ["client", "worker", "read"], description: namespace });
  return {
    runs: aiki.client(RunService, secret),
    events: aiki.client(EventService, secret),
    tasks: aiki.client(TaskService, secret),
    leases: aiki.client(WorkerLeaseService, secret),
    schedules: aiki.client(ScheduleService, secret),
  };
}

beforeAll(async () => {
  aiki = h.aiki;
  a = await tenant("team-a");
  b = await tenant("team-b");
});

const workflow = { workflowName: "ns-order", workflowVersionId: "1" };
const worker = (id: string) => ({ workerId: id, workflows: [workflow] });

/** Leases a run of `workflow` for tenant `t` (the oldest queued one of its namespace). */
async function leaseOne(t: Tenant, workerId: string): Promise<Lease | undefined> {
  const { leases } = await t.leases.pollLeases({ ...worker(workerId), maxLeases: 1 });
  return leases[0];
}

/**
 * The error a call on another namespace's run fails with must be the one the same call on a run
 * that does not exist fails with: same code, same details, same message but for the id.
 */
async function expectSameAsMissing(call: (runId: string) => Promise<unknown>, theirs: string): Promise<ConnectError> {
  const missing = uuidV7();
  const [other, none] = [await rpcError(call(theirs)), await rpcError(call(missing))];
  expect(other.code, other.rawMessage).toBe(none.code);
  expect(other.rawMessage.replaceAll(theirs, "<id>")).toBe(none.rawMessage.replaceAll(missing, "<id>"));
  expect(other.details.length).toBe(none.details.length);
  return other;
}

describe("a run of namespace A, seen with a key of namespace B", () => {
  let runId: string;
  let lease: Lease;
  let childId: string;

  beforeAll(async () => {
    const started = await a.runs.startRun({ ...workflow, referenceId: "ref-1", input: { kind: { case: "stringValue", value: "secret input" } } });
    runId = started.run!.id;
    // B's worker finds nothing to lease: A's queued run is not B's work.
    expect(await leaseOne(b, "b-worker")).toBeUndefined();
    lease = (await leaseOne(a, "a-worker"))!;
    expect(lease.run?.id).toBe(runId);
    const child = await a.leases.startChildRun({
      ...workflow,
      parentRunId: runId,
      leaseToken: lease.leaseToken,
      key: "child-1",
      referenceId: "child-1",
      sequence: 0,
    });
    childId = child.run!.id;
    await a.events.sendEvent({ targets: [{ target: { case: "runId", value: runId } }], eventName: "ping" });
  });

  it("is NOT_FOUND through get, get by reference, history, children, events and tasks", async () => {
    const notFound = await expectSameAsMissing((id) => b.runs.getRun({ runId: id }), runId);
    expect(notFound.code).toBe(Code.NotFound);
    expect(notFound.findDetails(RunNotFoundDetailSchema)[0]?.runId).toBe(runId);
    expect((await expectSameAsMissing((id) => b.runs.getRun({ runId: id }), childId)).code).toBe(Code.NotFound);
    const byRef = await rpcError(b.runs.getRunByReferenceId({ reference: { ...workflow, referenceId: "ref-1" } }));
    expect(byRef.code).toBe(Code.NotFound);
    for (const call of [
      (id: string) => b.runs.listRunTransitions({ runId: id }),
      (id: string) => b.runs.listChildRuns({ parentRunId: id }),
      (id: string) => b.events.listEvents({ runId: id }),
      (id: string) => b.tasks.listTasks({ runId: id }),
    ]) {
      expect((await expectSameAsMissing(call, runId)).code).toBe(Code.NotFound);
    }
  });

  it("is absent from B's lists and worker lists", async () => {
    expect((await b.runs.listRuns({ workflowName: workflow.workflowName })).runs).toEqual([]);
    expect((await a.runs.listRuns({ workflowName: workflow.workflowName })).runs.map((r) => r.id).sort()).toEqual([runId, childId].sort());
    expect((await b.leases.listWorkers({})).workers.map((w) => w.workerId)).not.toContain("a-worker");
    expect((await a.leases.listWorkers({})).workers.map((w) => w.workerId)).toContain("a-worker");
  });

  it("is NOT_FOUND through cancel, pause, resume, awake, rerun, send event (by id and by reference) and wait", async () => {
    for (const call of [
      (id: string) => b.runs.cancelRun({ runId: id }),
      (id: string) => b.runs.pauseRun({ runId: id }),
      (id: string) => b.runs.resumeRun({ runId: id }),
      (id: string) => b.runs.awakeRun({ runId: id }),
      (id: string) => b.runs.rerunRun({ runId: id, from: { case: "start", value: {} } }),
      (id: string) => b.events.sendEvent({ targets: [{ target: { case: "runId", value: id } }], eventName: "ping" }),
      (id: string) => b.runs.waitForRunStatus({ runId: id, status: RunStatus.COMPLETED, timeout: durationFromMs(1_000) }),
    ]) {
      expect((await expectSameAsMissing(call, runId)).code).toBe(Code.NotFound);
    }
    const byRef = await rpcError(
      b.events.sendEvent({ targets: [{ target: { case: "reference", value: { ...workflow, referenceId: "ref-1" } } }], eventName: "x" }),
    );
    expect(byRef.code).toBe(Code.NotFound);
    // Nothing B tried changed A's run, and B's event was not stored.
    const after = await a.runs.getRun({ runId });
    expect(after.run?.status).toBe(RunStatus.RUNNING);
    expect((await a.events.listEvents({ runId })).events.map((e) => e.name)).toEqual(["ping"]);
  });

  it("cannot be written with its stolen lease token from B: refused exactly as for a missing run", async () => {
    const token = lease.leaseToken;
    for (const call of [
      (id: string) => b.leases.completeRun({ runId: id, leaseToken: token }),
      (id: string) => b.leases.releaseLease({ runId: id, leaseToken: token }),
      (id: string) => b.leases.startChildRun({ ...workflow, parentRunId: id, leaseToken: token, key: childRunKey(undefined, undefined), sequence: 1 }),
      (id: string) => b.tasks.startTask({ runId: id, leaseToken: token, name: "t", address: taskAddress("t", undefined) }),
    ]) {
      expect((await expectSameAsMissing(call, runId)).code).toBe(Code.FailedPrecondition);
    }
    const beat = await b.leases.heartbeat({ workerId: "b-worker", leases: [{ runId, leaseToken: token }] });
    expect(beat.leases[0]?.held).toBe(false);
    expect((await a.runs.getRun({ runId })).run?.status).toBe(RunStatus.RUNNING);
    // A's own worker still holds it.
    const own = await a.leases.heartbeat({ workerId: "a-worker", leases: [{ runId, leaseToken: token }] });
    expect(own.leases[0]?.held).toBe(true);
  });

  it("its child lives in the parent's namespace", async () => {
    const child = await a.runs.getRun({ runId: childId });
    expect(child.run?.parentRunId).toBe(runId);
    const { rows } = await aiki.deps.db
      .selectFrom("runs")
      .select(["id", "namespace"])
      .where("id", "in", [runId, childId])
      .execute()
      .then((r) => ({ rows: r }));
    expect(rows.map((r) => r.namespace)).toEqual(["team-a", "team-a"]);
  });
});

describe("schedules", () => {
  it("a schedule of A is NOT_FOUND for B and fires its runs in A", async () => {
    const wf = { workflowName: "ns-scheduled", workflowVersionId: "1" };
    const { schedule } = await a.schedules.activateSchedule({ ...wf, spec: { spec: { case: "interval", value: { every: durationFromMs(1_000) } } } });
    const id = schedule!.id;
    for (const call of [
      (sid: string) => b.schedules.getSchedule({ scheduleId: sid }),
      (sid: string) => b.schedules.pauseSchedule({ scheduleId: sid }),
      (sid: string) => b.schedules.resumeSchedule({ scheduleId: sid }),
      (sid: string) => b.schedules.deleteSchedule({ scheduleId: sid }),
    ]) {
      expect((await expectSameAsMissing(call, id)).code).toBe(Code.NotFound);
    }
    expect((await b.schedules.listSchedules({})).schedules).toEqual([]);

    // The first occurrence is due within a second: wait for its run in A.
    const fired = await a.runs.waitForRunStatus({
      runId: await (async () => {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const { runs } = await a.runs.listRuns({ workflowName: wf.workflowName });
          if (runs[0]) return runs[0].id;
          if (Date.now() > deadline) throw new Error("the schedule did not fire within 10 s");
          await new Promise((r) => setTimeout(r, 50));
        }
      })(),
      status: RunStatus.QUEUED,
    });
    expect(fired.run?.referenceId).toMatch(new RegExp(`^schedule:${id}:`));
    expect((await b.runs.listRuns({ workflowName: wf.workflowName })).runs).toEqual([]);
    await a.schedules.deleteSchedule({ scheduleId: id });
  });
});

describe("hints and metrics", () => {
  it("a worker of B listens on B's ready channel and is woken by B's starts, not A's", async () => {
    const wf = { workflowName: "ns-hinted", workflowVersionId: "1" };
    const poll = b.leases.pollLeases({ workerId: "b-poller", workflows: [wf], maxLeases: 1, wait: durationFromMs(10_000) });
    await aiki.listening("aiki:ready:team-b:ns-hinted:1:");
    await a.runs.startRun(wf);
    const started = await b.runs.startRun(wf);
    const { leases } = await poll;
    expect(leases.map((l) => l.run?.id)).toEqual([started.run!.id]);
  });

  it("a held wait and a run watch listen on the run's channels within its namespace", async () => {
    const { run } = await b.runs.startRun({ workflowName: "ns-watched", workflowVersionId: "1" });
    const held = b.runs.waitForRunStatus({ runId: run!.id, status: RunStatus.CANCELLED, timeout: durationFromMs(10_000) });
    await aiki.listening(`aiki:run:team-b:${run!.id}`);
    const watch = new AbortController();
    const stream = b.runs.watchRun({ runId: run!.id }, { signal: watch.signal })[Symbol.asyncIterator]();
    await stream.next();
    await aiki.listening(`aiki:run-history:team-b:${run!.id}`);
    await b.runs.cancelRun({ runId: run!.id });
    expect((await held).run?.status).toBe(RunStatus.CANCELLED);
    watch.abort();
    await stream.next().catch(() => undefined);
  });

  it("aiki_runs counts by namespace", async () => {
    const text = await (await fetch(`${aiki.url}/metrics`)).text();
    expect(text).toMatch(/aiki_runs\{namespace="team-a",workflow="ns-order",status="running"\} 1/);
    expect(text).toMatch(/aiki_runs\{namespace="team-b",workflow="ns-hinted",status="running"\} 1/);
  });
});
