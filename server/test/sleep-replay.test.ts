// docs/semantics.md, Sleeps, through the raw worker contract: a replayed sleep (same name and
// sequence) with another duration is measured from the first suspension, so a longer one sleeps
// only the difference and a shorter one that has already passed returns at once.
import { durationFromMs, type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { SleepStatus } from "@aiki/gen/aiki/v1/history_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { type Lease, WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki();
let aiki: TestAiki;
let runs: Client<typeof RunService>;
let leases: Client<typeof WorkerLeaseService>;

beforeAll(() => {
  aiki = h.aiki;
  runs = aiki.client(RunService);
  leases = aiki.client(WorkerLeaseService);
});

async function startAndLease(): Promise<{ name: string; lease: Lease; relay: () => Promise<Lease> }> {
  const name = h.uniqueName("sleep-replay");
  await runs.startRun({ workflowName: name, workflowVersionId: "1" });
  const poll = async () => {
    const { leases: got } = await leases.pollLeases({
      workerId: "w-sleep",
      workerName: "sleep-test",
      workflows: [{ workflowName: name, workflowVersionId: "1" }],
      maxLeases: 1,
      wait: durationFromMs(5_000),
    });
    if (!got[0]) throw new Error("no lease");
    return got[0];
  };
  const lease = await poll();
  // Takes the run back from a sleep without ending it: pause and resume keep the open wait.
  const relay = async () => {
    const runId = lease.run!.id;
    await runs.pauseRun({ runId, reason: "re-lease" });
    await runs.resumeRun({ runId });
    return poll();
  };
  return { name, lease, relay };
}

const sleep = (lease: Lease, durationMs: number) =>
  leases.suspendRun({
    runId: lease.run!.id,
    leaseToken: lease.leaseToken,
    wait: { case: "sleep", value: { name: "nap", sequence: 0, duration: durationFromMs(durationMs) } },
  });

/** Exact: Postgres keeps microseconds, which the timestamps carry. */
const plus = (t: Timestamp, ms: number) => {
  const nanos = t.seconds * 1_000_000_000n + BigInt(t.nanos) + BigInt(ms) * 1_000_000n;
  return { seconds: nanos / 1_000_000_000n, nanos: Number(nanos % 1_000_000_000n) };
};
const exact = (t: Timestamp | undefined) => (t ? { seconds: t.seconds, nanos: t.nanos } : undefined);

describe("a replayed sleep with another duration", () => {
  it("longer: wakes at the first suspension's start plus the new duration, not at the replay plus it", async () => {
    const { lease, relay } = await startAndLease();
    const first = await sleep(lease, 60_000);
    expect(first.suspended).toBe(true);
    expect(first.run?.status).toBe(RunStatus.SLEEPING);
    // A suspended run's worker stops: no history comes back.
    expect(first.history).toBeUndefined();

    const again = await relay();
    // The sleep is still open in the replay's history, with its first start.
    expect(again.history?.sleeps.map((s) => [s.name, s.sequence, s.status])).toEqual([["nap", 0, SleepStatus.SLEEPING]]);
    const start = again.history!.sleeps[0]!.startTime!;
    expect(exact(first.run?.wakeTime)).toEqual(plus(start, 60_000));
    // Make sure a "now + duration" rule could not pass by accident.
    expect(Date.now()).toBeGreaterThan(timestampMs(start));

    const resized = await sleep(again, 90_000);
    expect(resized.suspended).toBe(true);
    expect(resized.run?.status).toBe(RunStatus.SLEEPING);
    expect(exact(resized.run?.wakeTime)).toEqual(plus(start, 90_000));
    expect((await runs.getRun({ runId: lease.run!.id })).run?.wakeTime).toEqual(resized.run?.wakeTime);
    const resizedRecord = (await relay()).history?.sleeps[0];
    expect(exact(resizedRecord?.startTime)).toEqual(exact(start));
    expect(exact(resizedRecord?.wakeTime)).toEqual(plus(start, 90_000));
    expect(resizedRecord?.duration?.seconds).toBe(90n);
  });

  it("shorter and already passed: returns at once as completed, and the lease holds", async () => {
    const { lease, relay } = await startAndLease();
    const first = await sleep(lease, 60_000);
    expect(first.suspended).toBe(true);
    const again = await relay();
    const start = again.history!.sleeps[0]!.startTime!;
    // 1 ms after the first start has passed by the time this replay suspends.
    const resized = await sleep(again, 1);
    expect(resized.suspended).toBe(false);
    expect(resized.run?.status).toBe(RunStatus.RUNNING);
    expect(resized.history?.sleeps.map((s) => [s.status, exact(s.startTime)])).toEqual([[SleepStatus.COMPLETED, exact(start)]]);
  });
});
