// GET /metrics, /healthz and /readyz on the API port: counters move while runs are started,
// leased, worked on and finished; readiness fails while Postgres is down.
import { fromJson } from "@bufbuild/protobuf";
import { durationFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import { type Client, ConnectError } from "@connectrpc/connect";
import { pino } from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { FailureSchema } from "@aiki/gen/aiki/v1/payload_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { type Lease, WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { create } from "@bufbuild/protobuf";
import { createServer } from "../../server/src/app.js";
import { openDependencies } from "../../server/src/dependencies.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { startPrivatePostgres } from "../../test/support/database.js";
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

/** One scrape, as `curl /metrics` sees it. */
async function scrape(baseUrl = aiki.url): Promise<Samples> {
  const res = await fetch(`${baseUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return new Samples(await res.text());
}

/** The samples of a Prometheus text exposition: value(name, labels) sums every matching series. */
class Samples {
  readonly series: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  constructor(readonly text: string) {
    for (const line of text.split("\n")) {
      if (line === "" || line.startsWith("#")) continue;
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`unparsable metrics line: ${line}`);
      const labels: Record<string, string> = {};
      for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
      this.series.push({ name: m[1]!, labels, value: Number(m[3]) });
    }
  }
  value(name: string, labels: Record<string, string> = {}): number {
    return this.series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
  }
  has(name: string): boolean {
    return this.series.some((s) => s.name === name);
  }
}

const json = (v: unknown) => fromJson(ValueSchema, v as never);

function workflow() {
  const name = h.uniqueName("metrics-wf");
  return {
    name,
    start: () => runs.startRun({ workflowName: name, workflowVersionId: "1" }).then((r) => r.run!),
    lease: async (opts: { ttlMs?: number } = {}): Promise<Lease> => {
      const res = await leases.pollLeases({
        workerId: "metrics-worker",
        workflows: [{ workflowName: name, workflowVersionId: "1" }],
        maxLeases: 1,
        wait: durationFromMs(5_000),
        leaseTtl: opts.ttlMs === undefined ? undefined : durationFromMs(opts.ttlMs),
      });
      if (!res.leases[0]) throw new Error("no lease");
      return res.leases[0];
    },
  };
}

async function waitFor(runId: string, status: RunStatus): Promise<void> {
  const res = await runs.waitForRunStatus({ runId, status, timeout: durationFromMs(10_000) });
  expect(res.outcome).toBe(WaitForRunStatusResponse_Outcome.REACHED);
}

describe("GET /metrics", () => {
  it("counts transitions, task attempts and failures, pickup latency and runs by state as a workload runs", async () => {
    const wf = workflow();
    const before = await scrape();
    const run = await wf.start();
    const lease = await wf.lease();
    const fence = { runId: run.id, leaseToken: lease.leaseToken };
    const { task } = await tasks.startTask({ ...fence, name: "charge", address: taskAddress("charge", undefined), sequence: 0, maxAttempts: 2 });
    await tasks.failTask({ ...fence, taskId: task!.id, attempt: 1, failure: create(FailureSchema, { message: "declined" }), retryDelay: durationFromMs(1) });
    const again = await tasks.startTask({ ...fence, name: "charge", address: taskAddress("charge", undefined), sequence: 0, maxAttempts: 2 });
    await tasks.completeTask({ ...fence, taskId: task!.id, attempt: again.task!.attempts, output: json({ ok: true }) });
    const queuedOnly = await wf.start();
    const after = await scrape();

    const delta = (name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels);
    expect(delta("aiki_run_transitions_total", { from: "none", to: "queued" })).toBe(2);
    expect(delta("aiki_run_transitions_total", { from: "queued", to: "running" })).toBe(1);
    expect(delta("aiki_task_attempts_total")).toBe(2);
    expect(delta("aiki_task_failures_total", { outcome: "retry" })).toBe(1);
    expect(delta("aiki_run_pickup_latency_seconds_count", { workflow: wf.name })).toBe(1);
    expect(after.value("aiki_runs", { workflow: wf.name, status: "running" })).toBe(1);
    expect(after.value("aiki_runs", { workflow: wf.name, status: "queued" })).toBe(1);
    expect(after.value("aiki_runs", { workflow: wf.name, status: "completed" })).toBe(0);
    expect(after.value("aiki_store_up")).toBe(1);
    expect(delta("aiki_rpc_requests_total", { service: "aiki.v1.RunService", method: "StartRun", code: "OK" })).toBe(2);
    expect(delta("aiki_rpc_requests_total", { service: "aiki.v1.TaskService", method: "StartTask", code: "OK" })).toBe(2);
    expect(delta("aiki_rpc_duration_seconds_count", { service: "aiki.v1.WorkerLeaseService", method: "PollLeases" })).toBe(1);

    await leases.completeRun({ ...fence, output: json("done") });
    await runs.cancelRun({ runId: queuedOnly.id });
    const done = await scrape();
    expect(
      done.value("aiki_run_transitions_total", { from: "running", to: "completed" }) -
        after.value("aiki_run_transitions_total", { from: "running", to: "completed" }),
    ).toBe(1);
    expect(
      done.value("aiki_run_transitions_total", { from: "queued", to: "cancelled" }) -
        after.value("aiki_run_transitions_total", { from: "queued", to: "cancelled" }),
    ).toBe(1);
    expect(done.value("aiki_runs", { workflow: wf.name, status: "completed" })).toBe(1);
    expect(done.value("aiki_runs", { workflow: wf.name, status: "cancelled" })).toBe(1);
    expect(done.value("aiki_runs", { workflow: wf.name, status: "running" })).toBe(0);
  });

  it("counts RPC failures by code", async () => {
    const before = await scrape();
    const error = await runs.getRun({ runId: "0190c0de-0000-7000-8000-000000000000" }).catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    const after = await scrape();
    const labels = { service: "aiki.v1.RunService", method: "GetRun", code: "NotFound" };
    expect(after.value("aiki_rpc_requests_total", labels) - before.value("aiki_rpc_requests_total", labels)).toBe(1);
  });

  it("times the timer loop (sleep lateness) and counts lease expiries", async () => {
    const wf = workflow();
    const before = await scrape();
    const sleeper = await wf.start();
    const lease = await wf.lease();
    const suspended = await leases.suspendRun({
      runId: sleeper.id,
      leaseToken: lease.leaseToken,
      wait: { case: "sleep", value: { name: "nap", sequence: 0, duration: durationFromMs(100) } },
    });
    expect(suspended.suspended).toBe(true);
    await waitFor(sleeper.id, RunStatus.QUEUED);
    // Leased again with a short lease that is never heartbeated: it expires and the run is queued again.
    await wf.lease({ ttlMs: 200 });
    await waitFor(sleeper.id, RunStatus.QUEUED);
    expect((await runs.listRunTransitions({ runId: sleeper.id })).transitions.at(-1)?.reason).toBe("lease expired");
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels);
    expect(delta("aiki_timer_lateness_seconds_count", { kind: "sleep" })).toBe(1);
    expect(delta("aiki_run_transitions_total", { from: "sleeping", to: "queued" })).toBe(1);
    expect(delta("aiki_run_transitions_total", { from: "running", to: "sleeping" })).toBe(1);
    expect(delta("aiki_lease_expiries_total")).toBe(1);
    expect(delta("aiki_timer_lateness_seconds_count", { kind: "lease_expiry" })).toBe(1);
    expect(delta("aiki_run_pickup_latency_seconds_count", { workflow: wf.name })).toBe(2);
    // Lateness is small on an idle test server: well under the 5 s horizon of the loop.
    const lateSum = delta("aiki_timer_lateness_seconds_sum", { kind: "sleep" });
    expect(lateSum).toBeGreaterThanOrEqual(0);
    expect(lateSum).toBeLessThan(5);
  });

  it("also exposes process metrics and answers other paths and methods plainly", async () => {
    const s = await scrape();
    expect(s.has("process_cpu_user_seconds_total")).toBe(true);
    expect(s.has("nodejs_eventloop_lag_seconds")).toBe(true);
    expect((await fetch(`${aiki.url}/nope`)).status).toBe(404);
    const post = await fetch(`${aiki.url}/metrics`, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
  });
});

describe("GET /healthz and /readyz", () => {
  it("are 200 on a healthy server", async () => {
    const live = await fetch(`${aiki.url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.text()).toBe("ok\n");
    const ready = await fetch(`${aiki.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe("ready\n");
  });

  it("readiness is 503 while Postgres is down and 200 again once it is back; liveness and /metrics stay up", async () => {
    const pg = await startPrivatePostgres();
    const logger = pino({ level: "silent" });
    const deps = await openDependencies({ databaseUrl: pg.url, redisUrl: undefined, dataDir: "/nonexistent-unused", logger });
    const server = createServer({ db: deps.db, notifier: deps.notifier, logger, timers: false });
    try {
      const { url } = await server.listen(0, "127.0.0.1");
      expect((await fetch(`${url}/readyz`)).status).toBe(200);

      await pg.stop("immediate");
      const down = await fetch(`${url}/readyz`);
      expect(down.status).toBe(503);
      expect(await down.text()).toMatch(/^not ready: store unreachable/);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      const metrics = await scrape(url);
      expect(metrics.value("aiki_store_up")).toBe(0);
      expect(metrics.has("aiki_runs")).toBe(false);

      await pg.start();
      // The pool reconnects on the next query; allow it a few tries.
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = (await fetch(`${url}/readyz`)).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(200);
      expect((await scrape(url)).value("aiki_store_up")).toBe(1);
    } finally {
      await server.close(2_000);
      await deps.close();
      await pg.destroy();
    }
  });
});
