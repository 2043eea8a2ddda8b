// The server side of docs/semantics.md (Tasks and retries to Leases and fencing) through the raw
// contracts (what a worker in any language sees): leases, fencing, task attempts, suspension on
// sleeps, events and children, timers, retries.
import { create, fromJson, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import { type Client, Code } from "@connectrpc/connect";
import { createHash } from "node:crypto";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { AddressMismatchDetailSchema, BadRequestDetailSchema, LeaseLostDetailSchema, StaleTaskAttemptDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { ChildWaitStatus, EventWaitStatus, SleepStatus, TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { FailureSchema } from "@aiki/gen/aiki/v1/payload_pb";
import { RunFailureCause, RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService, type StartRunRequestSchema, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { type Lease, WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { rpcError } from "../../test/support/rpc-error.js";
import { childRunKey, taskAddress } from "../src/engine/canonical-json.js";

const h = useTestAiki();
let aiki: TestAiki;
let runs: Client<typeof RunService>;
let leases: Client<typeof WorkerLeaseService>;
let tasks: Client<typeof TaskService>;
let events: Client<typeof EventService>;

beforeAll(() => {
  aiki = h.aiki;
  runs = aiki.client(RunService);
  leases = aiki.client(WorkerLeaseService);
  tasks = aiki.client(TaskService);
  events = aiki.client(EventService);
});

const json = (v: unknown) => fromJson(ValueSchema, v as never);
const failure = (message: string, nonRetryable = false) => create(FailureSchema, { message, type: "Error", nonRetryable });

/** A fresh workflow name per test, so tests never lease each other's runs. */
function workflow(extra: Partial<MessageInitShape<typeof StartRunRequestSchema>> = {}) {
  const name = h.uniqueName("wf");
  return {
    name,
    start: (more: Partial<MessageInitShape<typeof StartRunRequestSchema>> = {}) =>
      runs.startRun({ workflowName: name, workflowVersionId: "1", ...extra, ...more } as MessageInitShape<typeof StartRunRequestSchema>).then((r) => r.run!),
    poll: (opts: { workerId?: string; shards?: string[]; waitMs?: number; ttlMs?: number; max?: number } = {}) =>
      leases
        .pollLeases({
          workerId: opts.workerId ?? "w1",
          workerName: "test-worker",
          workflows: [{ workflowName: name, workflowVersionId: "1" }],
          shards: opts.shards ?? [],
          maxLeases: opts.max ?? 1,
          wait: durationFromMs(opts.waitMs ?? 5_000),
          leaseTtl: opts.ttlMs === undefined ? undefined : durationFromMs(opts.ttlMs),
        })
        .then((r) => r.leases),
  };
}

async function leaseOne(wf: ReturnType<typeof workflow>, opts: Parameters<ReturnType<typeof workflow>["poll"]>[0] = {}): Promise<Lease> {
  const [lease] = await wf.poll(opts);
  if (!lease) throw new Error("no lease");
  return lease;
}

const fence = (lease: Lease) => ({ runId: lease.run!.id, leaseToken: lease.leaseToken });

async function waitStatus(runId: string, status: RunStatus, timeoutMs = 10_000) {
  const res = await runs.waitForRunStatus({ runId, status, timeout: durationFromMs(timeoutMs) });
  expect(res.outcome, `run ${runId} to reach ${RunStatus[status]} (is ${RunStatus[res.run!.status]})`).toBe(WaitForRunStatusResponse_Outcome.REACHED);
  return res.run!;
}

describe("leasing", () => {
  it("leases a queued run with a token and an empty history; running, with the worker named", async () => {
    const wf = workflow();
    const run = await wf.start();
    const lease = await leaseOne(wf);
    expect(lease.run?.id).toBe(run.id);
    expect(lease.run?.status).toBe(RunStatus.RUNNING);
    expect(lease.leaseToken).toMatch(/^[0-9a-f-]{36}$/);
    expect(lease.history?.tasks).toEqual([]);
    expect((await runs.getRun({ runId: run.id })).run?.leaseWorkerId).toBe("w1");
    const listed = await leases.listWorkers({});
    const listedWorker = listed.workers.find((w) => w.workerId === "w1");
    expect(listedWorker?.leasedRunIds).toContain(run.id);
    // A lease token leaves the server only to the worker holding it.
    expect(JSON.stringify(listed, (_, v) => (typeof v === "bigint" ? String(v) : v))).not.toContain(lease.leaseToken);
  });

  it("a waiting poll returns as soon as a run is started (a hint, not the slow re-read)", async () => {
    const wf = workflow();
    const polling = wf.poll({ waitMs: 20_000 });
    await new Promise((r) => setTimeout(r, 100));
    const startedAt = performance.now();
    await wf.start();
    const [lease] = await polling;
    expect(lease).toBeDefined();
    expect(performance.now() - startedAt).toBeLessThan(1_000);
  });

  it("returns nothing when the wait passes", async () => {
    expect(await workflow().poll({ waitMs: 50 })).toEqual([]);
  });

  it("serves only the registered versions and the worker's shards; an unsharded worker only unsharded runs", async () => {
    const wf = workflow();
    const eu = await wf.start({ shard: "eu" });
    const plain = await wf.start();
    const other = await runs.startRun({ workflowName: wf.name, workflowVersionId: "2" });
    const unsharded = await wf.poll({ max: 10, waitMs: 0 });
    expect(unsharded.map((l) => l.run?.id)).toEqual([plain.id]);
    const euLeases = await wf.poll({ shards: ["eu"], max: 10, waitMs: 0 });
    expect(euLeases.map((l) => l.run?.id)).toEqual([eu.id]);
    expect((await runs.getRun({ runId: other.run!.id })).run?.status).toBe(RunStatus.QUEUED);
  });

  it("concurrent pollers never lease the same run twice", async () => {
    const wf = workflow();
    for (let i = 0; i < 20; i++) await wf.start();
    const results = await Promise.all(Array.from({ length: 5 }, (_, i) => wf.poll({ workerId: `p${i}`, max: 10, waitMs: 0 })));
    const ids = results.flat().map((l) => l.run!.id);
    expect(ids).toHaveLength(20);
    expect(new Set(ids).size).toBe(20);
  });
});

describe("tasks", () => {
  it("records attempts; a completed task replays from its record", async () => {
    const wf = workflow();
    await wf.start();
    const lease = await leaseOne(wf);
    const { task } = await tasks.startTask({
      ...fence(lease),
      name: "t",
      address: taskAddress("t", { a: 1 }),
      sequence: 0,
      input: json({ a: 1 }),
      maxAttempts: 3,
    });
    expect(task).toMatchObject({ status: TaskStatus.RUNNING, attempts: 1 });
    const done = await tasks.completeTask({ ...fence(lease), taskId: task!.id, attempt: 1, output: json({ ok: true }) });
    expect(done.task?.status).toBe(TaskStatus.COMPLETED);
    const replay = await tasks.startTask({
      ...fence(lease),
      name: "t",
      address: taskAddress("t", { a: 1 }),
      sequence: 0,
      input: json({ a: 1 }),
      maxAttempts: 3,
    });
    expect(replay.task).toMatchObject({ id: task!.id, status: TaskStatus.COMPLETED, attempts: 1 });
    const stale = await rpcError(tasks.completeTask({ ...fence(lease), taskId: task!.id, attempt: 1, output: json(1) }));
    expect(stale.code).toBe(Code.FailedPrecondition);
    // A typed detail the worker acts on: the attempt is not the task's running one (it finished).
    expect(stale.findDetails(StaleTaskAttemptDetailSchema)).toEqual([
      expect.objectContaining({ taskId: task!.id, attempt: 1, found: true, currentStatus: TaskStatus.COMPLETED, currentAttempts: 1 }),
    ]);
    const unknownTask = "01890000-0000-7000-8000-000000000000";
    const unknown = await rpcError(tasks.failTask({ ...fence(lease), taskId: unknownTask, attempt: 1, failure: { message: "x" } }));
    expect(unknown.code).toBe(Code.FailedPrecondition);
    expect(unknown.findDetails(StaleTaskAttemptDetailSchema)).toEqual([
      expect.objectContaining({ taskId: unknownTask, attempt: 1, found: false, currentStatus: TaskStatus.UNSPECIFIED }),
    ]);
  });

  it("a StartTask repeated with the same attempt id (its answer was lost) does not count another attempt", async () => {
    const wf = workflow();
    await wf.start();
    const lease = await leaseOne(wf);
    const call = (attemptId: string) =>
      tasks.startTask({ ...fence(lease), name: "t", address: taskAddress("t", undefined), sequence: 0, maxAttempts: 1, attemptId });
    const first = await call("attempt-a");
    const again = await call("attempt-a");
    expect(again.task).toMatchObject({ id: first.task!.id, attempts: 1, status: TaskStatus.RUNNING });
    // A different attempt id is a new attempt: with a budget of one, the lost first attempt fails the task.
    const other = await call("attempt-b");
    expect(other.task?.status).toBe(TaskStatus.FAILED);
  });

  it("a retry delay leaves the task awaiting retry; a long one suspends the run until due", async () => {
    const wf = workflow();
    const run = await wf.start();
    const lease = await leaseOne(wf);
    const { task } = await tasks.startTask({ ...fence(lease), name: "t", address: taskAddress("t", undefined), sequence: 0, maxAttempts: 3 });
    const failed = await tasks.failTask({ ...fence(lease), taskId: task!.id, attempt: 1, failure: failure("boom"), retryDelay: durationFromMs(300) });
    expect(failed.task?.status).toBe(TaskStatus.AWAITING_RETRY);
    const suspended = await leases.suspendRun({ ...fence(lease), wait: { case: "taskRetry", value: { taskId: task!.id } } });
    expect(suspended.suspended).toBe(true);
    expect(suspended.run?.status).toBe(RunStatus.AWAITING_RETRY);
    await waitStatus(run.id, RunStatus.QUEUED);
    const again = await leaseOne(wf);
    const second = await tasks.startTask({ ...fence(again), name: "t", address: taskAddress("t", undefined), sequence: 0, maxAttempts: 3 });
    expect(second.task).toMatchObject({ id: task!.id, attempts: 2, status: TaskStatus.RUNNING });
  });
});

describe("fencing", () => {
  it("pause mid-run: the worker's next write is refused with LeaseLostDetail; resume replays under a new lease", async () => {
    const wf = workflow();
    const run = await wf.start();
    const lease = await leaseOne(wf);
    await runs.pauseRun({ runId: run.id });
    const refused = await rpcError(tasks.startTask({ ...fence(lease), name: "t", address: taskAddress("t", undefined), sequence: 0, maxAttempts: 1 }));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.findDetails(LeaseLostDetailSchema)[0]).toMatchObject({ runId: run.id, currentStatus: RunStatus.PAUSED });
    const complete = await rpcError(leases.completeRun({ ...fence(lease), output: json(1) }));
    expect(complete.findDetails(LeaseLostDetailSchema)).toHaveLength(1);
    await runs.resumeRun({ runId: run.id });
    const next = await leaseOne(wf);
    expect(next.leaseToken).not.toBe(lease.leaseToken);
    // The old token stays void after the new lease.
    expect((await rpcError(leases.completeRun({ ...fence(lease), output: json(1) }))).code).toBe(Code.FailedPrecondition);
    await leases.completeRun({ ...fence(next), output: json("done") });
    expect((await runs.getRun({ runId: run.id })).run?.status).toBe(RunStatus.COMPLETED);
  });

  it("an attempt cut short by pause or release does not count against the budget; one lost to expiry does", async () => {
    for (const stop of ["pause", "release"] as const) {
      const wf = workflow();
      const run = await wf.start();
      const lease = await leaseOne(wf);
      await tasks.startTask({ ...fence(lease), name: "t", address: taskAddress("t", undefined), sequence: 0, maxAttempts: 1 });
      if (stop === "pause") {
        await runs.pauseRun({ runId: run.id });
        await runs.resumeRun({ runId: run.id });
      } else await leases.releaseLease({ ...fence(lease) });
      const next = await leaseOne(wf);
      const { task } = await tasks.startTask({ ...fence(next), name: "t", address: taskAddress("t", undefined), sequence: 0, maxAttempts: 1 });
      expect(task, stop).toMatchObject({ status: TaskStatus.RUNNING, attempts: 1 });
    }
  });

  it("an expired lease (no heartbeat) requeues the run; the next worker's attempt counts the lost one; the old token is refused", async () => {
    const wf = workflow();
    const run = await wf.start();
    const dead = await leaseOne(wf, { ttlMs: 300, workerId: "dying" });
    const { task } = await tasks.startTask({ ...fence(dead), name: "t", address: taskAddress("t", undefined), sequence: 0, maxAttempts: 3 });
    await waitStatus(run.id, RunStatus.QUEUED);
    const { transitions } = await runs.listRunTransitions({ runId: run.id });
    expect(transitions.at(-1)).toMatchObject({ fromStatus: RunStatus.RUNNING, toStatus: RunStatus.QUEUED, reason: "lease expired" });
    const alive = await leaseOne(wf, { workerId: "alive" });
    expect(alive.history?.tasks[0]).toMatchObject({ id: task!.id, status: TaskStatus.RUNNING, attempts: 1 });
    const retried = await tasks.startTask({ ...fence(alive), name: "t", address: taskAddress("t", undefined), sequence: 0, maxAttempts: 3 });
    expect(retried.task?.attempts).toBe(2);
    const late = await rpcError(tasks.completeTask({ ...fence(dead), taskId: task!.id, attempt: 1, output: json("late") }));
    expect(late.findDetails(LeaseLostDetailSchema)[0]?.currentStatus).toBe(RunStatus.RUNNING);
  });

  it("a lost last attempt fails the task instead of running it again", async () => {
    const wf = workflow();
    const run = await wf.start();
    const dead = await leaseOne(wf, { ttlMs: 200 });
    await tasks.startTask({ ...fence(dead), name: "t", address: taskAddress("t", undefined), sequence: 0, maxAttempts: 1 });
    await waitStatus(run.id, RunStatus.QUEUED);
    const next = await leaseOne(wf);
    const { task } = await tasks.startTask({ ...fence(next), name: "t", address: taskAddress("t", undefined), sequence: 0, maxAttempts: 1 });
    expect(task?.status).toBe(TaskStatus.FAILED);
    expect(task?.failure?.message).toMatch(/lost/);
  });

  it("heartbeats extend the lease and report lost ones", async () => {
    const wf = workflow();
    const run = await wf.start();
    const lease = await leaseOne(wf, { ttlMs: 400 });
    for (let i = 0; i < 4; i++) {
      const hb = await leases.heartbeat({ workerId: "w1", leases: [fence(lease)], leaseTtl: durationFromMs(400) });
      expect(hb.leases[0]?.held).toBe(true);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect((await runs.getRun({ runId: run.id })).run?.status).toBe(RunStatus.RUNNING);
    await runs.cancelRun({ runId: run.id });
    const hb = await leases.heartbeat({ workerId: "w1", leases: [fence(lease)] });
    expect(hb.leases[0]?.held).toBe(false);
  });

  it("a heartbeat waiting on one run's busy row does not hold the rows of the others meanwhile", async () => {
    const wf = workflow();
    const [a, b] = [await wf.start(), await wf.start()];
    const held = await wf.poll({ max: 2 });
    expect(held.map((l) => l.run!.id).sort()).toEqual([a.id, b.id].sort());
    const locker = new pg.Client({ connectionString: aiki.database.url });
    const writer = new pg.Client({ connectionString: aiki.database.url });
    await Promise.all([locker.connect(), writer.connect()]);
    try {
      // B's row is busy, as under a task write of B in flight.
      await locker.query("begin");
      await locker.query("select id from runs where id = $1 for share", [b.id]);
      const beat = leases.heartbeat({ workerId: "w1", leases: held.map(fence), leaseTtl: durationFromMs(60_000) });
      const deadline = Date.now() + 5_000;
      while ((await writer.query("select count(*)::int as n from pg_locks where not granted")).rows[0].n === 0) {
        if (Date.now() > deadline) throw new Error("the heartbeat never waited on B's row");
        await new Promise((r) => setTimeout(r, 10));
      }
      // Meanwhile A is not stalled behind the heartbeat: its row takes a write at once.
      await writer.query("set lock_timeout = '1s'");
      await writer.query("update runs set update_time = update_time where id = $1", [a.id]);
      await locker.query("commit");
      expect((await beat).leases.map((l) => [l.runId, l.held])).toEqual(held.map((l) => [l.run!.id, true]));
      const { rows } = await writer.query(
        "select count(*)::int as n from runs where id = any($1::uuid[]) and lease_expires_time > now() + interval '50 seconds'",
        [[a.id, b.id]],
      );
      expect(rows[0].n).toBe(2);
    } finally {
      await locker.query("rollback").catch(() => {});
      await Promise.all([locker.end(), writer.end()]);
    }
  });
});

describe("events", () => {
  it("an event sent before the wait is consumed at once, without suspending", async () => {
    const wf = workflow();
    const run = await wf.start();
    await events.sendEvent({ targets: [{ target: { case: "runId", value: run.id } }], eventName: "accepted", data: json({ estimatedTime: 30 }) });
    const lease = await leaseOne(wf);
    const res = await leases.suspendRun({ ...fence(lease), wait: { case: "eventWait", value: { eventName: "accepted", sequence: 0 } } });
    expect(res.suspended).toBe(false);
    expect(res.history?.eventWaits[0]?.status).toBe(EventWaitStatus.RECEIVED);
    expect(res.history?.eventWaits[0]?.event?.data).toEqual(json({ estimatedTime: 30 }));
  });

  it("an event sent while suspended wakes the run with the event in its history; FIFO per name", async () => {
    const wf = workflow();
    const run = await wf.start();
    const lease = await leaseOne(wf);
    const res = await leases.suspendRun({ ...fence(lease), wait: { case: "eventWait", value: { eventName: "e", sequence: 0 } } });
    expect(res.suspended).toBe(true);
    const target = [{ target: { case: "runId" as const, value: run.id } }];
    await events.sendEvent({ targets: target, eventName: "e", data: json(1) });
    await events.sendEvent({ targets: target, eventName: "e", data: json(2) });
    await waitStatus(run.id, RunStatus.QUEUED);
    const next = await leaseOne(wf);
    expect(next.history?.eventWaits[0]?.event?.data).toEqual(json(1));
    const second = await leases.suspendRun({ ...fence(next), wait: { case: "eventWait", value: { eventName: "e", sequence: 1 } } });
    expect(second.suspended).toBe(false);
    expect(second.history?.eventWaits[1]?.event?.data).toEqual(json(2));
  });

  it("an event racing the suspension is never lost (many rounds)", async () => {
    for (let round = 0; round < 25; round++) {
      const wf = workflow();
      const run = await wf.start();
      const lease = await leaseOne(wf);
      const [suspend] = await Promise.all([
        leases.suspendRun({ ...fence(lease), wait: { case: "eventWait", value: { eventName: "go", sequence: 0 } } }),
        events.sendEvent({ targets: [{ target: { case: "runId", value: run.id } }], eventName: "go", data: json(round) }),
      ]);
      if (suspend.suspended) {
        // Suspended first: the send must have woken it.
        await waitStatus(run.id, RunStatus.QUEUED, 5_000);
        const next = await leaseOne(wf);
        expect(next.history?.eventWaits[0]?.status).toBe(EventWaitStatus.RECEIVED);
      } else {
        expect(suspend.history?.eventWaits[0]?.event?.data).toEqual(json(round));
      }
    }
  });

  it("a wait times out on time; an unknown or terminal target is refused and nothing is stored", async () => {
    const wf = workflow();
    const run = await wf.start();
    const lease = await leaseOne(wf);
    await leases.suspendRun({ ...fence(lease), wait: { case: "eventWait", value: { eventName: "e", sequence: 0, timeout: durationFromMs(300) } } });
    await waitStatus(run.id, RunStatus.QUEUED);
    const next = await leaseOne(wf);
    expect(next.history?.eventWaits[0]?.status).toBe(EventWaitStatus.TIMED_OUT);
    await leases.completeRun({ ...fence(next), output: json(null) });
    const refused = await rpcError(events.sendEvent({ targets: [{ target: { case: "runId", value: run.id } }], eventName: "e", data: json(1) }));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toContain("completed");
    const other = await wf.start();
    const partial = await rpcError(
      events.sendEvent({
        targets: [{ target: { case: "runId", value: other.id } }, { target: { case: "runId", value: run.id } }],
        eventName: "e",
      }),
    );
    expect(partial.code).toBe(Code.FailedPrecondition);
    expect((await events.listEvents({ runId: other.id })).events).toEqual([]);
  });

  it("a reference id stores an event once per run and event name", async () => {
    const wf = workflow();
    const run = await wf.start({ referenceId: "order-1" });
    const send = () =>
      events.sendEvent({
        targets: [{ target: { case: "reference", value: { workflowName: wf.name, workflowVersionId: "1", referenceId: "order-1" } } }],
        eventName: "paid",
        referenceId: "payment-9",
      });
    expect((await send()).deliveries[0]?.duplicate).toBe(false);
    expect((await send()).deliveries[0]?.duplicate).toBe(true);
    expect((await events.listEvents({ runId: run.id })).events).toHaveLength(1);
  });
});

describe("sleep", () => {
  it("suspends, holds no worker, wakes on time; a replay returns the completed sleep at once", async () => {
    const wf = workflow();
    const run = await wf.start();
    const lease = await leaseOne(wf);
    const res = await leases.suspendRun({ ...fence(lease), wait: { case: "sleep", value: { name: "nap", sequence: 0, duration: durationFromMs(300) } } });
    expect(res.run?.status).toBe(RunStatus.SLEEPING);
    expect(res.run?.leaseWorkerId).toBe("");
    const sleptAt = performance.now();
    await waitStatus(run.id, RunStatus.QUEUED);
    // Gross regression guard only: the timer loop wakes at the due time, not on a 5 s ceiling.
    expect(performance.now() - sleptAt).toBeLessThan(2_000);
    const next = await leaseOne(wf);
    expect(next.history?.sleeps[0]?.status).toBe(SleepStatus.COMPLETED);
  });

  it("awake ends it early as cancelled", async () => {
    const wf = workflow();
    const run = await wf.start();
    const lease = await leaseOne(wf);
    await leases.suspendRun({ ...fence(lease), wait: { case: "sleep", value: { name: "day", sequence: 0, duration: durationFromMs(86_400_000) } } });
    await runs.awakeRun({ runId: run.id });
    const next = await leaseOne(wf);
    expect(next.history?.sleeps[0]?.status).toBe(SleepStatus.CANCELLED);
  });
});

describe("replay addresses (Addresses in history.proto)", () => {
  // What a worker computing its addresses with another JSON writer sends: Python's json.dumps
  // writes the double 5.0 as "5.0", which the contract writes "5".
  const sloppyAddress = (name: string, text: string) => `${name}:${createHash("sha256").update(text).digest("hex")}`;

  it("refuses a StartTask whose address is not name + canonical hash of its input (5.0 for 5), naming expected and got; the task stays run once", async () => {
    const wf = workflow();
    const run = await wf.start();
    const lease = await leaseOne(wf);
    const input = json({ n: 5 });
    expect(taskAddress("double", { n: 5 })).toBe(sloppyAddress("double", '{"n":5}'));
    const { task } = await tasks.startTask({ ...fence(lease), name: "double", address: taskAddress("double", { n: 5 }), sequence: 0, input, maxAttempts: 3 });
    await tasks.completeTask({ ...fence(lease), taskId: task!.id, attempt: 1, output: json(10) });

    // The replay of that call, its address computed from the text {"n":5.0}: refused, not run again.
    const got = sloppyAddress("double", '{"n":5.0}');
    const refused = await rpcError(tasks.startTask({ ...fence(lease), name: "double", address: got, sequence: 0, input, maxAttempts: 3 }));
    expect(refused.code).toBe(Code.InvalidArgument);
    expect(refused.findDetails(AddressMismatchDetailSchema)).toEqual([
      expect.objectContaining({ field: "address", expected: taskAddress("double", { n: 5 }), got }),
    ]);
    expect(refused.findDetails(BadRequestDetailSchema)[0]?.fieldViolations).toEqual([
      expect.objectContaining({ field: "address", description: expect.stringContaining(`expected "${taskAddress("double", { n: 5 })}", got "${got}"`) }),
    ]);
    // The same at a sequence with no record: nothing is created either.
    expect((await rpcError(tasks.startTask({ ...fence(lease), name: "double", address: got, sequence: 1, input, maxAttempts: 3 }))).code).toBe(
      Code.InvalidArgument,
    );
    const { tasks: recorded } = await tasks.listTasks({ runId: run.id });
    expect(recorded.map((t) => [t.address, t.sequence, t.status, t.attempts])).toEqual([[taskAddress("double", { n: 5 }), 0, TaskStatus.COMPLETED, 1]]);
  });

  it("tells no input from null, and checks the address of a call without input", async () => {
    const wf = workflow();
    await wf.start();
    const lease = await leaseOne(wf);
    const refused = await rpcError(tasks.startTask({ ...fence(lease), name: "t", address: taskAddress("t", null), sequence: 0, maxAttempts: 1 }));
    expect(refused.findDetails(AddressMismatchDetailSchema)).toEqual([
      expect.objectContaining({ expected: taskAddress("t", undefined), got: taskAddress("t", null) }),
    ]);
    const { task } = await tasks.startTask({ ...fence(lease), name: "t", address: taskAddress("t", null), sequence: 0, input: json(null), maxAttempts: 1 });
    expect(task?.status).toBe(TaskStatus.RUNNING);
  });

  it("refuses a StartChildRun whose key is not its reference id, else input: + canonical hash; no child is started", async () => {
    const wf = workflow();
    const parent = await wf.start();
    const lease = await leaseOne(wf);
    const child = { parentRunId: parent.id, leaseToken: lease.leaseToken, workflowName: `${wf.name}-child`, workflowVersionId: "1", sequence: 0 };
    const byInput = await rpcError(leases.startChildRun({ ...child, input: json({ x: 1 }), key: `input:${sloppyAddress("", '{"x":1.0}').slice(1)}` }));
    expect(byInput.code).toBe(Code.InvalidArgument);
    expect(byInput.findDetails(AddressMismatchDetailSchema)).toEqual([expect.objectContaining({ field: "key", expected: childRunKey(undefined, { x: 1 }) })]);
    const byReference = await rpcError(
      leases.startChildRun({ ...child, input: json({ x: 1 }), referenceId: "child-a", key: childRunKey(undefined, { x: 1 }) }),
    );
    expect(byReference.findDetails(AddressMismatchDetailSchema)).toEqual([expect.objectContaining({ field: "key", expected: "child-a" })]);
    expect((await runs.listChildRuns({ parentRunId: parent.id })).runs).toEqual([]);
    const started = await leases.startChildRun({ ...child, input: json({ x: 1 }), referenceId: "child-a", key: "child-a" });
    expect(started.existing).toBe(false);
  });
});

describe("children", () => {
  const startChild = (lease: Lease, childName: string, key = childRunKey(undefined, { x: 1 }), sequence = 0) =>
    leases.startChildRun({
      parentRunId: lease.run!.id,
      leaseToken: lease.leaseToken,
      workflowName: childName,
      workflowVersionId: "1",
      key,
      sequence,
      input: json({ x: 1 }),
    });

  it("starts once per key across replays and inherits the parent's shard", async () => {
    const wf = workflow();
    await wf.start({ shard: "eu" });
    const lease = await leaseOne(wf, { shards: ["eu"] });
    const a = await startChild(lease, `${wf.name}-child`);
    const b = await startChild(lease, `${wf.name}-child`);
    expect(a.existing).toBe(false);
    expect(b.existing).toBe(true);
    expect(b.run?.id).toBe(a.run?.id);
    expect(a.run).toMatchObject({ shard: "eu", parentRunId: lease.run!.id });
  });

  it("a parent waiting for a child wakes when it completes, with its output", async () => {
    const parentWf = workflow();
    const parent = await parentWf.start();
    const pLease = await leaseOne(parentWf);
    const childName = `${parentWf.name}-child`;
    const { run: child } = await startChild(pLease, childName);
    const waitRes = await leases.suspendRun({
      ...fence(pLease),
      wait: { case: "childWait", value: { childRunId: child!.id, sequence: 0, awaitedStatus: RunStatus.COMPLETED } },
    });
    expect(waitRes.run?.status).toBe(RunStatus.AWAITING_CHILD_WORKFLOW);
    const [cLease] = (
      await leases.pollLeases({ workerId: "c", workflows: [{ workflowName: childName, workflowVersionId: "1" }], maxLeases: 1, wait: durationFromMs(5000) })
    ).leases;
    await leases.completeRun({ ...fence(cLease!), output: json({ courierName: "Oluwafemi" }) });
    await waitStatus(parent.id, RunStatus.QUEUED);
    const next = await leaseOne(parentWf);
    expect(next.history?.childWaits[0]).toMatchObject({ status: ChildWaitStatus.FINISHED, childStatus: RunStatus.COMPLETED });
    expect(next.history?.childWaits[0]?.output).toEqual(json({ courierName: "Oluwafemi" }));
  });

  it("a child's failure or cancellation wakes its parent too", async () => {
    for (const end of ["fail", "cancel"] as const) {
      const parentWf = workflow();
      const parent = await parentWf.start();
      const pLease = await leaseOne(parentWf);
      const childName = `${parentWf.name}-child`;
      const { run: child } = await startChild(pLease, childName);
      await leases.suspendRun({
        ...fence(pLease),
        wait: { case: "childWait", value: { childRunId: child!.id, sequence: 0, awaitedStatus: RunStatus.COMPLETED } },
      });
      if (end === "cancel") await runs.cancelRun({ runId: child!.id });
      else {
        const [cLease] = (
          await leases.pollLeases({ workerId: "c", workflows: [{ workflowName: childName, workflowVersionId: "1" }], maxLeases: 1, wait: durationFromMs(5000) })
        ).leases;
        await leases.failRun({ ...fence(cLease!), failure: failure("no courier"), cause: RunFailureCause.HANDLER });
      }
      await waitStatus(parent.id, RunStatus.QUEUED);
      const next = await leaseOne(parentWf);
      expect(next.history?.childWaits[0]?.childStatus).toBe(end === "cancel" ? RunStatus.CANCELLED : RunStatus.FAILED);
    }
  });

  it("a child already finished resolves the wait without suspending; a wait timeout wakes the parent and the child goes on", async () => {
    const parentWf = workflow();
    const parent = await parentWf.start();
    const pLease = await leaseOne(parentWf);
    const { run: slow } = await startChild(pLease, `${parentWf.name}-slow`);
    const res = await leases.suspendRun({
      ...fence(pLease),
      wait: { case: "childWait", value: { childRunId: slow!.id, sequence: 0, awaitedStatus: RunStatus.COMPLETED, timeout: durationFromMs(300) } },
    });
    expect(res.suspended).toBe(true);
    await waitStatus(parent.id, RunStatus.QUEUED);
    const next = await leaseOne(parentWf);
    expect(next.history?.childWaits[0]?.status).toBe(ChildWaitStatus.TIMED_OUT);
    expect((await runs.getRun({ runId: slow!.id })).run?.status).toBe(RunStatus.QUEUED);
    await runs.cancelRun({ runId: slow!.id });
    const again = await leases.suspendRun({
      ...fence(next),
      wait: { case: "childWait", value: { childRunId: slow!.id, sequence: 1, awaitedStatus: RunStatus.COMPLETED } },
    });
    expect(again.suspended).toBe(false);
    expect(again.history?.childWaits[1]?.childStatus).toBe(RunStatus.CANCELLED);
  });
});

describe("finishing", () => {
  it("a workflow retry policy sends a failed run to awaiting_retry, then replays attempt 2 with a fresh task budget", async () => {
    const wf = workflow({ retry: { strategy: { case: "fixed", value: { maxAttempts: 2, delay: durationFromMs(200) } } } } as never);
    const run = await wf.start();
    const lease = await leaseOne(wf);
    const { task } = await tasks.startTask({ ...fence(lease), name: "t", address: taskAddress("t", undefined), sequence: 0, maxAttempts: 1 });
    await tasks.failTask({ ...fence(lease), taskId: task!.id, attempt: 1, failure: failure("down") });
    const failed = await leases.failRun({ ...fence(lease), failure: failure("task t failed"), cause: RunFailureCause.TASK });
    expect(failed.run).toMatchObject({ status: RunStatus.AWAITING_RETRY, attempt: 2, failureCause: RunFailureCause.TASK });
    await waitStatus(run.id, RunStatus.QUEUED);
    const next = await leaseOne(wf);
    expect(next.run?.attempt).toBe(2);
    const fresh = await tasks.startTask({ ...fence(next), name: "t", address: taskAddress("t", undefined), sequence: 0, maxAttempts: 1 });
    expect(fresh.task).toMatchObject({ status: TaskStatus.RUNNING, attempts: 1, workflowAttempt: 2 });
    const again = await leases.failRun({ ...fence(next), failure: failure("still down"), cause: RunFailureCause.TASK });
    expect(again.run?.status).toBe(RunStatus.FAILED);
  });

  it("non-determinism and non-retryable failures are not retried", async () => {
    for (const [cause, nonRetryable] of [
      [RunFailureCause.NON_DETERMINISM, false],
      [RunFailureCause.HANDLER, true],
    ] as const) {
      const wf = workflow({ retry: { strategy: { case: "fixed", value: { maxAttempts: 5, delay: durationFromMs(10) } } } } as never);
      await wf.start();
      const lease = await leaseOne(wf);
      const res = await leases.failRun({ ...fence(lease), failure: failure("x", nonRetryable), cause });
      expect(res.run?.status).toBe(RunStatus.FAILED);
      expect(res.run?.failure?.message).toBe("x");
    }
  });

  it("a released run is queued again for another worker", async () => {
    const wf = workflow();
    const run = await wf.start();
    const lease = await leaseOne(wf);
    const released = await leases.releaseLease({ ...fence(lease), reason: "worker stopping" });
    expect(released.run?.status).toBe(RunStatus.QUEUED);
    expect((await leaseOne(wf, { workerId: "w2" })).run?.id).toBe(run.id);
  });
});

describe("lease stream", () => {
  it("pushes up to max_in_flight, refills as soon as a lease ends, and pushes new work as it arrives", async () => {
    const wf = workflow();
    for (let i = 0; i < 3; i++) await wf.start();
    const abort = new AbortController();
    const stream = leases.streamLeases(
      { workerId: "s1", workflows: [{ workflowName: wf.name, workflowVersionId: "1" }], maxInFlight: 2 },
      { signal: abort.signal },
    );
    const it = stream[Symbol.asyncIterator]();
    const received: Lease[] = [];
    const next = async () => {
      const r = await it.next();
      if (r.done) throw new Error("stream ended");
      received.push(...r.value.leases);
      return r.value.leases;
    };
    try {
      while (received.length < 2) await next();
      expect(received).toHaveLength(2);
      // The third run waits for a free slot; finishing one frees it within a hint's time.
      const pending = next();
      const freedAt = performance.now();
      await leases.completeRun({ ...fence(received[0]!), output: json(1) });
      const [third] = await pending;
      expect(third).toBeDefined();
      expect(performance.now() - freedAt).toBeLessThan(1_000);
      // A new run is pushed once a slot is free.
      const fourthPending = next();
      await leases.suspendRun({ ...fence(received[1]!), wait: { case: "sleep", value: { name: "s", sequence: 0, duration: durationFromMs(60_000) } } });
      const started = await wf.start();
      const [fourth] = await fourthPending;
      expect(fourth?.run?.id).toBe(started.id);
      expect(new Set(received.map((l) => l.run!.id)).size).toBe(4);
    } finally {
      abort.abort();
      await it.return?.();
    }
  });
});
