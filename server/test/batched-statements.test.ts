// Many runs' calls in one statement (what the server's group commit sends: StartTask through
// insertFirstAttemptsIfLeased, CompleteRun through completeLeasedRunsWithoutParent, StartRun
// through insertRunsUnlessTaken): each is judged on its own, so a lost lease, a stale completion,
// a record or key already there in one changes nothing for the others, and nothing of its own
// lands.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { taskAddress } from "../src/engine/canonical-json.js";
import { TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { type Lease, WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { completeLeasedRunsWithoutParent, type LeasedCompletion, type NewSleep, suspendOnNewSleepsIfLeased } from "../src/store/lease-repository.js";
import { findRunsByIds, insertRunsUnlessTaken, type QueuedRunStart } from "../src/store/run-repository.js";
import { type FirstAttempt, insertFirstAttemptsIfLeased } from "../src/store/task-repository.js";
import { uuidV7 } from "../src/store/uuid-v7.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki();
let aiki: TestAiki;
let runs: Client<typeof RunService>;
let leases: Client<typeof WorkerLeaseService>;
let tasks: Client<typeof TaskService>;

beforeAll(() => {
  aiki = h.aiki;
  runs = aiki.client(RunService);
  leases = aiki.client(WorkerLeaseService);
  tasks = aiki.client(TaskService);
});

async function leased(n: number): Promise<Lease[]> {
  const name = `batch-${Math.random().toString(36).slice(2)}`;
  for (let i = 0; i < n; i++) await runs.startRun({ workflowName: name, workflowVersionId: "1" });
  const { leases: got } = await leases.pollLeases({
    workerId: "w",
    workflows: [{ workflowName: name, workflowVersionId: "1" }],
    maxLeases: n,
    wait: durationFromMs(5_000),
  });
  expect(got).toHaveLength(n);
  return got;
}

const attempt = (lease: Lease, name: string, completions: FirstAttempt["completions"] = [], started: FirstAttempt["started"] = []): FirstAttempt => ({
  lease: { namespace: "default", runId: lease.run!.id, leaseToken: lease.leaseToken },
  task: { name, address: taskAddress(name, { n: name }), sequence: 0, input: { n: name }, maxAttempts: 3 },
  completions,
  started,
});

describe("insertFirstAttemptsIfLeased", () => {
  it("answers each call of a mixed batch as it would alone", async () => {
    const [ok, withDone, stale, lost, taken] = await leased(5);
    const done = (
      await tasks.startTask({ runId: withDone!.run!.id, leaseToken: withDone!.leaseToken, name: "a", address: taskAddress("a", undefined), maxAttempts: 1 })
    ).task!;
    const staleTask = (
      await tasks.startTask({ runId: stale!.run!.id, leaseToken: stale!.leaseToken, name: "a", address: taskAddress("a", undefined), maxAttempts: 1 })
    ).task!;
    await tasks.startTask({
      runId: taken!.run!.id,
      leaseToken: taken!.leaseToken,
      name: "b",
      address: taskAddress("b", { n: "b" }),
      input: { kind: { case: "structValue", value: { fields: { n: { kind: { case: "stringValue", value: "b" } } } } } },
      maxAttempts: 1,
    });
    await runs.cancelRun({ runId: lost!.run!.id });

    const answers = await insertFirstAttemptsIfLeased(aiki.deps.db, [
      attempt(ok!, "b"),
      attempt(withDone!, "b", [{ taskId: done.id, attempt: 1, output: "A" }]),
      attempt(stale!, "b", [{ taskId: staleTask.id, attempt: 2, output: "A" }]),
      attempt(lost!, "b"),
      attempt(taken!, "b"),
    ]);
    expect(answers.map((a) => (a ? [a.task.run_id, a.task.name, a.task.status, a.task.attempts, a.task.input] : undefined))).toEqual([
      [ok!.run!.id, "b", "running", 1, { n: "b" }],
      [withDone!.run!.id, "b", "running", 1, { n: "b" }],
      undefined,
      undefined,
      undefined,
    ]);
    const list = async (lease: Lease) => (await tasks.listTasks({ runId: lease.run!.id })).tasks.map((t) => [t.name, t.status, t.output?.kind.value]);
    // The carried completion landed with its call; the stale one's call wrote nothing.
    expect(await list(withDone!)).toEqual([
      ["a", TaskStatus.COMPLETED, "A"],
      ["b", TaskStatus.RUNNING, undefined],
    ]);
    expect(await list(stale!)).toEqual([["a", TaskStatus.RUNNING, undefined]]);
    expect(await list(lost!)).toEqual([]);
    expect(await list(taken!)).toEqual([["b", TaskStatus.RUNNING, undefined]]);
  });

  it("takes an empty completion list and a batch of one", async () => {
    const [one] = await leased(1);
    const [answer] = await insertFirstAttemptsIfLeased(aiki.deps.db, [attempt(one!, "solo")]);
    expect(answer?.task.name).toBe("solo");
  });
});

const completion = (
  lease: Lease,
  output: unknown,
  completions: LeasedCompletion["completions"] = [],
  started: LeasedCompletion["started"] = [],
): LeasedCompletion => ({
  lease: { namespace: "default", runId: lease.run!.id, leaseToken: lease.leaseToken },
  output: output as LeasedCompletion["output"],
  completions,
  started,
});

describe("completeLeasedRunsWithoutParent", () => {
  it("answers each CompleteRun of a mixed batch as it would alone", async () => {
    const [ok, withDone, stale, lost] = await leased(4);
    const done = (
      await tasks.startTask({ runId: withDone!.run!.id, leaseToken: withDone!.leaseToken, name: "a", address: taskAddress("a", undefined), maxAttempts: 1 })
    ).task!;
    const staleTask = (
      await tasks.startTask({ runId: stale!.run!.id, leaseToken: stale!.leaseToken, name: "a", address: taskAddress("a", undefined), maxAttempts: 1 })
    ).task!;
    await runs.cancelRun({ runId: lost!.run!.id });

    const answers = await completeLeasedRunsWithoutParent(aiki.deps.db, [
      completion(ok!, { v: 1 }),
      completion(withDone!, "out", [{ taskId: done.id, attempt: 1, output: "A" }]),
      completion(stale!, "out", [{ taskId: staleTask.id, attempt: 2, output: "A" }]),
      completion(lost!, "out"),
      // The same run twice: the first completes it, the second is left to the slow path.
      completion(ok!, { v: 2 }),
    ]);
    expect(answers.map((r) => (r ? [r.id, r.status, r.output, r.revision, r.lease_token, r.previous_worker_id] : undefined))).toEqual([
      [ok!.run!.id, "completed", { v: 1 }, 3, null, "w"],
      [withDone!.run!.id, "completed", "out", 3, null, "w"],
      undefined,
      undefined,
      undefined,
    ]);
    const status = async (lease: Lease) => (await runs.getRun({ runId: lease.run!.id })).run?.status;
    expect(await status(stale!)).toBe(RunStatus.RUNNING);
    expect((await tasks.listTasks({ runId: stale!.run!.id })).tasks.map((t) => t.status)).toEqual([TaskStatus.RUNNING]);
    expect((await tasks.listTasks({ runId: withDone!.run!.id })).tasks.map((t) => [t.status, t.output?.kind.value])).toEqual([[TaskStatus.COMPLETED, "A"]]);
    const { transitions } = await runs.listRunTransitions({ runId: ok!.run!.id });
    expect(transitions.map((t) => [t.revision, t.toStatus, t.actor])).toEqual([
      [1, RunStatus.QUEUED, expect.any(String)],
      [2, RunStatus.RUNNING, "worker:w"],
      [3, RunStatus.COMPLETED, "worker:w"],
    ]);
  });
});

describe("insertRunsUnlessTaken", () => {
  const start = (name: string, more: Partial<QueuedRunStart["row"]> = {}, input: QueuedRunStart["input"] = { n: 1 }): QueuedRunStart => ({
    row: { namespace: "default", id: uuidV7(), workflow_name: name, workflow_version_id: "1", shard: "", ...more },
    input,
    retryPolicy: undefined,
    audit: { actor: "client", reason: "started" },
  });

  it("inserts each start whose keys are free, queued with its transition; the others are left to the slow path", async () => {
    const name = `starts-${Math.random().toString(36).slice(2)}`;
    const held = (await runs.startRun({ workflowName: name, workflowVersionId: "1", referenceId: "held" })).run!;
    const batch = [
      start(name),
      start(name, {}, null),
      start(name, { reference_id: "held" }),
      start(name, { reference_id: "twice" }),
      start(name, { reference_id: "twice" }),
    ];
    const answers = await insertRunsUnlessTaken(aiki.deps.db, batch);
    expect(answers.map((r) => (r ? [r.id, r.status, r.revision, r.input] : undefined))).toEqual([
      [batch[0]!.row.id, "queued", 1, { n: 1 }],
      [batch[1]!.row.id, "queued", 1, null],
      undefined,
      [batch[3]!.row.id, "queued", 1, { n: 1 }],
      undefined,
    ]);
    const { transitions } = await runs.listRunTransitions({ runId: batch[0]!.row.id });
    expect(transitions.map((t) => [t.revision, t.fromStatus, t.toStatus, t.actor, t.reason])).toEqual([
      [1, RunStatus.UNSPECIFIED, RunStatus.QUEUED, "client", "started"],
    ]);
    expect((await runs.getRun({ runId: held.id })).run?.referenceId).toBe("held");
    // Nothing was written for the refused ones.
    const { rows } = await aiki.deps.db
      .selectFrom("runs")
      .select("id")
      .where("id", "in", [batch[2]!.row.id, batch[4]!.row.id])
      .execute()
      .then((r) => ({ rows: r }));
    expect(rows).toEqual([]);
  });
});

describe("findRunsByIds", () => {
  it("answers each key with its run, or undefined for an unknown id or another namespace's run", async () => {
    const run = (await runs.startRun({ workflowName: `reads-${Math.random().toString(36).slice(2)}`, workflowVersionId: "1" })).run!;
    const answers = await findRunsByIds(aiki.deps.db, [
      { namespace: "default", id: run.id },
      { namespace: "default", id: uuidV7() },
      { namespace: "elsewhere", id: run.id },
      { namespace: "default", id: run.id },
    ]);
    expect(answers.map((r) => r?.id)).toEqual([run.id, undefined, undefined, run.id]);
  });
});

describe("suspendOnNewSleepsIfLeased", () => {
  const sleep = (lease: Lease, name: string, completions: NewSleep["completions"] = []): NewSleep => ({
    lease: { namespace: "default", runId: lease.run!.id, leaseToken: lease.leaseToken },
    sleep: { name, sequence: 0, durationMs: 60_000 },
    completions,
    started: [],
  });

  it("suspends each first sleep of a mixed batch as it would alone", async () => {
    const [ok, withDone, stale, lost, replayed] = await leased(5);
    const done = (
      await tasks.startTask({ runId: withDone!.run!.id, leaseToken: withDone!.leaseToken, name: "a", address: taskAddress("a", undefined), maxAttempts: 1 })
    ).task!;
    const staleTask = (
      await tasks.startTask({ runId: stale!.run!.id, leaseToken: stale!.leaseToken, name: "a", address: taskAddress("a", undefined), maxAttempts: 1 })
    ).task!;
    await runs.cancelRun({ runId: lost!.run!.id });
    // A zero sleep is recorded (completed) without suspending: the same name again is a replay.
    await leases.suspendRun({
      runId: replayed!.run!.id,
      leaseToken: replayed!.leaseToken,
      wait: { case: "sleep", value: { name: "nap", sequence: 0, duration: durationFromMs(0) } },
    });

    const before = Date.now();
    const answers = await suspendOnNewSleepsIfLeased(aiki.deps.db, [
      sleep(ok!, "nap"),
      sleep(withDone!, "nap", [{ taskId: done.id, attempt: 1, output: "A" }]),
      sleep(stale!, "nap", [{ taskId: staleTask.id, attempt: 2, output: "A" }]),
      sleep(lost!, "nap"),
      sleep(replayed!, "nap"),
      sleep(ok!, "other"),
    ]);
    expect(answers.map((r) => (r ? [r.id, r.status, r.lease_token, r.previous_worker_id] : undefined))).toEqual([
      [ok!.run!.id, "sleeping", null, "w"],
      [withDone!.run!.id, "sleeping", null, "w"],
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    const wake = answers[0]!.wake_time!.getTime();
    expect(wake).toBeGreaterThan(before + 55_000);
    expect(wake).toBeLessThan(Date.now() + 65_000);
    expect((await tasks.listTasks({ runId: withDone!.run!.id })).tasks.map((t) => [t.status, t.output?.kind.value])).toEqual([[TaskStatus.COMPLETED, "A"]]);
    expect((await runs.getRun({ runId: stale!.run!.id })).run?.status).toBe(RunStatus.RUNNING);
    expect((await runs.getRun({ runId: replayed!.run!.id })).run?.status).toBe(RunStatus.RUNNING);
    const { transitions } = await runs.listRunTransitions({ runId: ok!.run!.id });
    expect(transitions.at(-1)).toMatchObject({ fromStatus: RunStatus.RUNNING, toStatus: RunStatus.SLEEPING, actor: "worker:w", reason: "sleep nap" });
  });
});
