// TaskCompletion through the raw contract: a task's success carried by the run's next write
// (StartTask, SuspendRun, CompleteRun) is recorded in that write's transaction, idempotently per
// attempt; a stale one refuses the whole write and nothing of it lands.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { SleepStatus, TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { type Lease, WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { taskAddress } from "../src/engine/canonical-json.js";

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

const text = (s: string) => ({ kind: { case: "stringValue" as const, value: s } });

async function leased(): Promise<Lease> {
  const name = h.uniqueName("completions");
  await runs.startRun({ workflowName: name, workflowVersionId: "1" });
  const { leases: got } = await leases.pollLeases({
    workerId: "w",
    workflows: [{ workflowName: name, workflowVersionId: "1" }],
    maxLeases: 1,
    wait: durationFromMs(5_000),
  });
  return got[0]!;
}

const start = (lease: Lease, name: string, completedTasks: { taskId: string; attempt: number; output?: ReturnType<typeof text> }[] = [], attemptId?: string) =>
  tasks
    .startTask({ runId: lease.run!.id, leaseToken: lease.leaseToken, name, address: taskAddress(name, undefined), maxAttempts: 1, completedTasks, attemptId })
    .then((r) => r.task!);

const records = async (lease: Lease) => (await tasks.listTasks({ runId: lease.run!.id })).tasks.map((t) => [t.name, t.status, t.output?.kind.value]);

describe("completed_tasks", () => {
  it("StartTask records the earlier success first; repeating the call changes nothing", async () => {
    const lease = await leased();
    const a = await start(lease, "a");
    const b = await start(lease, "b", [{ taskId: a.id, attempt: a.attempts, output: text("A") }], "attempt-b1");
    expect(b.status).toBe(TaskStatus.RUNNING);
    expect(await records(lease)).toEqual([
      ["a", TaskStatus.COMPLETED, "A"],
      ["b", TaskStatus.RUNNING, undefined],
    ]);
    // A retry after a lost answer: same completion, same attempt id.
    const again = await start(lease, "b", [{ taskId: a.id, attempt: a.attempts, output: text("A") }], "attempt-b1");
    expect([again.id, again.attempts]).toEqual([b.id, 1]);
    expect(await records(lease)).toHaveLength(2);
  });

  it("a stale completion refuses the whole write: the new task is not recorded either", async () => {
    const lease = await leased();
    const a = await start(lease, "a");
    const refused = await start(lease, "b", [{ taskId: a.id, attempt: a.attempts + 1, output: text("A") }]).then(
      () => undefined,
      (e) => ConnectError.from(e),
    );
    expect(refused?.code).toBe(Code.FailedPrecondition);
    expect(refused?.rawMessage).toMatch(/stale/);
    expect(await records(lease)).toEqual([["a", TaskStatus.RUNNING, undefined]]);
  });

  it("SuspendRun records it in the suspension's transaction; CompleteRun records it with the run's end", async () => {
    const lease = await leased();
    const a = await start(lease, "a");
    const suspended = await leases.suspendRun({
      runId: lease.run!.id,
      leaseToken: lease.leaseToken,
      wait: { case: "sleep", value: { name: "nap", sequence: 0, duration: durationFromMs(0) } },
      completedTasks: [{ taskId: a.id, attempt: 1, output: text("A") }],
    });
    // A zero sleep is satisfied at once: the lease holds and the history shows both.
    expect(suspended.suspended).toBe(false);
    expect(suspended.history?.sleeps.map((s) => s.status)).toEqual([SleepStatus.COMPLETED]);
    expect(suspended.history?.tasks.map((t) => [t.name, t.status])).toEqual([["a", TaskStatus.COMPLETED]]);

    const b = await start(lease, "b");
    const done = await leases.completeRun({
      runId: lease.run!.id,
      leaseToken: lease.leaseToken,
      output: text("out"),
      completedTasks: [{ taskId: b.id, attempt: 1, output: text("B") }],
    });
    expect(done.run?.status).toBe(RunStatus.COMPLETED);
    expect(await records(lease)).toEqual([
      ["a", TaskStatus.COMPLETED, "A"],
      ["b", TaskStatus.COMPLETED, "B"],
    ]);
  });

  it("a first sleep suspends with the completions it carries; a stale one refuses it and writes nothing", async () => {
    const lease = await leased();
    const a = await start(lease, "a");
    const sleep = (completedTasks: { taskId: string; attempt: number; output?: ReturnType<typeof text> }[]) =>
      leases.suspendRun({
        runId: lease.run!.id,
        leaseToken: lease.leaseToken,
        wait: { case: "sleep", value: { name: "nap", sequence: 0, duration: durationFromMs(60_000) } },
        completedTasks,
      });
    const stale = await sleep([{ taskId: a.id, attempt: 2, output: text("A") }]).then(
      () => undefined,
      (e) => ConnectError.from(e),
    );
    expect(stale?.code).toBe(Code.FailedPrecondition);
    expect(stale?.rawMessage).toMatch(/stale/);
    expect((await runs.getRun({ runId: lease.run!.id })).run?.status).toBe(RunStatus.RUNNING);
    expect((await tasks.listTasks({ runId: lease.run!.id })).tasks.map((t) => t.status)).toEqual([TaskStatus.RUNNING]);

    const before = Date.now();
    const slept = await sleep([{ taskId: a.id, attempt: 1, output: text("A") }]);
    expect(slept.suspended).toBe(true);
    expect(slept.run?.status).toBe(RunStatus.SLEEPING);
    expect(slept.run?.leaseWorkerId).toBe("");
    const wake = Number(slept.run!.wakeTime!.seconds) * 1000;
    expect(wake).toBeGreaterThan(before + 55_000);
    expect(wake).toBeLessThan(Date.now() + 65_000);
    expect(await records(lease)).toEqual([["a", TaskStatus.COMPLETED, "A"]]);
    const { transitions } = await runs.listRunTransitions({ runId: lease.run!.id });
    expect(transitions.at(-1)).toMatchObject({ fromStatus: RunStatus.RUNNING, toStatus: RunStatus.SLEEPING, actor: "worker:w", reason: "sleep nap" });
    // The lease ended with the suspension: the old token writes nothing more.
    const late = await sleep([]).then(
      () => undefined,
      (e) => ConnectError.from(e),
    );
    expect(late?.code).toBe(Code.FailedPrecondition);
  });

  it("refuses a malformed completion with INVALID_ARGUMENT naming it", async () => {
    const lease = await leased();
    const refused = await start(lease, "a", [{ taskId: "nope", attempt: 0 }]).then(
      () => undefined,
      (e) => ConnectError.from(e),
    );
    expect(refused?.code).toBe(Code.InvalidArgument);
    expect(refused?.rawMessage).toMatch(/completed_tasks\[0\]\.task_id/);
    expect(refused?.rawMessage).toMatch(/completed_tasks\[0\]\.attempt/);
  });
});
