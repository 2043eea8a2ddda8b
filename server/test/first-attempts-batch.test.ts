// Many runs' StartTask calls in one statement (insertFirstAttemptsIfLeased, what the server's
// group commit sends): each is judged on its own, so a lost lease, a stale completion or a
// record already there in one changes nothing for the others, and nothing of its own lands.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { type Lease, WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { type FirstAttempt, insertFirstAttemptsIfLeased } from "../src/store/task-repository.js";
import { startTestAiki, type TestAiki } from "../../test/support/aiki-server.js";

let aiki: TestAiki;
let runs: Client<typeof RunService>;
let leases: Client<typeof WorkerLeaseService>;
let tasks: Client<typeof TaskService>;

beforeAll(async () => {
  aiki = await startTestAiki();
  runs = aiki.client(RunService);
  leases = aiki.client(WorkerLeaseService);
  tasks = aiki.client(TaskService);
});
afterAll(async () => {
  await aiki?.close();
});

async function leased(n: number): Promise<Lease[]> {
  const name = `batch-${Math.random().toString(36).slice(2)}`;
  for (let i = 0; i < n; i++) await runs.startRun({ workflowName: name, workflowVersionId: "1" });
  const { leases: got } = await leases.pollLeases({ workerId: "w", workflows: [{ workflowName: name, workflowVersionId: "1" }], maxLeases: n, wait: durationFromMs(5_000) });
  expect(got).toHaveLength(n);
  return got;
}

const attempt = (lease: Lease, name: string, completions: FirstAttempt["completions"] = []): FirstAttempt => ({
  lease: { namespace: "default", runId: lease.run!.id, leaseToken: lease.leaseToken },
  task: { name, address: `${name}:x`, sequence: 0, input: { n: name }, maxAttempts: 3 },
  completions,
});

describe("insertFirstAttemptsIfLeased", () => {
  it("answers each call of a mixed batch as it would alone", async () => {
    const [ok, withDone, stale, lost, taken] = await leased(5);
    const done = (await tasks.startTask({ runId: withDone!.run!.id, leaseToken: withDone!.leaseToken, name: "a", address: "a:x", maxAttempts: 1 })).task!;
    const staleTask = (await tasks.startTask({ runId: stale!.run!.id, leaseToken: stale!.leaseToken, name: "a", address: "a:x", maxAttempts: 1 })).task!;
    await tasks.startTask({ runId: taken!.run!.id, leaseToken: taken!.leaseToken, name: "b", address: "b:x", maxAttempts: 1 });
    await runs.cancelRun({ runId: lost!.run!.id });

    const answers = await insertFirstAttemptsIfLeased(aiki.deps.db, [
      attempt(ok!, "b"),
      attempt(withDone!, "b", [{ taskId: done.id, attempt: 1, output: "A" }]),
      attempt(stale!, "b", [{ taskId: staleTask.id, attempt: 2, output: "A" }]),
      attempt(lost!, "b"),
      attempt(taken!, "b"),
    ]);
    expect(answers.map((t) => (t ? [t.run_id, t.name, t.status, t.attempts, t.input] : undefined))).toEqual([
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
    const [task] = await insertFirstAttemptsIfLeased(aiki.deps.db, [attempt(one!, "solo")]);
    expect(task?.name).toBe("solo");
  });
});
