// ScheduleService through real gRPC clients: idempotent activation, validation, firing on the
// database clock with reference ids "schedule:{id}:{occurrence}", overlap policies, pause/resume,
// delete, catch-up after downtime, and exactly-once firing across restarts and replicas.
import { fromJson, type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { durationFromMs, timestampDate, timestampMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import { type Client, Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { beforeAll, describe, expect, it } from "vitest";
import { BadRequestDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import { type Run, RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import { type ActivateScheduleRequestSchema, OverlapPolicy, type Schedule, ScheduleService, ScheduleStatus } from "@aiki/gen/aiki/v1/schedule_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { closeChecked } from "../../test/support/leak-checks.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { rpcError } from "../../test/support/rpc-error.js";
import { childRunKey } from "../src/engine/canonical-json.js";

const h = useTestAiki();
let aiki: TestAiki;
let schedules: Client<typeof ScheduleService>;
let runs: Client<typeof RunService>;
let leases: Client<typeof WorkerLeaseService>;

beforeAll(() => {
  aiki = h.aiki;
  schedules = aiki.client(ScheduleService);
  runs = aiki.client(RunService);
  leases = aiki.client(WorkerLeaseService);
});

type ActivateInit = MessageInitShape<typeof ActivateScheduleRequestSchema>;
const json = (v: unknown) => fromJson(ValueSchema, v as never);
const every = (ms: number): ActivateInit["spec"] => ({ spec: { case: "interval", value: { every: durationFromMs(ms) } } });
const cron = (expression: string, timezone = ""): ActivateInit["spec"] => ({ spec: { case: "cron", value: { expression, timezone } } });
// Never due while the tests run.
const yearly = cron("0 0 1 1 *");
/** A fresh workflow name per test, so tests never see each other's runs. */
const workflowName = () => h.uniqueName("sched-wf");

function activate(init: Partial<ActivateInit> & { workflowName: string }, client = schedules) {
  return client.activateSchedule({ workflowVersionId: "1", spec: every(1_000), ...init } as ActivateInit);
}

async function violatedFields(promise: Promise<unknown>): Promise<string[]> {
  const error = await rpcError(promise);
  expect(error.code, error.message).toBe(Code.InvalidArgument);
  return error.findDetails(BadRequestDetailSchema).flatMap((d) => d.fieldViolations.map((f) => f.field));
}

/** The occurrence time a scheduled run's reference id names. */
function occurrenceOf(run: Run, scheduleId: string): number {
  const prefix = `schedule:${scheduleId}:`;
  expect(run.referenceId.startsWith(prefix), run.referenceId).toBe(true);
  const iso = run.referenceId.slice(prefix.length);
  expect(new Date(iso).toISOString()).toBe(iso);
  return Date.parse(iso);
}

/** Every run of a workflow, oldest first. */
async function runsOf(name: string, client = runs): Promise<Run[]> {
  const { runs: listed } = await client.listRuns({ workflowName: name, pageSize: 1000 });
  return listed.reverse();
}

/** Polls (bounded) until the workflow has at least `count` runs. */
async function waitForRuns(name: string, count: number, opts: { timeoutMs?: number; client?: Client<typeof RunService> } = {}): Promise<Run[]> {
  const deadline = Date.now() + (opts.timeoutMs ?? 8_000);
  for (;;) {
    const listed = await runsOf(name, opts.client);
    if (listed.length >= count) return listed;
    if (Date.now() > deadline) throw new Error(`expected ${count} runs of ${name}, found ${listed.length}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitForSchedule(id: string, predicate: (s: Schedule) => boolean, timeoutMs = 8_000): Promise<Schedule> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { schedule } = await schedules.getSchedule({ scheduleId: id });
    if (predicate(schedule!)) return schedule!;
    if (Date.now() > deadline) throw new Error(`schedule ${id} did not reach the expected state`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitStatus(runId: string, status: RunStatus, timeoutMs = 5_000): Promise<Run> {
  const res = await runs.waitForRunStatus({ runId, status, timeout: durationFromMs(timeoutMs) });
  expect(res.outcome, `run ${runId} to reach ${RunStatus[status]} (is ${RunStatus[res.run!.status]})`).toBe(WaitForRunStatusResponse_Outcome.REACHED);
  return res.run!;
}

/** Occurrences must be unique and one interval apart: no duplicate, no gap, no burst. */
function expectConsecutive(occurrences: number[], intervalMs: number): void {
  const sorted = [...occurrences].sort((a, b) => a - b);
  expect(new Set(sorted).size, "no occurrence started twice").toBe(sorted.length);
  expect(sorted.slice(1).map((t, i) => t - sorted[i]!)).toEqual(sorted.slice(1).map(() => intervalMs));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("activation", () => {
  it("is idempotent by name; the same name with another definition is ALREADY_EXISTS", async () => {
    const wf = workflowName();
    const name = `nightly-${wf}`;
    const first = await activate({ name, workflowName: wf, spec: yearly, input: json({ a: 1 }), shard: "eu" });
    expect(first.existing).toBe(false);
    const s = first.schedule!;
    expect(s).toMatchObject({ name, workflowName: wf, workflowVersionId: "1", status: ScheduleStatus.ACTIVE, shard: "eu", overlapPolicy: OverlapPolicy.ALLOW });
    expect(s.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(toJson(ValueSchema, s.input!)).toEqual({ a: 1 });
    expect(timestampDate(s.nextTime!).toISOString()).toBe(`${new Date().getUTCFullYear() + 1}-01-01T00:00:00.000Z`);

    const again = await activate({ name, workflowName: wf, spec: yearly, input: json({ a: 1 }), shard: "eu", overlapPolicy: OverlapPolicy.ALLOW });
    expect(again.existing).toBe(true);
    expect(again.schedule?.id).toBe(s.id);
    expect(again.schedule?.createTime).toEqual(s.createTime);

    for (const changed of [
      { input: json({ a: 2 }), spec: yearly, shard: "eu" },
      { input: json({ a: 1 }), spec: cron("0 0 1 2 *"), shard: "eu" },
      { input: json({ a: 1 }), spec: yearly, shard: "us" },
      { input: json({ a: 1 }), spec: yearly, shard: "eu", overlapPolicy: OverlapPolicy.SKIP },
      { input: json({ a: 1 }), spec: yearly, shard: "eu", workflowVersionId: "2" },
    ]) {
      const error = await rpcError(activate({ name, workflowName: wf, ...changed }));
      expect(error.code, JSON.stringify(changed)).toBe(Code.AlreadyExists);
      expect(error.message).toContain(name);
    }
    expect((await schedules.getSchedule({ scheduleId: s.id })).schedule).toEqual(s);
  });

  it("an unnamed schedule is identified by its definition", async () => {
    const wf = workflowName();
    const a = await activate({ workflowName: wf, spec: yearly, input: json({ n: 1 }) });
    const b = await activate({ workflowName: wf, spec: yearly, input: json({ n: 1 }) });
    const c = await activate({ workflowName: wf, spec: yearly, input: json({ n: 2 }) });
    expect(a.existing).toBe(false);
    expect(b).toMatchObject({ existing: true, schedule: { id: a.schedule!.id, name: "" } });
    expect(c.existing).toBe(false);
    expect(c.schedule!.id).not.toBe(a.schedule!.id);
    // A name gives another identity, even with the same definition.
    const named = await activate({ name: `n-${wf}`, workflowName: wf, spec: yearly, input: json({ n: 1 }) });
    expect(named.existing).toBe(false);
    expect(named.schedule!.id).not.toBe(a.schedule!.id);
  });

  it("lists by workflow with paging", async () => {
    const wf = workflowName();
    const ids = new Set<string>();
    for (let i = 0; i < 3; i++) ids.add((await activate({ workflowName: wf, spec: yearly, input: json(i) })).schedule!.id);
    await activate({ workflowName: workflowName(), spec: yearly });
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await schedules.listSchedules({ workflowName: wf, pageSize: 2, pageToken });
      seen.push(...page.schedules.map((s) => s.id));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken);
    expect(pages).toBe(2);
    expect(new Set(seen)).toEqual(ids);
    const first = await schedules.listSchedules({ workflowName: wf, pageSize: 2 });
    const misuse = await violatedFields(schedules.listSchedules({ workflowName: workflowName(), pageToken: first.nextPageToken }));
    expect(misuse).toEqual(["page_token"]);
  });

  it("a cron spec in a time zone: five or six fields", async () => {
    const wf = workflowName();
    const { schedule } = await activate({ workflowName: wf, spec: cron("0 30 9 * * 1-5", "Europe/Berlin") });
    const next = timestampDate(schedule!.nextTime!);
    const local = new Intl.DateTimeFormat("en-GB", {
      timeZone: "Europe/Berlin",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      weekday: "short",
    }).format(next);
    expect(local).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 09:30:00$/);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    expect(schedule!.spec?.spec).toEqual({ case: "cron", value: expect.objectContaining({ expression: "0 30 9 * * 1-5", timezone: "Europe/Berlin" }) });
    // An empty zone is UTC, never the server's local zone.
    const utc = await activate({ workflowName: wf, spec: cron("15 3 * * *") });
    expect(timestampDate(utc.schedule!.nextTime!).toISOString()).toMatch(/T03:15:00\.000Z$/);
  });

  it("refuses invalid requests with INVALID_ARGUMENT naming each field", async () => {
    const wf = workflowName();
    expect(await violatedFields(schedules.activateSchedule({}))).toEqual(["workflow_name", "workflow_version_id", "spec"]);
    expect(await violatedFields(activate({ workflowName: wf, spec: {} }))).toEqual(["spec"]);
    expect(await violatedFields(activate({ workflowName: wf, spec: cron("61 * * * *") }))).toEqual(["spec.cron.expression"]);
    expect(await violatedFields(activate({ workflowName: wf, spec: cron("not a cron") }))).toEqual(["spec.cron.expression"]);
    expect(await violatedFields(activate({ workflowName: wf, spec: cron("0 0 0 1 1 * 2030") }))).toEqual(["spec.cron.expression"]);
    expect(await violatedFields(activate({ workflowName: wf, spec: cron("") }))).toEqual(["spec.cron.expression"]);
    // 30 February never comes.
    expect(await violatedFields(activate({ workflowName: wf, spec: cron("0 0 30 2 *") }))).toEqual(["spec.cron.expression"]);
    expect(await violatedFields(activate({ workflowName: wf, spec: cron("0 0 * * *", "Mars/Olympus_Mons") }))).toEqual(["spec.cron.timezone"]);
    expect(await violatedFields(activate({ workflowName: wf, spec: cron("bad", "Mars/Olympus_Mons") }))).toEqual([
      "spec.cron.timezone",
      "spec.cron.expression",
    ]);
    expect(await violatedFields(activate({ workflowName: wf, spec: every(999) }))).toEqual(["spec.interval.every"]);
    expect(await violatedFields(activate({ workflowName: wf, spec: every(-1_000) }))).toEqual(["spec.interval.every"]);
    expect(await violatedFields(activate({ workflowName: wf, spec: { spec: { case: "interval", value: {} } } }))).toEqual(["spec.interval.every"]);
    expect(await violatedFields(activate({ workflowName: wf, overlapPolicy: 99 as OverlapPolicy }))).toEqual(["overlap_policy"]);
    expect(await violatedFields(activate({ workflowName: wf, name: "x".repeat(300) }))).toEqual(["name"]);
    expect(await violatedFields(schedules.getSchedule({ scheduleId: "nope" }))).toEqual(["schedule_id"]);
    expect(await violatedFields(schedules.deleteSchedule({}))).toEqual(["schedule_id"]);
    // Nothing was created by the refused calls.
    expect((await schedules.listSchedules({ workflowName: wf })).schedules).toEqual([]);
  });

  it("an unknown schedule is NOT_FOUND", async () => {
    const id = "00000000-0000-8000-8000-000000000000";
    for (const call of [
      () => schedules.getSchedule({ scheduleId: id }),
      () => schedules.pauseSchedule({ scheduleId: id }),
      () => schedules.resumeSchedule({ scheduleId: id }),
      () => schedules.deleteSchedule({ scheduleId: id }),
    ]) {
      expect((await rpcError(call())).code).toBe(Code.NotFound);
    }
  });
});

// These wait on the wall clock (1 s occurrences); they share nothing, so they overlap.
describe.concurrent("firing", () => {
  it("an interval schedule starts one run per occurrence, with reference schedule:{id}:{time}, the input and the shard", async () => {
    const wf = workflowName();
    const { schedule } = await activate({ workflowName: wf, spec: every(1_000), input: json({ report: "daily" }), shard: "eu" });
    const id = schedule!.id;
    const firstDue = timestampMs(schedule!.nextTime!);
    // Intervals are aligned to the epoch: every replica computes the same occurrence times.
    expect(firstDue % 1_000).toBe(0);
    expect(firstDue).toBeGreaterThan(timestampMs(schedule!.createTime!));
    await waitForRuns(wf, 2);
    const paused = (await schedules.pauseSchedule({ scheduleId: id })).schedule!;
    const started = await runsOf(wf);
    const occurrences = started.map((r) => occurrenceOf(r, id));
    expect(occurrences[0]).toBe(firstDue);
    expectConsecutive(occurrences, 1_000);
    for (const [i, run] of started.entries()) {
      expect(run).toMatchObject({ workflowVersionId: "1", shard: "eu", status: RunStatus.QUEUED });
      expect(toJson(ValueSchema, run.input!)).toEqual({ report: "daily" });
      // The loop wakes at the due time (a hint from activation, then its own plan), not on a tick.
      const lateMs = timestampMs(run.createTime!) - occurrences[i]!;
      expect(lateMs).toBeGreaterThanOrEqual(0);
      expect(lateMs).toBeLessThan(750);
    }
    const last = started[started.length - 1]!;
    expect(paused.lastRunId).toBe(last.id);
    expect(timestampMs(paused.lastTime!)).toBe(occurrences[occurrences.length - 1]);
    const { transitions } = await runs.listRunTransitions({ runId: last.id });
    expect(transitions[0]).toMatchObject({ actor: `schedule:${id}`, toStatus: RunStatus.QUEUED });
    // Each occurrence's run is findable by its reference id.
    const byRef = await runs.getRunByReferenceId({ reference: { workflowName: wf, workflowVersionId: "1", referenceId: last.referenceId } });
    expect(byRef.run?.id).toBe(last.id);
    await schedules.deleteSchedule({ scheduleId: id });
  });

  it("overlap skip: no run starts while the previous one is not terminal", async () => {
    const wf = workflowName();
    const { schedule } = await activate({ workflowName: wf, overlapPolicy: OverlapPolicy.SKIP });
    const id = schedule!.id;
    const [first] = await waitForRuns(wf, 1);
    const firstAt = occurrenceOf(first!, id);
    // Two more occurrences pass (next_time moves on) while the first run is still queued.
    const s = await waitForSchedule(id, (x) => x.nextTime !== undefined && timestampMs(x.nextTime) >= firstAt + 3_000);
    expect(s.lastRunId).toBe(first!.id);
    expect(await runsOf(wf)).toHaveLength(1);
    // Once it is terminal, the next occurrence starts a run again.
    await runs.cancelRun({ runId: first!.id });
    const after = await waitForRuns(wf, 2);
    expect(occurrenceOf(after[1]!, id)).toBeGreaterThanOrEqual(firstAt + 3_000);
    expect(after[1]!.status).toBe(RunStatus.QUEUED);
    await schedules.deleteSchedule({ scheduleId: id });
  });

  it("overlap cancel_previous: cancels the previous run and its descendants, with history, then starts", async () => {
    const wf = workflowName();
    // Held before the first run exists, so the lease is taken the moment it is started.
    const polling = leases.pollLeases({
      workerId: `w-${wf}`,
      workerName: "test",
      workflows: [{ workflowName: wf, workflowVersionId: "1" }],
      maxLeases: 1,
      wait: durationFromMs(5_000),
    });
    const { schedule } = await activate({ workflowName: wf, overlapPolicy: OverlapPolicy.CANCEL_PREVIOUS });
    const id = schedule!.id;
    const [lease] = (await polling).leases;
    expect(lease?.run?.referenceId).toMatch(new RegExp(`^schedule:${id}:`));
    const previous = lease!.run!;
    const { run: child } = await leases.startChildRun({
      parentRunId: previous.id,
      leaseToken: lease!.leaseToken,
      workflowName: `${wf}-child`,
      workflowVersionId: "1",
      key: childRunKey(undefined, undefined),
      sequence: 0,
    });
    const cancelled = await waitStatus(previous.id, RunStatus.CANCELLED);
    await waitStatus(child!.id, RunStatus.CANCELLED);
    const later = (await runsOf(wf)).filter((r) => r.id !== previous.id);
    expect(later.length).toBeGreaterThanOrEqual(1);
    expect(occurrenceOf(later[0]!, id)).toBe(occurrenceOf(previous, id) + 1_000);
    expect(cancelled.statusReason).toContain(`schedule ${id}`);
    const { transitions } = await runs.listRunTransitions({ runId: previous.id });
    expect(transitions.at(-1)).toMatchObject({ fromStatus: RunStatus.RUNNING, toStatus: RunStatus.CANCELLED, actor: `schedule:${id}` });
    const childHistory = await runs.listRunTransitions({ runId: child!.id });
    expect(childHistory.transitions.at(-1)).toMatchObject({ toStatus: RunStatus.CANCELLED, actor: `parent:${previous.id}` });
    // The cancelled worker's next write is refused (its lease was dropped).
    const hb = await leases.heartbeat({ workerId: `w-${wf}`, leases: [{ runId: previous.id, leaseToken: lease!.leaseToken }] });
    expect(hb.leases).toEqual([expect.objectContaining({ runId: previous.id, held: false })]);
    await schedules.deleteSchedule({ scheduleId: id });
  });

  it("pause stops firing; resume fires again from the next occurrence, skipping those missed while paused", async () => {
    const wf = workflowName();
    const { schedule } = await activate({ workflowName: wf });
    const id = schedule!.id;
    await waitForRuns(wf, 1);
    const paused = (await schedules.pauseSchedule({ scheduleId: id })).schedule!;
    expect(paused.status).toBe(ScheduleStatus.PAUSED);
    expect(paused.nextTime).toBeUndefined();
    const pausedAt = Date.now();
    const before = await runsOf(wf);
    expect((await rpcError(schedules.pauseSchedule({ scheduleId: id }))).code).toBe(Code.FailedPrecondition);
    // Occurrences pass while paused: waiting on the wall clock is the point here.
    await sleep(1_500);
    expect(await runsOf(wf)).toHaveLength(before.length);

    const resumed = (await schedules.resumeSchedule({ scheduleId: id })).schedule!;
    const resumedAt = Date.now();
    expect(resumed.status).toBe(ScheduleStatus.ACTIVE);
    const nextAt = timestampMs(resumed.nextTime!);
    expect(nextAt).toBeGreaterThan(pausedAt + 1_000);
    expect(nextAt).toBeLessThanOrEqual(resumedAt + 1_000);
    expect((await rpcError(schedules.resumeSchedule({ scheduleId: id }))).code).toBe(Code.FailedPrecondition);

    const after = await waitForRuns(wf, before.length + 1);
    const fresh = after.slice(before.length).map((r) => occurrenceOf(r, id));
    expect(fresh[0]).toBe(nextAt);
    await schedules.deleteSchedule({ scheduleId: id });
  });

  it("delete: the schedule is gone (NOT_FOUND), its runs are left alone, nothing fires after", async () => {
    const wf = workflowName();
    const name = `del-${wf}`;
    const { schedule } = await activate({ name, workflowName: wf, input: json(1) });
    const id = schedule!.id;
    const [first] = await waitForRuns(wf, 1);
    await schedules.deleteSchedule({ scheduleId: id });
    const count = (await runsOf(wf)).length;
    expect((await rpcError(schedules.getSchedule({ scheduleId: id }))).code).toBe(Code.NotFound);
    expect((await rpcError(schedules.deleteSchedule({ scheduleId: id }))).code).toBe(Code.NotFound);
    expect((await runs.getRun({ runId: first!.id })).run?.status).toBe(RunStatus.QUEUED);
    // A whole interval passes with no new run.
    await sleep(1_300);
    expect(await runsOf(wf)).toHaveLength(count);
    // The name is free again, for any definition.
    const again = await activate({ name, workflowName: wf, input: json(2), spec: yearly });
    expect(again).toMatchObject({ existing: false, schedule: { id } });
    await schedules.deleteSchedule({ scheduleId: id });
  });

  it("after downtime, only the latest missed occurrence starts (no burst)", async () => {
    // A server that does not fire: occurrences are missed as if every server were down.
    const down = await h.startServer({ timers: false });
    let up: TestAiki | undefined;
    try {
      const wf = workflowName();
      const { schedule } = await activate({ workflowName: wf }, down.client(ScheduleService));
      const id = schedule!.id;
      // Five occurrences already missed.
      await down.deps.db.updateTable("schedules").set({ next_time: sql<Date>`next_time - interval '5 seconds'` }).where("id", "=", id).execute();
      const restartedAt = Date.now();
      up = await h.startServer({ database: down.database });
      const upRuns = up.client(RunService);
      const started = await waitForRuns(wf, 2, { client: upRuns });
      const occurrences = started.map((r) => occurrenceOf(r, id));
      // The first run is the latest missed occurrence, not the earliest.
      expect(occurrences[0]).toBeGreaterThanOrEqual(Math.floor(restartedAt / 1_000) * 1_000);
      expectConsecutive(occurrences, 1_000);
      await up.client(ScheduleService).deleteSchedule({ scheduleId: id });
    } finally {
      if (up) await closeChecked(up);
      await closeChecked(down);
    }
  });

  it("fires each occurrence exactly once across a server restart and with two replicas", async () => {
    const a = await h.startServer();
    const b = await h.startServer({ database: a.database });
    let c: TestAiki | undefined;
    try {
      const wf = workflowName();
      const aRuns = a.client(RunService);
      const { schedule } = await activate({ workflowName: wf }, a.client(ScheduleService));
      const id = schedule!.id;
      // Both replicas' timer loops wake for every occurrence and race to claim it.
      const before = await waitForRuns(wf, 3, { client: aRuns });
      await b.stopServer();
      c = await h.startServer({ database: a.database });
      await waitForRuns(wf, before.length + 2, { client: c.client(RunService) });
      await a.stopServer();
      // Only the replacement fires now.
      const final = await waitForRuns(wf, before.length + 4, { client: c.client(RunService) });
      await c.client(ScheduleService).pauseSchedule({ scheduleId: id });
      const all = await runsOf(wf, c.client(RunService));
      expect(all.length).toBeGreaterThanOrEqual(final.length);
      expect(new Set(all.map((r) => r.referenceId)).size).toBe(all.length);
      expectConsecutive(
        all.map((r) => occurrenceOf(r, id)),
        1_000,
      );
    } finally {
      if (c) await closeChecked(c);
      await closeChecked(b);
      await closeChecked(a);
    }
  });
});
