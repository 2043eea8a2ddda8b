// The server survives its dependencies restarting: Postgres (reconnects; answers UNAVAILABLE
// while it is down, never INTERNAL) and Redis (work goes on by slow re-reads, push returns
// when Redis is back).
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { type PrivatePostgres, startPrivatePostgres } from "../../test/support/database.js";
import { type PrivateRedis, startPrivateRedis } from "../../test/support/redis.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki({ server: false });

describe("Postgres restart", () => {
  it("the server answers UNAVAILABLE while Postgres is down and serves again once it is back", { timeout: 60_000 }, async () => {
    const pg: PrivatePostgres = await startPrivatePostgres();
    h.defer(() => pg.destroy());
    const aiki: TestAiki = await h.startServer({ databaseUrl: pg.url });
    const runs = aiki.client(RunService);
    const before = (await runs.startRun({ workflowName: "w", workflowVersionId: "1" })).run!;

    await pg.stop("immediate");
    const down = await runs.getRun({ runId: before.id }).then(
      () => undefined,
      (e) => ConnectError.from(e),
    );
    expect(down?.code).toBe(Code.Unavailable);

    await pg.start();
    // The pool's dead connections are replaced on use: the first call after the restart works.
    expect((await runs.getRun({ runId: before.id })).run?.status).toBe(RunStatus.QUEUED);
    const after = (await runs.startRun({ workflowName: "w", workflowVersionId: "1" })).run!;
    expect(after.status).toBe(RunStatus.QUEUED);
    // Timers keep firing after the outage.
    const delayed = (await runs.startRun({ workflowName: "w", workflowVersionId: "1", trigger: { when: { case: "delay", value: durationFromMs(200) } } })).run!;
    const res = await runs.waitForRunStatus({ runId: delayed.id, status: RunStatus.QUEUED, timeout: durationFromMs(15_000) });
    expect(res.run?.status).toBe(RunStatus.QUEUED);
  });
});

describe("Redis restart", () => {
  it("a waiting poll still gets work while Redis is down, and hints push again once it is back", { timeout: 60_000 }, async () => {
    const redis: PrivateRedis = await startPrivateRedis();
    h.defer(() => redis.destroy());
    const aiki = await h.startServer({ redisUrl: redis.url });
    const runs = aiki.client(RunService);
    const leases = aiki.client(WorkerLeaseService);
    const poll = () =>
      leases.pollLeases({ workerId: "w", workflows: [{ workflowName: "r", workflowVersionId: "1" }], maxLeases: 1, wait: durationFromMs(20_000) });

    await redis.stop();
    const polling = poll();
    await new Promise((r) => setTimeout(r, 100));
    await runs.startRun({ workflowName: "r", workflowVersionId: "1" });
    // No hint can arrive: the poll's own re-read (every 2 s) finds the run.
    expect((await polling).leases).toHaveLength(1);

    await redis.start();
    // Once the notifier has reconnected and resubscribed, started runs reach a waiting poll by
    // hint: three pickups in a row under 300 ms (the re-read alone is every 2 s, so luck cannot
    // pass this).
    const deadline = Date.now() + 20_000;
    let streak = 0;
    while (streak < 3 && Date.now() < deadline) {
      const pending = poll();
      await new Promise((r) => setTimeout(r, 100));
      const startedAt = performance.now();
      await runs.startRun({ workflowName: "r", workflowVersionId: "1" });
      expect((await pending).leases).toHaveLength(1);
      streak = performance.now() - startedAt < 300 ? streak + 1 : 0;
    }
    const fast = streak === 3;
    expect(fast).toBe(true);
  });
});
