// docs/semantics.md, Crash safety, by killing real processes (SIGKILL): a worker killed mid-task, a
// server replica killed under load, Redis killed and restarted, Postgres killed and restarted under
// a server process, a server killed under a running cron schedule. Every acknowledged run
// completes; every schedule occurrence starts exactly one run.
import { durationFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { readFileSync } from "node:fs";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { LeaseLostDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import type { Task } from "@aiki/gen/aiki/v1/history_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import { ScheduleService, ScheduleStatus } from "@aiki/gen/aiki/v1/schedule_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { inject } from "vitest";
import type { TestAiki } from "./support/aiki-server.js";
import { createTestDatabase, startPrivatePostgres, testKysely } from "./support/database.js";
import { startPrivateRedis } from "./support/redis.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";
import { postgresClusterState, processGone, redisPing } from "./support/servers.js";
import { startTcpProxy } from "./support/tcp-proxy.js";
import { useTestAiki } from "./support/use-test-aiki.js";
import { startWorkerProcess, type WorkerProcess } from "./support/worker-process.js";

// Per test: its servers, processes and databases, undone last first; a database's run transitions
// checked as it is dropped.
const h = useTestAiki({ per: "each", server: false });

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
      const { run } = await runs.startRun({
        workflowName: "load-steps",
        workflowVersionId: "1.0.0",
        input: { kind: { case: "structValue", value: { fields: { tag: { kind: { case: "stringValue", value: `${tag}-${i}` } } } } } } as never,
      });
      acknowledged.push(run!.id);
    } catch (error) {
      expect(ConnectError.from(error).code).not.toBe(Code.InvalidArgument);
    }
  }
  return acknowledged;
}

describe("a task that kills its worker", () => {
  it("counts an attempt for every worker it kills, though it runs as soon as its StartTask is sent, and fails the run once its budget is spent", {
    timeout: 90_000,
  }, async () => {
    const aiki: TestAiki = await h.startServer();
    const runs = aiki.client(RunService);
    const tag = `poison-${Date.now()}`;
    const { run } = await runs.startRun({
      workflowName: "crash-poison",
      workflowVersionId: "1.0.0",
      input: { kind: { case: "structValue", value: { fields: { tag: { kind: { case: "stringValue", value: tag } } } } } } as never,
    });
    // Two attempts (maxAttempts 2), two workers killed by the task itself; each dies without
    // answering anything, so its lease has to expire before the next worker gets the run.
    for (const name of ["first", "second"]) {
      const w = await startWorkerProcess({ AIKI_URL: aiki.url, LEASE_TTL_MS: "1500", WORKER_NAME: name });
      h.defer(() => w.kill());
      await w.waitForLine(new RegExp(`TASK_STARTED ${tag}`), 30_000);
      await h.until(() => processGone(w.pid), { timeoutMs: 10_000, what: `worker ${name} killed by its task` });
    }
    // The third worker finds both attempts counted: the task is not run again; the run fails.
    const third = await startWorkerProcess({ AIKI_URL: aiki.url, LEASE_TTL_MS: "1500", WORKER_NAME: "third" });
    h.defer(() => third.kill());
    const res = await runs.waitForRunStatus({ runId: run!.id, status: RunStatus.COMPLETED, timeout: durationFromMs(30_000) });
    expect(res.outcome).toBe(WaitForRunStatusResponse_Outcome.TERMINATED);
    expect(res.run?.status).toBe(RunStatus.FAILED);
    const [task] = (await aiki.client(TaskService).listTasks({ runId: run!.id })).tasks;
    expect([task?.attempts, task?.failure?.message]).toEqual([2, "attempt 2 of 2 was lost: its worker stopped while running it"]);
    expect(processGone(third.pid)).toBe(false);
  });
});

