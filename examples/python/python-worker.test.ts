// The Python reference worker (examples/python/aiki_worker, Debian's python3 with grpcio and
// protobuf, no TypeScript involved) executes workflows on a real server, and runs one language
// began are finished by the other. If the server broke the replay protocol (history, fencing,
// addresses), tasks would run twice or runs would not finish, and these tests would say so.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fromJson, toJson } from "@bufbuild/protobuf";
import { durationFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import { sql } from "kysely";
import { type Client, client, silentLogger } from "@aiki/sdk";
import { taskAddress } from "@aiki/sdk/internal";
import { worker } from "@aiki/worker";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { ChildWaitStatus, EventWaitStatus, SleepStatus, TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { RunFailureCause, RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { runCommand } from "../../test/support/aiki-cli.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { repoRoot } from "../../test/support/server-process.js";
import { handoffWorkflow } from "./handoff-workflow.js";

// Debian's interpreter on purpose: another python3 earlier on the PATH may lack grpc and protobuf.
const python = "/usr/bin/python3";

const h = useTestAiki();

let aiki: TestAiki;
let aikiClient: Client;

beforeAll(async () => {
  if (!existsSync(python)) throw new Error(`${python} is missing: apt-get install python3-grpcio python3-protobuf (bash .ci/run does)`);
  aiki = h.aiki;
  aikiClient = client({ url: aiki.url, logger: silentLogger });
});
afterAll(async () => {
  await aikiClient?.close();
});

interface PythonEvent {
  event: string;
  run?: string;
  task?: string;
  attempt?: number;
  cause?: string;
  message?: string;
  workerId?: string;
}

/** How python_worker.py talks to the server: one Session stream, or PollLeases and unary writes. */
type Transport = "session" | "poll";

/** python_worker.py as a child process: its JSON lines, awaited by predicate; stopped by closing stdin. */
class PythonWorker {
  readonly events: PythonEvent[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = "";
  private readonly waiters = new Set<() => void>();
  private readonly exited: Promise<number | null>;

  constructor(prefix: string, transport: Transport) {
    const args = ["--target", `127.0.0.1:${aiki.port}`, "--prefix", prefix, "--transport", transport];
    this.child = spawn(python, [join(repoRoot, "examples/python/python_worker.py"), ...args], {
      cwd: join(repoRoot, "examples/python"),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PYTHONDONTWRITEBYTECODE: "1", PYTHONUNBUFFERED: "1" },
    });
    this.child.stderr.on("data", (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      this.events.push(JSON.parse(line) as PythonEvent);
      for (const wake of this.waiters) wake();
    });
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
  }

  /** Resolves with the first event matching, failing after timeoutMs or when the process ends. */
  async waitFor(match: (e: PythonEvent) => boolean, timeoutMs = 15_000): Promise<PythonEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (this.child.exitCode !== null) throw new Error(`python worker exited (${this.child.exitCode}): ${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no such python worker event in ${timeoutMs} ms; got ${JSON.stringify(this.events)}\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, 200);
        this.waiters.add(wake);
      });
    }
  }

  taskAttempts(runId: string): string[] {
    return this.events.filter((e) => e.event === "task_attempt" && e.run === runId).map((e) => `${e.task}#${e.attempt}`);
  }

  /** Closes stdin: the worker finishes the run in hand and exits 0. */
  async stop(): Promise<void> {
    this.child.stdin.end();
    const code = await this.exited;
    expect(code, this.stderr).toBe(0);
    expect(this.stderr).toBe("");
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

const started: PythonWorker[] = [];
function startPythonWorker(prefix: string, transport: Transport = "session"): PythonWorker {
  const w = new PythonWorker(prefix, transport);
  started.push(w);
  return w;
}
afterEach(() => {
  for (const w of started.splice(0)) w.kill();
});

const json = (v: unknown) => fromJson(ValueSchema, v as never);

async function startRun(workflowName: string, input: unknown) {
  const { run } = await aiki.client(RunService).startRun({ workflowName, workflowVersionId: "1.0.0", input: json(input) });
  return run!;
}

async function reach(runId: string, status: RunStatus) {
  const res = await aiki.client(RunService).waitForRunStatus({ runId, status, timeout: durationFromMs(20_000) });
  expect(res.outcome, `run ${runId} to reach ${RunStatus[status]} (is ${RunStatus[res.run!.status]})`).toBe(WaitForRunStatusResponse_Outcome.REACHED);
  return res.run!;
}

const tasksOf = async (runId: string) => (await aiki.client(TaskService).listTasks({ runId })).tasks.map((t) => [t.name, t.status, t.attempts] as const);

describe("Python reference worker", () => {
  it("reads the typed details of the refusals a worker acts on (test_refusals.py): lease lost, address mismatch, stale attempt", async () => {
    const res = await runCommand(python, ["-m", "unittest", "-v", "test_refusals"], {
      cwd: join(repoRoot, "examples/python"),
      env: { PYTHONDONTWRITEBYTECODE: "1", AIKI_TARGET: `127.0.0.1:${aiki.port}` },
    });
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/\nRan 3 tests in [\d.]+s\n\nOK\n$/);
  });

  it.each(["session", "poll"] as const)(
    "over %s: runs a workflow with tasks, a retry, a sleep, an event and a child, each task executed once across every replay",
    async (transport) => {
      const prefix = h.uniqueName("py");
      const py = startPythonWorker(prefix, transport);
      const { workerId } = await py.waitFor((e) => e.event === "ready");
      const run = await startRun(`${prefix}-order`, { orderId: "o-1", amount: 42 });

      // Tasks, the retried one twice, then the sleep suspends the run; awake() ends it early.
      await reach(run.id, RunStatus.SLEEPING);
      if (transport === "session") {
        // The open stream is how the server sees it get work (a poll shows only while one is held).
        const { workers } = await aiki.client(WorkerLeaseService).listWorkers({});
        expect(workers.find((w) => w.workerId === workerId)?.transport).toBe("session");
      }
      await aiki.client(RunService).awakeRun({ runId: run.id });
      await reach(run.id, RunStatus.AWAITING_EVENT);
      await aiki.client(EventService).sendEvent({ targets: [{ target: { case: "runId", value: run.id } }], eventName: "approval", data: json({ by: "ada" }) });
      const done = await reach(run.id, RunStatus.COMPLETED);

      expect(toJson(ValueSchema, done.output!)).toEqual({
        chargeId: "ch-o-1",
        fee: 4.2,
        reserved: true,
        sleepCancelled: true,
        approvedBy: "ada",
        receipt: "receipt for ch-o-1",
      });
      // Executed once each (reserve-stock: its failed attempt and the retry), though the handler
      // replayed after the sleep, the event, the child start and the child's end.
      expect(py.taskAttempts(run.id)).toEqual(["charge#1", "charge-fee#1", "reserve-stock#1", "reserve-stock#2"]);
      expect(py.events.filter((e) => e.event === "leased" && e.run === run.id).length).toBeGreaterThanOrEqual(4);
      expect(await tasksOf(run.id)).toEqual([
        ["charge", TaskStatus.COMPLETED, 1],
        ["charge-fee", TaskStatus.COMPLETED, 1],
        ["reserve-stock", TaskStatus.COMPLETED, 2],
      ]);
      const { history } = await aiki.client(RunService).getRunHistory({ runId: run.id });
      expect(history?.sleeps.map((s) => [s.name, s.status])).toEqual([["cool-off", SleepStatus.CANCELLED]]);
      expect(history?.eventWaits.map((w) => [w.eventName, w.status])).toEqual([["approval", EventWaitStatus.RECEIVED]]);
      expect(history?.childWaits.map((w) => [w.status, w.childStatus])).toEqual([[ChildWaitStatus.FINISHED, RunStatus.COMPLETED]]);
      const childId = history!.childRuns[0]!.childRunId;
      expect(py.taskAttempts(childId)).toEqual(["render-receipt#1"]);
      await py.stop();
    },
  );

  it("finishes in TypeScript a run the Python worker began, and in Python one the TypeScript worker began", async () => {
    const prefix = h.uniqueName("py");
    const ts = handoffWorkflow(prefix);

    // Python charges, sleeps; the TypeScript worker replays the charge from history and notifies.
    const py = startPythonWorker(prefix);
    await py.waitFor((e) => e.event === "ready");
    const fromPython = await startRun(`${prefix}-handoff`, { orderId: "o-py", amount: 42 });
    await reach(fromPython.id, RunStatus.SLEEPING);
    await py.stop();
    const tsWorker = await worker({ name: "ts-handoff", workflows: [ts.version], opts: { pollWaitMs: 5_000 } }).spawn(aikiClient);
    await aiki.client(RunService).awakeRun({ runId: fromPython.id });
    const pyThenTs = await reach(fromPython.id, RunStatus.COMPLETED);
    expect(toJson(ValueSchema, pyThenTs.output!)).toEqual({ chargeId: "ch-o-py", told: "charged 42.0" });
    expect(py.taskAttempts(fromPython.id)).toEqual(["charge#1"]);
    expect(ts.executed).toEqual(["notify"]);

    // The TypeScript worker charges and sleeps; Python replays the charge from history and notifies.
    const fromTs = await startRun(`${prefix}-handoff`, { orderId: "o-ts", amount: 42 });
    await reach(fromTs.id, RunStatus.SLEEPING);
    await tsWorker.stop();
    expect(ts.executed).toEqual(["notify", "charge"]);
    const py2 = startPythonWorker(prefix);
    await py2.waitFor((e) => e.event === "ready");
    await aiki.client(RunService).awakeRun({ runId: fromTs.id });
    const tsThenPy = await reach(fromTs.id, RunStatus.COMPLETED);
    expect(toJson(ValueSchema, tsThenPy.output!)).toEqual({ chargeId: "ch-o-ts", told: "charged 42.0" });
    expect(py2.taskAttempts(fromTs.id)).toEqual(["notify#1"]);
    for (const id of [fromPython.id, fromTs.id]) {
      expect(await tasksOf(id)).toEqual([
        ["charge", TaskStatus.COMPLETED, 1],
        ["notify", TaskStatus.COMPLETED, 1],
      ]);
    }
    await py2.stop();
  });

  it("fails the run naming both addresses when a record of the same call has another address (5.0 hashed for 5), never running the task again", async () => {
    const prefix = h.uniqueName("py");
    const py = startPythonWorker(prefix);
    await py.waitFor((e) => e.event === "ready");
    const run = await startRun(`${prefix}-handoff`, { orderId: "o-mm", amount: 5 });
    await reach(run.id, RunStatus.SLEEPING);
    // The history as a worker whose JSON wrote 5.0 would have left it before the server verified
    // addresses.
    const called = taskAddress("charge", { orderId: "o-mm", amount: 5 });
    const recorded = `charge:${createHash("sha256").update('{"amount":5.0,"orderId":"o-mm"}').digest("hex")}`;
    const rewritten = await sql`update tasks set address = ${recorded} where run_id = ${run.id} and name = 'charge'`.execute(aiki.deps.db);
    expect(rewritten.numAffectedRows).toBe(1n);
    await aiki.client(RunService).awakeRun({ runId: run.id });
    const failed = await reach(run.id, RunStatus.FAILED);
    expect(failed.failureCause).toBe(RunFailureCause.NON_DETERMINISM);
    expect(failed.failure).toMatchObject({ type: "NonDeterminism", nonRetryable: true });
    expect(failed.failure?.message).toContain(`task "charge" was called at address ${called}, but its record (same task, same input) has address ${recorded}`);
    expect(py.taskAttempts(run.id)).toEqual(["charge#1"]);
    expect(await tasksOf(run.id)).toEqual([["charge", TaskStatus.COMPLETED, 1]]);
    await py.stop();
  });
});
