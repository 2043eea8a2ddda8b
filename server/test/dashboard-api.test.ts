// The server API the dashboard reads through (issue 11): complete run histories with their times,
// counts and filters, workflows, and the live streams. Runs are driven through the raw worker
// protocol, as any worker would.
import { fromJson, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampDate, ValueSchema } from "@bufbuild/protobuf/wkt";
import { type Client, Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import type { Run } from "@aiki/gen/aiki/v1/run_pb";
import { BadRequestDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { ChildWaitStatus, EventWaitStatus, SleepStatus, TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService, type StartRunRequestSchema, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import { OverlapPolicy, ScheduleService } from "@aiki/gen/aiki/v1/schedule_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { type Lease, WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { WatchFellBehindError } from "../src/domain/errors.js";
import type { EngineDeps } from "../src/engine/engine-deps.js";
import { maxPendingChanges, watchRuns } from "../src/engine/watch-runs.js";
import { channels } from "../src/notify/notifier.js";
import { RunStatusWatcher } from "../src/engine/run-status-watcher.js";
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

/** A fresh workflow name per test, so tests never see each other's runs. */
function workflow() {
  const name = h.uniqueName("dash");
  return {
    name,
    start: (more: Partial<MessageInitShape<typeof StartRunRequestSchema>> = {}) =>
      runs.startRun({ workflowName: name, workflowVersionId: "1", ...more } as MessageInitShape<typeof StartRunRequestSchema>).then((r) => r.run!),
    lease: async (workerId = "w1"): Promise<Lease> => {
      const { leases: got } = await leases.pollLeases({
        workerId,
        workerName: "dash-test",
        workflows: [{ workflowName: name, workflowVersionId: "1" }],
        maxLeases: 1,
        wait: durationFromMs(5_000),
      });
      if (!got[0]) throw new Error("no lease");
      return got[0];
    },
  };
}

const fence = (lease: Lease) => ({ runId: lease.run!.id, leaseToken: lease.leaseToken });

async function waitStatus(runId: string, status: RunStatus, timeoutMs = 10_000) {
  const res = await runs.waitForRunStatus({ runId, status, timeout: durationFromMs(timeoutMs) });
  expect(res.outcome, `run ${runId} to reach ${RunStatus[status]} (is ${RunStatus[res.run!.status]})`).toBe(WaitForRunStatusResponse_Outcome.REACHED);
  return res.run!;
}

const badField = async (call: Promise<unknown>) => {
  const error = await rpcError(call);
  expect(error.code).toBe(Code.InvalidArgument);
  return error.findDetails(BadRequestDetailSchema)[0]?.fieldViolations.map((v) => v.field);
};

describe("GetRunHistory", () => {
  it("returns tasks, sleeps, event waits, children, child waits and every event, each with its times", async () => {
    const wf = workflow();
    const run = await wf.start();
    const before = Date.now() - 1_000;

    // A task, then a short sleep the timer loop ends.
    let lease = await wf.lease();
    const { task } = await tasks.startTask({
      ...fence(lease),
      name: "charge",
      address: taskAddress("charge", { amount: 3 }),
      sequence: 0,
      input: json({ amount: 3 }),
      maxAttempts: 1,
    });
    await tasks.completeTask({ ...fence(lease), taskId: task!.id, attempt: 1, output: json({ ok: true }) });
    await leases.suspendRun({ ...fence(lease), wait: { case: "sleep", value: { name: "nap", sequence: 0, duration: durationFromMs(200) } } });
    await waitStatus(run.id, RunStatus.QUEUED);

    // An event wait, woken by an event.
    lease = await wf.lease();
    await leases.suspendRun({ ...fence(lease), wait: { case: "eventWait", value: { eventName: "accepted", sequence: 0 } } });
    await events.sendEvent({ targets: [{ target: { case: "runId", value: run.id } }], eventName: "accepted", data: json({ eta: 30 }) });
    await waitStatus(run.id, RunStatus.QUEUED);

    // An event nobody waits for (pending), then a child and a wait on it.
    await events.sendEvent({ targets: [{ target: { case: "runId", value: run.id } }], eventName: "later", referenceId: "r-1" });
    lease = await wf.lease();
    const childName = `${wf.name}-child`;
    const { run: child } = await leases.startChildRun({
      parentRunId: run.id,
      leaseToken: lease.leaseToken,
      workflowName: childName,
      workflowVersionId: "1",
      key: childRunKey(undefined, undefined),
      sequence: 0,
    });
    await leases.suspendRun({
      ...fence(lease),
      wait: { case: "childWait", value: { childRunId: child!.id, sequence: 0, awaitedStatus: RunStatus.COMPLETED } },
    });
    const [childLease] = (
      await leases.pollLeases({ workerId: "c", workflows: [{ workflowName: childName, workflowVersionId: "1" }], maxLeases: 1, wait: durationFromMs(5_000) })
    ).leases;
    await leases.completeRun({ ...fence(childLease!), output: json("child done") });
    await waitStatus(run.id, RunStatus.QUEUED);

    const { history, events: sent } = await runs.getRunHistory({ runId: run.id });
    const after = Date.now() + 1_000;
    const inRange = (t: Parameters<typeof timestampDate>[0] | undefined) => {
      expect(t).toBeDefined();
      const ms = timestampDate(t!).getTime();
      expect(ms).toBeGreaterThan(before);
      expect(ms).toBeLessThan(after);
      return ms;
    };

    expect(history?.tasks).toHaveLength(1);
    expect(history?.tasks[0]).toMatchObject({ name: "charge", status: TaskStatus.COMPLETED, output: json({ ok: true }) });
    inRange(history?.tasks[0]?.createTime);

    expect(history?.sleeps).toHaveLength(1);
    const sleep = history!.sleeps[0]!;
    expect(sleep).toMatchObject({ name: "nap", status: SleepStatus.COMPLETED });
    expect(inRange(sleep.endTime)).toBeGreaterThanOrEqual(inRange(sleep.wakeTime));
    expect(inRange(sleep.wakeTime)).toBeGreaterThanOrEqual(inRange(sleep.startTime));

    expect(history?.eventWaits).toHaveLength(1);
    const eventWait = history!.eventWaits[0]!;
    expect(eventWait).toMatchObject({ eventName: "accepted", status: EventWaitStatus.RECEIVED });
    expect(eventWait.event?.data).toEqual(json({ eta: 30 }));
    expect(inRange(eventWait.endTime)).toBeGreaterThanOrEqual(inRange(eventWait.startTime));
    expect(inRange(eventWait.startTime)).toBeGreaterThanOrEqual(timestampDate(sleep.endTime!).getTime());

    expect(history?.childRuns).toHaveLength(1);
    expect(history?.childRuns[0]).toMatchObject({ childRunId: child!.id, workflowName: childName });
    inRange(history?.childRuns[0]?.createTime);

    expect(history?.childWaits).toHaveLength(1);
    const childWait = history!.childWaits[0]!;
    expect(childWait).toMatchObject({ childRunId: child!.id, status: ChildWaitStatus.FINISHED, childStatus: RunStatus.COMPLETED, output: json("child done") });
    expect(inRange(childWait.endTime)).toBeGreaterThanOrEqual(inRange(childWait.startTime));

    // Every event sent, oldest first: the consumed one and the pending one.
    expect(sent.map((e) => [e.name, e.consumed, e.referenceId])).toEqual([
      ["accepted", true, ""],
      ["later", false, "r-1"],
    ]);

    // The worker's lease history carries the same times, through the same mapping.
    const next = await wf.lease();
    expect(next.history?.sleeps[0]?.endTime).toEqual(sleep.endTime);
    expect(next.history?.eventWaits[0]?.startTime).toEqual(eventWait.startTime);
    expect(next.history?.childWaits[0]?.endTime).toEqual(childWait.endTime);
    expect(next.history?.childRuns[0]?.createTime).toEqual(history?.childRuns[0]?.createTime);
  });

  it("an open wait has a start time and no end time", async () => {
    const wf = workflow();
    const run = await wf.start();
    const lease = await wf.lease();
    await leases.suspendRun({ ...fence(lease), wait: { case: "eventWait", value: { eventName: "never", sequence: 0 } } });
    const { history } = await runs.getRunHistory({ runId: run.id });
    expect(history?.eventWaits[0]?.status).toBe(EventWaitStatus.WAITING);
    expect(history?.eventWaits[0]?.startTime).toBeDefined();
    expect(history?.eventWaits[0]?.endTime).toBeUndefined();
  });

  it("NOT_FOUND for an unknown run; INVALID_ARGUMENT naming run_id for a malformed one", async () => {
    expect((await rpcError(runs.getRunHistory({ runId: "0190a000-0000-7000-8000-000000000000" }))).code).toBe(Code.NotFound);
    expect(await badField(runs.getRunHistory({ runId: "nope" }))).toEqual(["run_id"]);
  });
});

describe("CountRuns and ListRuns filters", () => {
  const counts = async (filter: Parameters<typeof runs.countRuns>[0]["filter"]) => {
    const res = await runs.countRuns({ filter });
    return { byStatus: Object.fromEntries(res.counts.map((c) => [RunStatus[c.status], Number(c.count)])), total: Number(res.total) };
  };
  const listed = async (req: Parameters<typeof runs.listRuns>[0]) => (await runs.listRuns(req)).runs.map((r) => r.id);

  it("counts per status and lists by each filter and their combinations", async () => {
    const wf = workflow();
    const a = await wf.start({ referenceId: "ref-a" });
    const b = await wf.start({ shard: "eu" });
    const c = await wf.start();
    await runs.cancelRun({ runId: c.id });
    const other = await runs.startRun({ workflowName: wf.name, workflowVersionId: "2" });

    expect(await counts({ workflowName: wf.name })).toEqual({ byStatus: { QUEUED: 3, CANCELLED: 1 }, total: 4 });
    expect(await counts({ workflowName: wf.name, workflowVersionId: "1" })).toEqual({ byStatus: { QUEUED: 2, CANCELLED: 1 }, total: 3 });
    expect(await counts({ workflowName: wf.name, statuses: [RunStatus.CANCELLED] })).toEqual({ byStatus: { CANCELLED: 1 }, total: 1 });
    expect(await counts({ workflowName: wf.name, shard: "eu" })).toEqual({ byStatus: { QUEUED: 1 }, total: 1 });
    expect(await counts({ workflowName: wf.name, shard: "" })).toEqual({ byStatus: { QUEUED: 2, CANCELLED: 1 }, total: 3 });
    expect(await counts({ referenceId: "ref-a", workflowName: wf.name })).toEqual({ byStatus: { QUEUED: 1 }, total: 1 });
    expect(await counts({ runIds: [a.id, c.id] })).toEqual({ byStatus: { QUEUED: 1, CANCELLED: 1 }, total: 2 });
    expect(await counts({ runIds: [a.id, c.id], statuses: [RunStatus.QUEUED] })).toEqual({ byStatus: { QUEUED: 1 }, total: 1 });
    expect(await counts({ workflowName: `${wf.name}-none` })).toEqual({ byStatus: {}, total: 0 });

    expect(await listed({ workflowName: wf.name, statuses: [RunStatus.QUEUED, RunStatus.CANCELLED], workflowVersionId: "1" })).toEqual([c.id, b.id, a.id]);
    expect(await listed({ runIds: [a.id, other.run!.id] })).toEqual([other.run!.id, a.id]);
    expect(await listed({ runIds: [a.id, other.run!.id], workflowVersionId: "2" })).toEqual([other.run!.id]);
    expect(await listed({ referenceId: "ref-a" })).toEqual([a.id]);

    // Created range: from is inclusive, to exclusive.
    const { run: bNow } = await runs.getRun({ runId: b.id });
    const { run: cNow } = await runs.getRun({ runId: c.id });
    expect(await listed({ workflowName: wf.name, workflowVersionId: "1", createTimeFrom: bNow!.createTime })).toEqual([c.id, b.id]);
    expect(await listed({ workflowName: wf.name, workflowVersionId: "1", createTimeTo: bNow!.createTime })).not.toContain(b.id);
    expect(await counts({ workflowName: wf.name, workflowVersionId: "1", createTimeFrom: bNow!.createTime, createTimeTo: cNow!.createTime })).toMatchObject({
      byStatus: { QUEUED: 1 },
    });
  });

  it("filters by parent and by schedule", async () => {
    const wf = workflow();
    const parent = await wf.start();
    const lease = await wf.lease();
    const childName = `${wf.name}-child`;
    const start = (key: string) =>
      leases.startChildRun({
        parentRunId: parent.id,
        leaseToken: lease.leaseToken,
        workflowName: childName,
        workflowVersionId: "1",
        key,
        referenceId: key,
        sequence: 0,
      });
    const first = (await start("k1")).run!;
    const second = (await start("k2")).run!;
    expect(await listed({ parentRunId: parent.id })).toEqual([second.id, first.id]);
    expect(await counts({ parentRunId: parent.id })).toEqual({ byStatus: { QUEUED: 2 }, total: 2 });

    const scheduled = workflow();
    const { schedule } = await aiki.client(ScheduleService).activateSchedule({
      workflowName: scheduled.name,
      workflowVersionId: "1",
      spec: { spec: { case: "interval", value: { every: durationFromMs(1_000) } } },
      // While its run is active, later occurrences start nothing: one run to find.
      overlapPolicy: OverlapPolicy.SKIP,
    });
    await scheduled.start();
    // The first occurrence is due a second after activation; a waiting poll takes both runs.
    const fired = await scheduled.lease("s1");
    const other = await scheduled.lease("s2");
    const fromSchedule = [fired, other].find((l) => l.run!.referenceId.startsWith("schedule:"))!.run!;
    expect(await listed({ scheduleId: schedule!.id })).toEqual([fromSchedule.id]);
    expect(await counts({ scheduleId: schedule!.id })).toEqual({ byStatus: { RUNNING: 1 }, total: 1 });
  });

  it("pages across the filtered runs with the same filters, and refuses a token of other filters", async () => {
    const wf = workflow();
    const started = [];
    for (let i = 0; i < 5; i++) started.push(await wf.start());
    await runs.cancelRun({ runId: started[2]!.id });
    const filter = { workflowName: wf.name, statuses: [RunStatus.QUEUED], createTimeFrom: started[0]!.createTime };
    const p1 = await runs.listRuns({ ...filter, pageSize: 3 });
    const p2 = await runs.listRuns({ ...filter, pageSize: 3, pageToken: p1.nextPageToken });
    expect([...p1.runs, ...p2.runs].map((r) => r.id)).toEqual([started[4], started[3], started[1], started[0]].map((r) => r!.id));
    expect(p2.nextPageToken).toBe("");
    expect(await badField(runs.listRuns({ ...filter, scheduleId: "0190a000-0000-7000-8000-000000000000", pageToken: p1.nextPageToken }))).toEqual([
      "page_token",
    ]);
  });

  it("refuses bad filters with INVALID_ARGUMENT naming each field", async () => {
    const ids = Array.from({ length: 101 }, () => "0190a000-0000-7000-8000-000000000000");
    expect(await badField(runs.listRuns({ runIds: ids }))).toEqual(["run_ids"]);
    expect(await badField(runs.listRuns({ runIds: ["x"], scheduleId: "y" }))).toEqual(["run_ids[0]", "schedule_id"]);
    const t = (s: number) => ({ seconds: BigInt(s), nanos: 0 });
    expect(await badField(runs.listRuns({ createTimeFrom: t(100), createTimeTo: t(50) }))).toEqual(["create_time_to"]);
    expect(await badField(runs.countRuns({ filter: { runIds: ids, parentRunId: "p", statuses: [RunStatus.QUEUED, 99 as RunStatus] } }))).toEqual([
      "filter.parent_run_id",
      "filter.statuses[1]",
      "filter.run_ids",
    ]);
    expect(await badField(runs.countRuns({ filter: { createTimeFrom: { seconds: 0n, nanos: -1 }, workflowName: "a\u0000" } }))).toEqual([
      "filter.workflow_name",
      "filter.create_time_from",
    ]);
  });
});

describe("ListWorkflows and ListWorkers", () => {
  it("lists versions from runs, live workers and schedules", async () => {
    const wf = workflow();
    await wf.start();
    const last = await wf.start();
    await leases.pollLeases({ workerId: "lw", workerName: "n", workflows: [{ workflowName: wf.name, workflowVersionId: "3" }], maxLeases: 1 });
    await aiki.client(ScheduleService).activateSchedule({
      workflowName: wf.name,
      workflowVersionId: "4",
      spec: { spec: { case: "cron", value: { expression: "0 0 1 1 *", timezone: "" } } },
    });
    const { workflows } = await runs.listWorkflows({});
    const mine = workflows.filter((w) => w.workflowName === wf.name);
    expect(mine.map((w) => [w.workflowVersionId, Number(w.runCount), w.workerCount, w.scheduleCount])).toEqual([
      ["1", 2, 0, 0],
      ["3", 0, 1, 0],
      ["4", 0, 0, 1],
    ]);
    expect(mine[0]?.lastCreateTime).toEqual(last.createTime);
    expect(mine[1]?.lastCreateTime).toBeUndefined();
  });

  it("ListWorkers says how a worker connects and when it was first seen", async () => {
    const wf = workflow();
    await wf.start();
    await wf.lease("tw");
    const { workers } = await leases.listWorkers({});
    const w = workers.find((x) => x.workerId === "tw");
    expect(w?.transport).toBe("poll");
    expect(w?.firstSeenTime).toBeDefined();
    expect(timestampDate(w!.firstSeenTime!).getTime()).toBeLessThanOrEqual(timestampDate(w!.lastSeenTime!).getTime());
  });

  it("a streaming worker shows as stream while its stream is open, and with no transport once it ended", async () => {
    const wf = workflow();
    await wf.start();
    const stop = new AbortController();
    const stream = leases.streamLeases(
      { workerId: "sw", workerName: "n", workflows: [{ workflowName: wf.name, workflowVersionId: "1" }], maxInFlight: 1 },
      { signal: stop.signal },
    );
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    const transportOf = async () => (await leases.listWorkers({})).workers.find((x) => x.workerId === "sw")?.transport;
    expect(await transportOf()).toBe("stream");
    stop.abort();
    await it.next().catch(() => undefined);
    // The server clears it after the stream's end, which the client cannot await: poll, bounded.
    const deadline = Date.now() + 2_000;
    while ((await transportOf()) !== "" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await transportOf()).toBe("");
  });
});

/** A server stream read message by message, each awaited with a deadline (no sleeps). */
function reader<T>(stream: AsyncIterable<T>) {
  const it = stream[Symbol.asyncIterator]();
  const next = (timeoutMs = 1_000): Promise<IteratorResult<T>> => {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      it.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no message within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  };
  return {
    next,
    /** The next message, failing when the stream ended. */
    async message(timeoutMs = 1_000): Promise<T> {
      const r = await next(timeoutMs);
      if (r.done) throw new Error("the stream ended");
      return r.value;
    },
    /** Reads messages until one satisfies `predicate`, all within `timeoutMs`; returns those read. */
    async until(predicate: (m: T) => boolean, timeoutMs = 1_000): Promise<T[]> {
      const deadline = Date.now() + timeoutMs;
      const seen: T[] = [];
      for (;;) {
        const m = await this.message(Math.max(1, deadline - Date.now()));
        seen.push(m);
        if (predicate(m)) return seen;
      }
    },
  };
}

const has = (runId: string, status: RunStatus) => (m: { runs: Run[] }) => m.runs.some((r) => r.id === runId && r.status === status);

describe("WatchRuns", () => {
  it("sends an empty first message, then creations and changes as they happen: a timer wake and a cancel within a second", async () => {
    const wf = workflow();
    const stop = new AbortController();
    const watch = reader(runs.watchRuns({ filter: { workflowName: wf.name } }, { signal: stop.signal }));
    try {
      expect((await watch.message()).runs).toEqual([]);
      const run = await wf.start();
      await watch.until(has(run.id, RunStatus.QUEUED));
      const lease = await wf.lease();
      await watch.until(has(run.id, RunStatus.RUNNING));
      await leases.suspendRun({ ...fence(lease), wait: { case: "sleep", value: { name: "nap", sequence: 0, duration: durationFromMs(300) } } });
      await watch.until(has(run.id, RunStatus.SLEEPING));
      // The timer loop wakes it: a change no client call made.
      await watch.until(has(run.id, RunStatus.QUEUED), 300 + 1_000);
      await runs.cancelRun({ runId: run.id, reason: "enough" });
      const [cancelled] = (await watch.until(has(run.id, RunStatus.CANCELLED))).slice(-1);
      expect(cancelled!.runs.find((r) => r.id === run.id)?.statusReason).toBe("enough");
    } finally {
      stop.abort();
    }
  });

  it("sends only what matches the filter, read back from the store", async () => {
    const wf = workflow();
    const stop = new AbortController();
    const watch = reader(runs.watchRuns({ filter: { workflowName: wf.name, statuses: [RunStatus.CANCELLED] } }, { signal: stop.signal }));
    try {
      await watch.message();
      const kept = await wf.start();
      await workflow().start();
      const dropped = await wf.start();
      await runs.cancelRun({ runId: dropped.id });
      const got = await watch.message();
      expect(got.runs.map((r) => [r.id, r.status])).toEqual([[dropped.id, RunStatus.CANCELLED]]);
      // By id: only the runs named.
      const byId = reader(runs.watchRuns({ filter: { runIds: [kept.id] } }, { signal: stop.signal }));
      await byId.message();
      await runs.cancelRun({ runId: (await wf.start()).id });
      await runs.cancelRun({ runId: kept.id });
      expect((await byId.message()).runs.map((r) => r.id)).toEqual([kept.id]);
    } finally {
      stop.abort();
    }
  });

  it("refuses a bad filter with INVALID_ARGUMENT naming the field", async () => {
    const read = async () => {
      for await (const _ of runs.watchRuns({ filter: { parentRunId: "nope" } })) break;
    };
    expect(await badField(read())).toEqual(["filter.parent_run_id"]);
  });

  it("ends with RESOURCE_EXHAUSTED instead of growing when its client does not read", async () => {
    const deps: EngineDeps = {
      db: aiki.deps.db,
      notifier: aiki.deps.notifier,
      logger: aiki.deps.logger,
      shutdownSignal: new AbortController().signal,
      runStatusWatcher: new RunStatusWatcher(aiki.deps.db, aiki.deps.logger),
    };
    const stop = new AbortController();
    const watch = watchRuns(deps, "default", {}, stop.signal);
    try {
      expect((await watch.next()).value).toEqual([]);
      // The client reads nothing while more changes than the cap arrive.
      for (let i = 0; i <= maxPendingChanges; i++)
        aiki.deps.notifier.publish(channels.runs("default"), `00000000-0000-7000-8000-${String(i).padStart(12, "0")}`);
      await expect(watch.next()).rejects.toBeInstanceOf(WatchFellBehindError);
    } finally {
      stop.abort();
      await watch.return(undefined);
    }
  });
});

describe("WatchRun", () => {
  it("sends the run at once, then its changes and history growth, then ends once terminal", async () => {
    const wf = workflow();
    const run = await wf.start();
    const watch = reader(runs.watchRun({ runId: run.id }));
    const first = await watch.message();
    expect(first.run?.status).toBe(RunStatus.QUEUED);
    expect(first.historyChanged).toBe(false);
    const lease = await wf.lease();
    await watch.until((m) => m.run?.status === RunStatus.RUNNING);
    // A task recorded: no status change, the history grew.
    const revision = (await runs.getRun({ runId: run.id })).run!.revision;
    await tasks.startTask({ ...fence(lease), name: "t", address: taskAddress("t", undefined), sequence: 0, maxAttempts: 1 });
    const grown = await watch.message();
    expect(grown).toMatchObject({ historyChanged: true, run: { status: RunStatus.RUNNING, revision } });
    await leases.completeRun({ ...fence(lease), output: json(1) });
    await watch.until((m) => m.run?.status === RunStatus.COMPLETED);
    expect((await watch.next()).done).toBe(true);
  });

  it("an event stored for a run that does not wait for it grows its history", async () => {
    const wf = workflow();
    const run = await wf.start();
    const watch = reader(runs.watchRun({ runId: run.id }));
    await watch.message();
    await events.sendEvent({ targets: [{ target: { case: "runId", value: run.id } }], eventName: "early" });
    expect(await watch.message()).toMatchObject({ historyChanged: true, run: { status: RunStatus.QUEUED } });
    await runs.cancelRun({ runId: run.id });
    await watch.until((m) => m.run?.status === RunStatus.CANCELLED);
    expect((await watch.next()).done).toBe(true);
  });

  it("NOT_FOUND for an unknown run, INVALID_ARGUMENT for a malformed id", async () => {
    const read = async (runId: string) => {
      for await (const _ of runs.watchRun({ runId })) break;
    };
    expect((await rpcError(read("0190a000-0000-7000-8000-000000000000"))).code).toBe(Code.NotFound);
    expect(await badField(read("nope"))).toEqual(["run_id"]);
  });
});

describe("keep-alives and shutdown", () => {
  // With the in-process notifier (no Redis), as the embedded default runs.
  const hq = useTestAiki({ watchKeepAliveMs: 200, redis: false });
  let quick: TestAiki;
  beforeAll(() => {
    quick = hq.aiki;
  });

  it("sends empty messages while nothing changes, changes between them, and ends both streams when the server shuts down", async () => {
    const client = quick.client(RunService);
    const { run } = await client.startRun({ workflowName: "quiet", workflowVersionId: "1" });
    const { run: second } = await client.startRun({ workflowName: "quiet", workflowVersionId: "1" });
    const all = reader(client.watchRuns({}));
    const one = reader(client.watchRun({ runId: run!.id }));
    const other = reader(client.watchRun({ runId: second!.id }));
    expect((await all.message()).runs).toEqual([]);
    expect((await one.message()).run?.id).toBe(run!.id);
    expect((await all.message()).runs).toEqual([]);
    const keepAlive = await one.message();
    expect(keepAlive.run).toBeUndefined();
    expect(keepAlive.historyChanged).toBe(false);
    await client.cancelRun({ runId: run!.id });
    // Keep-alives may come in between on a slow machine.
    expect((await one.until((m) => m.run !== undefined)).at(-1)).toMatchObject({ run: { status: RunStatus.CANCELLED }, historyChanged: true });
    await all.until(has(run!.id, RunStatus.CANCELLED));
    expect((await one.next()).done).toBe(true);
    await quick.stopServer();
    // Ends (cleanly, or cut by the closing server) rather than hanging.
    const ended = async (r: ReturnType<typeof reader>) => {
      for (;;) {
        const n = await r.next(3_000).catch((error: Error) => (error.message.startsWith("no message") ? Promise.reject(error) : { done: true }));
        if (n.done) return true;
      }
    };
    expect(await ended(all)).toBe(true);
    expect(await ended(other)).toBe(true);
  });
});