describe("a worker killed mid-task", () => {
  it("the run completes on another worker, the killed attempt counts, the dead worker's late write is refused", { timeout: 90_000 }, async () => {
    const aiki: TestAiki = await h.startServer();
    const runs = aiki.client(RunService);
    const dying: WorkerProcess = await startWorkerProcess({ AIKI_URL: aiki.url, HANG_TASKS: "1", LEASE_TTL_MS: "1500", WORKER_NAME: "dying" });
    h.defer(() => dying.kill());

    const tag = `kill-${Date.now()}`;
    const { run } = await runs.startRun({
      workflowName: "crash-slow",
      workflowVersionId: "1.0.0",
      input: { kind: { case: "structValue", value: { fields: { tag: { kind: { case: "stringValue", value: tag } } } } } } as never,
    });
    await dying.waitForLine(new RegExp(`TASK_STARTED ${tag}`));
    const { rows } = await sql<{ lease_token: string }>`select lease_token from runs where id = ${run!.id}`.execute(aiki.deps.db);
    const oldToken = rows[0]!.lease_token;
    // The worker runs a fresh task once its StartTask is sent (pipelining), so the record may
    // still be committing: the kill comes once it is there, so the attempt it counted is known.
    let task: Task | undefined;
    await h.until(
      async () => {
        [task] = (await aiki.client(TaskService).listTasks({ runId: run!.id })).tasks;
        return task !== undefined;
      },
      { what: "the task's StartTask recorded" },
    );
    // The rescuer is up and waiting for work before the kill, so the time measured below is the
    // lease expiry and the hand-over, not a Node process starting.
    const rescuer = await startWorkerProcess({ AIKI_URL: aiki.url, LEASE_TTL_MS: "1500", WORKER_NAME: "rescuer" });
    h.defer(() => rescuer.kill());

    await dying.kill("SIGKILL");
    const killedAt = Date.now();
    expect(processGone(dying.pid)).toBe(true);
    const resumed = await rescuer.waitForLine(new RegExp(`TASK_STARTED ${tag} pid=(\\d+) t=(\\d+)`), 30_000);
    expect(Number(resumed[1])).toBe(rescuer.pid);
    const resumeMs = Number(resumed[2]) - killedAt;
    console.log(JSON.stringify({ metric: "worker_death_to_resume_ms", value: resumeMs, leaseTtlMs: 1500 }));

    const res = await runs.waitForRunStatus({ runId: run!.id, status: RunStatus.COMPLETED, timeout: durationFromMs(30_000) });
    expect(res.outcome).toBe(WaitForRunStatusResponse_Outcome.REACHED);
    const [after] = (await aiki.client(TaskService).listTasks({ runId: run!.id })).tasks;
    expect(after?.attempts).toBe(2);
    // It moved on because the dead worker's lease expired (nothing else requeues a running run).
    const { transitions } = await runs.listRunTransitions({ runId: run!.id });
    expect(transitions.filter((t) => t.fromStatus === RunStatus.RUNNING && t.toStatus === RunStatus.QUEUED).map((t) => [t.actor, t.reason])).toEqual([
      ["timer", "lease expired"],
    ]);

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
    h.defer(() => database.destroy());
    const env = { DATABASE_URL: database.url, REDIS_URL: inject("redisUrl") };
    const a: ServerProcess = await startServerProcess(env);
    h.defer(() => a.stop("SIGKILL"));
    const b: ServerProcess = await startServerProcess(env);
    h.defer(() => b.stop("SIGKILL"));
    const backends = [a, b].map((s) => ({ host: "127.0.0.1", port: Number(new URL(s.url).port) }));
    const proxy = await startTcpProxy(backends);
    h.defer(() => proxy.close());
    const workers = await Promise.all([1, 2].map((i) => startWorkerProcess({ AIKI_URL: proxy.url, LEASE_TTL_MS: "3000", WORKER_NAME: `w${i}` })));
    for (const w of workers) h.defer(() => w.kill());
    const runs = createClient(RunService, createGrpcTransport({ baseUrl: proxy.url }));

    const acknowledged = await startRuns(runs, 80, "replica", async (i) => {
      if (i === 30) await a.stop("SIGKILL");
    });
    expect(acknowledged.length).toBeGreaterThan(60);
    await waitAllCompleted(runs, acknowledged, 180_000);
  });
});

