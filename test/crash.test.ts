// SPEC §4 by killing real processes: a worker killed mid-task, a server replica killed under
// load, Redis killed and restarted, Postgres restarted. Every acknowledged run completes.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { LeaseLostDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { inject } from "vitest";
import { startTestAiki, type TestAiki } from "./support/aiki-server.js";
import { createTestDatabase, startPrivatePostgres } from "./support/database.js";
import { startPrivateRedis } from "./support/redis.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";
import { startTcpProxy } from "./support/tcp-proxy.js";
import { startWorkerProcess, type WorkerProcess } from "./support/worker-process.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

type Runs = ReturnType<typeof createClient<typeof RunService>>;

async function waitAllCompleted(runs: Runs, ids: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const id of ids) {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) {
        const run = (await runs.getRun({ runId: id }).catch(() => undefined))?.run;
        const history = await runs.listRunTransitions({ runId: id }).catch(() => undefined);
        throw new Error(
          `run ${id} did not complete in time: ${run ? RunStatus[run.status] : "?"} lease=${run?.leaseWorkerId} ` +
            `transitions=${history?.transitions.map((t) => `${RunStatus[t.toStatus]}(${t.actor}:${t.reason})`).join(" > ")}`,
        );
      }
      const res = await runs
        .waitForRunStatus({ runId: id, status: RunStatus.COMPLETED, timeout: durationFromMs(Math.min(left, 30_000)) })
        .catch((error: unknown) => {
          // The server the call went to died, or Postgres is restarting: ask again.
          if (![Code.Unavailable, Code.Unknown, Code.Internal, Code.Canceled].includes(ConnectError.from(error).code)) throw error;
          return new Promise<undefined>((r) => setTimeout(() => r(undefined), 200));
        });
      if (!res) continue;
      expect(res.outcome, `run ${id} ended ${RunStatus[res.run!.status]}: ${res.run?.failure?.message}`).not.toBe(WaitForRunStatusResponse_Outcome.TERMINATED);
      if (res.outcome === WaitForRunStatusResponse_Outcome.REACHED) break;
    }
  }
}

/** Starts runs; returns the ids the server acknowledged. Refused starts (server down) are not acknowledged. */
async function startRuns(runs: Runs, count: number, tag: string, onEach?: (i: number) => Promise<void>): Promise<string[]> {
  const acknowledged: string[] = [];
  for (let i = 0; i < count; i++) {
    await onEach?.(i);
    try {
      const { run } = await runs.startRun({ workflowName: "load-steps", workflowVersionId: "1.0.0", input: { kind: { case: "structValue", value: { fields: { tag: { kind: { case: "stringValue", value: `${tag}-${i}` } } } } } } as never });
      acknowledged.push(run!.id);
    } catch (error) {
      expect(ConnectError.from(error).code).not.toBe(Code.InvalidArgument);
    }
  }
  return acknowledged;
}

describe("a worker killed mid-task", () => {
  it("the run completes on another worker, the killed attempt counts, the dead worker's late write is refused", { timeout: 90_000 }, async () => {
    const aiki: TestAiki = await startTestAiki();
    cleanups.push(() => aiki.close());
    const runs = aiki.client(RunService);
    const dying: WorkerProcess = await startWorkerProcess({ AIKI_URL: aiki.url, HANG_TASKS: "1", LEASE_TTL_MS: "1500", WORKER_NAME: "dying" });
    cleanups.push(() => dying.kill());

    const tag = `kill-${Date.now()}`;
    const { run } = await runs.startRun({ workflowName: "crash-slow", workflowVersionId: "1.0.0", input: { kind: { case: "structValue", value: { fields: { tag: { kind: { case: "stringValue", value: tag } } } } } } as never });
    await dying.waitForLine(new RegExp(`TASK_STARTED ${tag}`));
    const { rows } = await sql<{ lease_token: string }>`select lease_token from runs where id = ${run!.id}`.execute(aiki.deps.db);
    const oldToken = rows[0]!.lease_token;
    const [task] = (await aiki.client(TaskService).listTasks({ runId: run!.id })).tasks;

    await dying.kill("SIGKILL");
    const killedAt = Date.now();
    const rescuer = await startWorkerProcess({ AIKI_URL: aiki.url, LEASE_TTL_MS: "1500", WORKER_NAME: "rescuer" });
    cleanups.push(() => rescuer.kill());
    const resumed = await rescuer.waitForLine(new RegExp(`TASK_STARTED ${tag} pid=\\d+ t=(\\d+)`), 30_000);
    const resumeMs = Number(resumed[1]) - killedAt;
    console.log(JSON.stringify({ metric: "worker_death_to_resume_ms", value: resumeMs, leaseTtlMs: 1500 }));

    const res = await runs.waitForRunStatus({ runId: run!.id, status: RunStatus.COMPLETED, timeout: durationFromMs(30_000) });
    expect(res.outcome).toBe(WaitForRunStatusResponse_Outcome.REACHED);
    const [after] = (await aiki.client(TaskService).listTasks({ runId: run!.id })).tasks;
    expect(after?.attempts).toBe(2);

    const late = await aiki
      .client(TaskService)
      .completeTask({ runId: run!.id, leaseToken: oldToken, taskId: task!.id, attempt: 1, output: { kind: { case: "nullValue", value: 0 } } as never })
      .then(
        () => undefined,
        (e) => ConnectError.from(e),
      );
    expect(late?.code).toBe(Code.FailedPrecondition);
    expect(late?.findDetails(LeaseLostDetailSchema)[0]?.currentStatus).toBe(RunStatus.COMPLETED);
    const lateComplete = await aiki
      .client(WorkerLeaseService)
      .completeRun({ runId: run!.id, leaseToken: oldToken })
      .then(
        () => undefined,
        (e) => ConnectError.from(e),
      );
    expect(lateComplete?.code).toBe(Code.FailedPrecondition);
  });
});