describe("Redis killed during runs and restarted", () => {
  it("every run completes: while Redis is dead (slow re-reads) and after it is back on the same port", { timeout: 120_000 }, async () => {
    const redis = await startPrivateRedis();
    h.defer(() => redis.destroy());
    const aiki = await h.startServer({ redisUrl: redis.url });
    const worker = await startWorkerProcess({ AIKI_URL: aiki.url });
    h.defer(() => worker.kill());
    const runs = aiki.client(RunService);
    const first = await startRuns(runs, 20, "redis-a");
    const { pid, port } = redis.server;
    await redis.kill();
    expect(processGone(pid)).toBe(true);
    expect(await redisPing("127.0.0.1", port)).toBe(false);
    const during = await startRuns(runs, 20, "redis-b");
    expect(first.length + during.length).toBe(40);
    // With Redis dead no hint reaches anyone: these complete by the server's slow re-reads alone.
    await waitAllCompleted(runs, [...first, ...during], 90_000);
    expect(await redisPing("127.0.0.1", port)).toBe(false);
    await redis.start();
    expect(redis.server.port).toBe(port);
    const after = await startRuns(runs, 20, "redis-c");
    expect(after.length).toBe(20);
    await waitAllCompleted(runs, after, 60_000);
  });
});

describe("Postgres killed during runs and restarted", () => {
  it("the server process reconnects and every acknowledged run completes", { timeout: 150_000 }, async () => {
    const pg = await startPrivatePostgres();
    h.defer(() => pg.destroy());
    const server = await startServerProcess({ DATABASE_URL: pg.url, REDIS_URL: inject("redisUrl") });
    h.defer(() => server.stop("SIGKILL"));
    const worker = await startWorkerProcess({ AIKI_URL: server.url });
    h.defer(() => worker.kill());
    const runs = createClient(RunService, createGrpcTransport({ baseUrl: server.url }));
    const before = await startRuns(runs, 30, "pg-a");
    expect(before.length).toBe(30);

    const { postmaster, children } = await pg.kill();
    // The server's pool had backends open: they died with the postmaster.
    expect(children.length).toBeGreaterThan(0);
    // Killed, not shut down: the control file still says "in production", so start runs crash recovery.
    expect(await postgresClusterState(pg.server)).toBe("in production");
    const refused = await runs.startRun({ workflowName: "load-steps", workflowVersionId: "1.0.0" }).then(
      () => undefined,
      (e) => ConnectError.from(e),
    );
    expect(refused?.code).toBe(Code.Unavailable);

    await pg.start();
    expect(pg.pid()).not.toBe(postmaster);
    expect(readFileSync(pg.server.logFile, "utf8")).toMatch(/database system was not properly shut down; automatic recovery in progress/);
    const restartedAt = Date.now();
    const after = await startRuns(runs, 30, "pg-b");
    expect(after.length).toBe(30);
    await waitAllCompleted(runs, [...before, ...after], 120_000);
    const pgDb = testKysely(pg.url, 1);
    try {
      const { rows } = await sql<{
        reason: string;
        n: number;
      }>`select reason, count(*)::int as n from run_transitions where from_status = 'running' and to_status = 'queued' group by reason`.execute(pgDb);
      console.log(JSON.stringify({ restart_to_all_completed_ms: Date.now() - restartedAt, requeued_from_running: rows }));
    } finally {
      await pgDb.destroy();
    }
    // The same server process throughout: it reconnected rather than restarted.
    expect(server.child.exitCode).toBeNull();
    expect(server.child.signalCode).toBeNull();
  });
});

describe("a cron schedule across a server restart", () => {
  it("fires every occurrence exactly once: two server processes, one SIGKILLed and started again", { timeout: 120_000 }, async () => {
    const database = await createTestDatabase();
    h.defer(() => database.destroy());
    const db = testKysely(database.url, 2);
    h.defer(() => db.destroy());
    // debug: each server logs the occurrences it fired ("schedule fired").
    const env = { DATABASE_URL: database.url, REDIS_URL: inject("redisUrl"), AIKI_LOG_LEVEL: "debug" };
    const a1: ServerProcess = await startServerProcess(env);
    h.defer(() => a1.stop("SIGKILL"));
    const b: ServerProcess = await startServerProcess(env);
    h.defer(() => b.stop("SIGKILL"));
    const schedules = createClient(ScheduleService, createGrpcTransport({ baseUrl: b.url }));
    const wf = `cron-restart-${Date.now()}`;
    // Six fields, seconds first: every second (server/src/domain/schedule-spec.ts, croner "5-or-6-parts").
    const { schedule } = await schedules.activateSchedule({
      workflowName: wf,
      workflowVersionId: "1",
      spec: { spec: { case: "cron", value: { expression: "* * * * * *", timezone: "" } } },
    });
    const id = schedule!.id;
    const prefix = `schedule:${id}:`;
    const occurrences = async () => {
      const rows = await db.selectFrom("runs").select(["reference_id"]).where("workflow_name", "=", wf).execute();
      return rows.map((r: { reference_id: string | null }) => r.reference_id ?? "");
    };
    const waitForRuns = async (count: number, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const refs = await occurrences();
        if (refs.length >= count) return refs.length;
        if (Date.now() > deadline) throw new Error(`expected ${count} runs of ${wf}, found ${refs.length}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    const firedBy = (server: ServerProcess) =>
      [...server.output().matchAll(/"occurrence":"([^"]+)","outcome":"started"[^\n]*"msg":"schedule fired"/g)].map((m) => m[1]!);
    // Both servers race for each occurrence: run until each has won at least one (which one wins
    // a given occurrence is chance), so the kill interrupts a server that was really firing.
    const bothFiring = Date.now() + 30_000;
    while (firedBy(a1).length === 0 || firedBy(b).length === 0 || (await occurrences()).length < 3) {
      if (Date.now() > bothFiring) throw new Error(`in 30 s server A fired ${firedBy(a1).length} occurrences and B ${firedBy(b).length}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const beforeKill = (await occurrences()).length;
    expect(await a1.stop("SIGKILL")).toBeNull();
    expect(processGone(a1.child.pid!)).toBe(true);
    // B alone fires while A is dead.
    const whileDead = await waitForRuns(beforeKill + 2);
    const a2 = await startServerProcess(env);
    h.defer(() => a2.stop("SIGKILL"));
    // Both race for each occurrence again until the restarted A has fired some itself.
    const deadline = Date.now() + 30_000;
    while (firedBy(a2).length < 2 || (await occurrences()).length < whileDead + 4) {
      if (Date.now() > deadline) throw new Error(`the restarted server fired ${firedBy(a2).length} occurrences`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const paused = await schedules.pauseSchedule({ scheduleId: id });
    expect(paused.schedule?.status).toBe(ScheduleStatus.PAUSED);

    const refs = await occurrences();
    expect(
      refs.every((r) => r.startsWith(prefix)),
      refs.join(" "),
    ).toBe(true);
    const times = refs.map((r) => r.slice(prefix.length));
    for (const t of times) expect(new Date(t).toISOString()).toBe(t);
    const sorted = times.map((t) => Date.parse(t)).sort((x, y) => x - y);
    expect(new Set(sorted).size, "no occurrence has two runs").toBe(sorted.length);
    // A firing that finds occurrences missed skips them and logs it; that would show as a gap below.
    for (const server of [a1, b, a2]) expect(server.output()).not.toContain("schedule fired late");
    expect(
      sorted.slice(1).map((t, i) => t - sorted[i]!),
      `occurrences ${times.sort().join(" ")}`,
    ).toEqual(sorted.slice(1).map(() => 1_000));
    // From the first occurrence after activation to the last one fired before the pause.
    expect(sorted[0]).toBe(timestampMs(schedule!.nextTime!));
    expect(sorted.at(-1)).toBe(timestampMs(paused.schedule!.lastTime!));
    // No server reports starting an occurrence another one started (a1's log may lack its last
    // firing: it was killed between a commit and the log line).
    const logged = [a1, b, a2].flatMap(firedBy).map((t) => Date.parse(t));
    expect(new Set(logged).size).toBe(logged.length);
    for (const t of logged) expect(sorted).toContain(t);
    expect(firedBy(a1).length).toBeGreaterThan(0);
    expect(firedBy(b).length).toBeGreaterThan(0);
    console.log(
      JSON.stringify({ occurrences: sorted.length, firedByA: firedBy(a1).length, firedByB: firedBy(b).length, firedByRestartedA: firedBy(a2).length }),
    );
  });
});