describe("a server replica killed under load", () => {
  it("every run started and acknowledged completes; clients and workers move to the other replica", { timeout: 240_000 }, async () => {
    const database = await createTestDatabase();
    cleanups.push(() => database.destroy());
    const env = { DATABASE_URL: database.url, REDIS_URL: inject("redisUrl") };
    const a: ServerProcess = await startServerProcess(env);
    cleanups.push(() => a.stop("SIGKILL"));
    const b: ServerProcess = await startServerProcess(env);
    cleanups.push(() => b.stop("SIGKILL"));
    const backends = [a, b].map((s) => ({ host: "127.0.0.1", port: Number(new URL(s.url).port) }));
    const proxy = await startTcpProxy(backends);
    cleanups.push(() => proxy.close());
    const workers = await Promise.all([1, 2].map((i) => startWorkerProcess({ AIKI_URL: proxy.url, LEASE_TTL_MS: "3000", WORKER_NAME: `w${i}` })));
    for (const w of workers) cleanups.push(() => w.kill());
    const runs = createClient(RunService, createGrpcTransport({ baseUrl: proxy.url }));

    const acknowledged = await startRuns(runs, 80, "replica", async (i) => {
      if (i === 30) await a.stop("SIGKILL");
    });
    expect(acknowledged.length).toBeGreaterThan(60);
    await waitAllCompleted(runs, acknowledged, 180_000);
  });
});

describe("Redis killed during runs and restarted", () => {
  it("every run completes", { timeout: 90_000 }, async () => {
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.destroy());
    const aiki = await startTestAiki({ redisUrl: redis.url });
    cleanups.push(() => aiki.close());
    const worker = await startWorkerProcess({ AIKI_URL: aiki.url });
    cleanups.push(() => worker.kill());
    const runs = aiki.client(RunService);
    const first = await startRuns(runs, 20, "redis-a");
    await redis.stop();
    const during = await startRuns(runs, 20, "redis-b");
    await new Promise((r) => setTimeout(r, 1_000));
    await redis.start();
    const after = await startRuns(runs, 20, "redis-c");
    expect(first.length + during.length + after.length).toBe(60);
    await waitAllCompleted(runs, [...first, ...during, ...after], 60_000);
  });
});

describe("Postgres restarted during runs", () => {
  it("the server reconnects and every acknowledged run completes", { timeout: 120_000 }, async () => {
    const pg = await startPrivatePostgres();
    cleanups.push(() => pg.destroy());
    const aiki = await startTestAiki({ databaseUrl: pg.url });
    cleanups.push(() => aiki.close());
    const worker = await startWorkerProcess({ AIKI_URL: aiki.url });
    cleanups.push(() => worker.kill());
    const runs = aiki.client(RunService);
    const before = await startRuns(runs, 30, "pg-a");
    await pg.restart("immediate");
    const after = await startRuns(runs, 30, "pg-b");
    expect(before.length).toBe(30);
    await waitAllCompleted(runs, [...before, ...after], 90_000);
  });
});
