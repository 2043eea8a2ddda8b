// WorkerLeaseService.Session through the raw contract (what a worker in any language sees): the
// opening, leases within credits, grants and drain, calls answered like their unary RPCs (typed
// errors included), and the end of the stream when the worker closes its side or the server stops.
import { type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { anyUnpack, durationFromMs, timestampDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import pg from "pg";
import { beforeAll, describe, expect, it } from "vitest";
import { AddressMismatchDetailSchema, LeaseLostDetailSchema, StaleTaskAttemptDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import { RunHistorySchema, TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import {
  type Lease,
  type SessionRequestSchema,
  type SessionResponse,
  type SessionResponse_Result,
  WorkerLeaseService,
} from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { closeChecked } from "../../test/support/leak-checks.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { taskAddress } from "../src/engine/canonical-json.js";
import { historyToPb } from "../src/api/history-mapping.js";
import { loadHistory } from "../src/engine/run-history.js";

const h = useTestAiki();
let aiki: TestAiki;
let runs: Client<typeof RunService>;
let leases: Client<typeof WorkerLeaseService>;
let events: Client<typeof EventService>;

beforeAll(() => {
  aiki = h.aiki;
  runs = aiki.client(RunService);
  leases = aiki.client(WorkerLeaseService);
  events = aiki.client(EventService);
});

type Outgoing = MessageInitShape<typeof SessionRequestSchema>;

/** One session: send messages, read what comes back, in order, with a deadline. */
function openSession(client: Client<typeof WorkerLeaseService> = leases) {
  const outbox: Outgoing[] = [];
  let ended = false;
  let wakeOut: (() => void) | undefined;
  async function* requests(): AsyncGenerator<Outgoing> {
    for (;;) {
      const next = outbox.shift();
      if (next) {
        yield next;
        continue;
      }
      if (ended) return;
      await new Promise<void>((r) => {
        wakeOut = r;
      });
    }
  }
  const received: SessionResponse[] = [];
  let failure: unknown;
  let finished = false;
  // Every reader waiting for a message (several calls may wait at once).
  const readers = new Set<() => void>();
  const wakeIn = () => {
    for (const wake of [...readers]) wake();
  };
  const done = (async () => {
    try {
      for await (const r of client.session(requests())) {
        received.push(r);
        wakeIn();
      }
    } catch (error) {
      failure = error;
    } finally {
      finished = true;
      ended = true;
      wakeOut?.();
      wakeIn();
    }
  })();
  const next = async <T>(pick: (r: SessionResponse) => T | undefined, timeoutMs = 5_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = received.findIndex((r) => pick(r) !== undefined);
      if (i >= 0) return pick(received.splice(i, 1)[0]!)!;
      if (finished) throw new Error(`the session ended first (${String(failure)})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`nothing expected within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const timer = setTimeout(wake, left);
        function wake() {
          clearTimeout(timer);
          readers.delete(wake);
          r();
        }
        readers.add(wake);
      });
    }
  };
  let callId = 0;
  return {
    send(message: Outgoing) {
      outbox.push(message);
      wakeOut?.();
    },
    end() {
      ended = true;
      wakeOut?.();
    },
    /** Sends a call and resolves with its result. */
    async call(request: NonNullable<Extract<Outgoing["kind"], { case: "call" }>["value"]["request"]>): Promise<SessionResponse_Result["response"]> {
      const id = ++callId;
      this.send({ kind: { case: "call", value: { callId: id, request } } });
      return next((r) => (r.kind.case === "result" && r.kind.value.callId === id ? r.kind.value.response : undefined));
    },
    leases: (timeoutMs?: number) => next((r) => (r.kind.case === "leases" ? r.kind.value.leases : undefined), timeoutMs),
    /** Resolves with how the stream ended: undefined (OK) or its error. */
    async closed(): Promise<unknown> {
      await done;
      return failure;
    },
    pending: () => received.length,
  };
}

function workflow() {
  const name = h.uniqueName("session-wf");
  return {
    name,
    workerId: `w-${name}`,
    open: (credits: number) => ({ workerId: `w-${name}`, workerName: "session-test", workflows: [{ workflowName: name, workflowVersionId: "1" }], credits }),
    start: (input = 0) =>
      runs.startRun({ workflowName: name, workflowVersionId: "1", input: { kind: { case: "numberValue", value: input } } }).then((r) => r.run!),
  };
}

/** Resolves once `n` sessions serving `workflowName` v1 wait idle with credits (their leaser found nothing). */
async function idle(workflowName: string, n: number, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (aiki.localSessions.idleCount("default", workflowName, "1") < n) {
    if (Date.now() > deadline) throw new Error(`${n} idle session(s) for ${workflowName} not seen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("WorkerLeaseService.Session", () => {
  it("must open first; a bad opening fails the stream with INVALID_ARGUMENT naming the field", async () => {
    const a = openSession();
    a.send({ kind: { case: "grant", value: { credits: 1 } } });
    a.end();
    const first = ConnectError.from(await a.closed());
    expect(first.code).toBe(Code.InvalidArgument);
    expect(first.rawMessage).toMatch(/open/);

    const b = openSession();
    b.send({ kind: { case: "open", value: { workerId: "w", workflows: [], credits: 1 } } });
    b.end();
    const second = ConnectError.from(await b.closed());
    expect(second.code).toBe(Code.InvalidArgument);
    expect(second.rawMessage).toMatch(/workflows/);
  });

  it("pushes leases within the credits granted, and more after a grant", async () => {
    const wf = workflow();
    const [r1, r2, r3] = [await wf.start(1), await wf.start(2), await wf.start(3)];
    const s = openSession();
    s.send({ kind: { case: "open", value: wf.open(2) } });
    const got: Lease[] = [];
    while (got.length < 2) got.push(...(await s.leases()));
    expect(got.map((l) => l.run!.id)).toEqual([r1.id, r2.id]);
    // No credit left: the third run waits.
    await expect(s.leases(300)).rejects.toThrow(/nothing expected/);
    s.send({ kind: { case: "grant", value: { credits: 1 } } });
    expect((await s.leases()).map((l) => l.run!.id)).toEqual([r3.id]);
    // A run started while credits are left is pushed as soon as it is ready.
    s.send({ kind: { case: "grant", value: { credits: 1 } } });
    const r4 = await wf.start(4);
    expect((await s.leases()).map((l) => l.run!.id)).toEqual([r4.id]);
    s.end();
    expect(await s.closed()).toBeUndefined();
  });

  it("answers calls like their unary RPCs, refusals with the same code and typed details", async () => {
    const wf = workflow();
    const run = await wf.start();
    const s = openSession();
    s.send({ kind: { case: "open", value: wf.open(1) } });
    const [lease] = await s.leases();
    const started = await s.call({
      case: "startTask",
      value: { runId: run.id, leaseToken: lease!.leaseToken, name: "t", address: taskAddress("t", undefined), maxAttempts: 1 },
    });
    expect(started.case).toBe("startTask");
    const task = started.case === "startTask" ? started.value.task! : undefined;
    const completed = await s.call({
      case: "completeTask",
      value: {
        runId: run.id,
        leaseToken: lease!.leaseToken,
        taskId: task!.id,
        attempt: task!.attempts,
        output: { kind: { case: "stringValue", value: "ok" } },
      },
    });
    expect(completed.case).toBe("completeTask");

    // A stale token: FAILED_PRECONDITION with LeaseLostDetail, and the stream goes on.
    const refused = await s.call({ case: "completeRun", value: { runId: run.id, leaseToken: "00000000-0000-4000-8000-000000000000" } });
    expect(refused.case).toBe("error");
    const error = refused.case === "error" ? refused.value : undefined;
    expect(error!.code).toBe(Code.FailedPrecondition);
    const detail = anyUnpack(error!.details[0]!, LeaseLostDetailSchema);
    expect(detail).toMatchObject({ runId: run.id, currentStatus: RunStatus.RUNNING });

    // Bad input: INVALID_ARGUMENT naming the field, as the unary RPC would.
    const invalid = await s.call({ case: "completeRun", value: { runId: "nope", leaseToken: lease!.leaseToken } });
    expect(invalid.case === "error" && invalid.value.code).toBe(Code.InvalidArgument);
    expect(invalid.case === "error" && invalid.value.message).toMatch(/run_id/);

    // A task address that is not the canonical one for its input: INVALID_ARGUMENT with
    // AddressMismatchDetail, as the unary StartTask answers (server/test/worker-protocol.test.ts).
    const input = { kind: { case: "numberValue" as const, value: 5 } };
    const wrong = await s.call({
      case: "startTask",
      value: { runId: run.id, leaseToken: lease!.leaseToken, name: "u", address: "u:5.0", input, maxAttempts: 1 },
    });
    expect(wrong.case === "error" && wrong.value.code).toBe(Code.InvalidArgument);
    const mismatch = wrong.case === "error" ? wrong.value.details.find((d) => d.typeUrl.endsWith(`/${AddressMismatchDetailSchema.typeName}`)) : undefined;
    expect(anyUnpack(mismatch!, AddressMismatchDetailSchema)).toMatchObject({ field: "address", expected: taskAddress("u", 5), got: "u:5.0" });

    const done = await s.call({
      case: "completeRun",
      value: { runId: run.id, leaseToken: lease!.leaseToken, output: { kind: { case: "numberValue", value: 7 } } },
    });
    expect(done.case === "completeRun" && done.value.run?.status).toBe(RunStatus.COMPLETED);
    s.end();
    expect(await s.closed()).toBeUndefined();
  });

  it("hands a run started while the session waits idle straight to it: inserted leased, pushed, no claim", async () => {
    const wf = workflow();
    const s = openSession();
    s.send({ kind: { case: "open", value: wf.open(2) } });
    await idle(wf.name, 1);
    const started = await wf.start(1);
    // The start's own answer already shows the run leased.
    expect(started.status).toBe(RunStatus.RUNNING);
    expect(started.revision).toBe(2);
    const [lease] = await s.leases();
    expect(lease!.run!.id).toBe(started.id);
    expect(lease!.history?.tasks ?? []).toEqual([]);
    const { transitions } = await runs.listRunTransitions({ runId: started.id });
    expect(transitions.map((t) => [t.revision, t.fromStatus, t.toStatus, t.actor, t.reason])).toEqual([
      [1, RunStatus.UNSPECIFIED, RunStatus.QUEUED, expect.any(String), "started"],
      [2, RunStatus.QUEUED, RunStatus.RUNNING, `worker:${wf.workerId}`, "leased"],
    ]);
    // The lease is a real one: the worker's writes with its token are accepted.
    const done = await s.call({ case: "completeRun", value: { runId: started.id, leaseToken: lease!.leaseToken } });
    expect(done.case === "completeRun" && done.value.run?.status).toBe(RunStatus.COMPLETED);
    s.end();
    expect(await s.closed()).toBeUndefined();
  });

  it("applies a completion that names its attempt by attempt id after that StartTask (pipelining); an unknown attempt id is a stale attempt", async () => {
    const wf = workflow();
    const first = await wf.start(1);
    const s = openSession();
    s.send({ kind: { case: "open", value: wf.open(2) } });
    const [lease] = await s.leases();
    const at = { runId: first.id, leaseToken: lease!.leaseToken };
    const text = (value: string) => ({ kind: { case: "stringValue" as const, value } });
    // Sent back to back, none awaited: b carries a's success, CompleteRun carries b's.
    const [a, b, done] = await Promise.all([
      s.call({ case: "startTask", value: { ...at, name: "a", address: taskAddress("a", undefined), maxAttempts: 1, attemptId: "att-a" } }),
      s.call({
        case: "startTask",
        value: {
          ...at,
          name: "b",
          address: taskAddress("b", undefined),
          maxAttempts: 1,
          attemptId: "att-b",
          completedTasks: [{ attemptId: "att-a", output: text("A") }],
        },
      }),
      s.call({ case: "completeRun", value: { ...at, output: text("done"), completedTasks: [{ attemptId: "att-b", output: text("B") }] } }),
    ]);
    expect([a.case, b.case, done.case]).toEqual(["startTask", "startTask", "completeRun"]);
    expect(done.case === "completeRun" && done.value.run?.status).toBe(RunStatus.COMPLETED);
    const { tasks } = await aiki.client(TaskService).listTasks({ runId: first.id });
    expect(tasks.map((t) => [t.name, t.status, t.attempts, t.output?.kind.value])).toEqual([
      ["a", TaskStatus.COMPLETED, 1, "A"],
      ["b", TaskStatus.COMPLETED, 1, "B"],
    ]);

    // An attempt id no StartTask of the run started: refused as a stale attempt, nothing written.
    const second = await wf.start(2);
    const [other] = await s.leases();
    expect(other!.run!.id).toBe(second.id);
    const refused = await s.call({
      case: "completeRun",
      value: { runId: second.id, leaseToken: other!.leaseToken, completedTasks: [{ attemptId: "never-started", output: text("x") }] },
    });
    expect(refused.case === "error" && refused.value.code).toBe(Code.FailedPrecondition);
    const stale = refused.case === "error" ? refused.value.details.find((d) => d.typeUrl.endsWith(`/${StaleTaskAttemptDetailSchema.typeName}`)) : undefined;
    expect(stale).toBeDefined();
    expect((await runs.getRun({ runId: second.id })).run?.status).toBe(RunStatus.RUNNING);
    s.end();
    expect(await s.closed()).toBeUndefined();
  });

  describe("pipelined writes", () => {
    // A replica whose pipelined starts wait a minute for the write carrying their result: a
    // start that is not taken over, given back or hurried would outlast the test.
    let replica: TestAiki;
    beforeAll(async () => {
      replica = await h.startServer({ database: aiki.database, pipelineHoldMs: 60_000 });
    });
    const text = (value: string) => ({ kind: { case: "stringValue" as const, value } });
    type Fence = { runId: string; leaseToken: string };
    /** A StartTask of task `name` (no input, one attempt unless said) under the attempt id given. */
    const startTask = (
      at: Fence,
      name: string,
      attemptId: string,
      more: { maxAttempts?: number; address?: string; completedTasks?: Array<{ attemptId: string; output: ReturnType<typeof text> }> } = {},
    ) => ({
      case: "startTask" as const,
      value: { ...at, name, address: taskAddress(name, undefined), maxAttempts: 1, attemptId, ...more },
    });

    async function leasedOnReplica() {
      const wf = workflow();
      const run = await wf.start(1);
      const s = openSession(replica.client(WorkerLeaseService));
      s.send({ kind: { case: "open", value: wf.open(1) } });
      const [lease] = await s.leases();
      return { run, s, at: { runId: run.id, leaseToken: lease!.leaseToken } };
    }

    it("writes a chain with the write that carries its last result: the starts, their results and the run's completion in one commit", async () => {
      const { run, s, at } = await leasedOnReplica();
      const start = (name: string, previous?: string) =>
        startTask(at, name, `att-${name}`, { completedTasks: previous ? [{ attemptId: `att-${previous}`, output: text(previous.toUpperCase()) }] : [] });
      const answers = await Promise.all([
        s.call(start("a")),
        s.call(start("b", "a")),
        s.call(start("c", "b")),
        s.call({ case: "completeRun", value: { ...at, output: text("done"), completedTasks: [{ attemptId: "att-c", output: text("C") }] } }),
      ]);
      // Each start is answered with the attempt it started, as a start written alone would be.
      expect(answers.slice(0, 3).map((a) => a.case === "startTask" && [a.value.task?.name, a.value.task?.status, a.value.task?.attempts])).toEqual([
        ["a", TaskStatus.RUNNING, 1],
        ["b", TaskStatus.RUNNING, 1],
        ["c", TaskStatus.RUNNING, 1],
      ]);
      const done = answers[3]!;
      expect(done.case === "completeRun" && done.value.run?.status).toBe(RunStatus.COMPLETED);
      const { tasks } = await aiki.client(TaskService).listTasks({ runId: run.id });
      expect(tasks.map((t) => [t.name, t.status, t.attempts, t.output?.kind.value])).toEqual([
        ["a", TaskStatus.COMPLETED, 1, "A"],
        ["b", TaskStatus.COMPLETED, 1, "B"],
        ["c", TaskStatus.COMPLETED, 1, "C"],
      ]);
      // One transaction: every record carries its start time, now(); written apart they would differ.
      const { run: finished } = await runs.getRun({ runId: run.id });
      const endTime = timestampDate(finished!.endTime!).getTime();
      expect(tasks.map((t) => timestampDate(t.createTime!).getTime())).toEqual([endTime, endTime, endTime]);
      s.end();
      expect(await s.closed()).toBeUndefined();
    });

    it("a start taken over by a write that is refused is written by itself; one whose record exists takes the slow path", async () => {
      const { run, s, at } = await leasedOnReplica();
      const startA = (attemptId: string) => startTask(at, "a", attemptId, { maxAttempts: 3 });
      // The CompleteRun that takes "a" over is refused (its output is no JSON value): "a" is
      // given back, recorded by itself and answered.
      const nan = { kind: { case: "numberValue" as const, value: Number.NaN } };
      const [a, refused] = await Promise.all([
        s.call(startA("att-1")),
        s.call({ case: "completeRun", value: { ...at, output: nan, completedTasks: [{ attemptId: "att-1", output: text("A") }] } }),
      ]);
      expect(refused.case === "error" && refused.value.code).toBe(Code.InvalidArgument);
      expect(a.case === "startTask" && [a.value.task?.status, a.value.task?.attempts]).toEqual([TaskStatus.RUNNING, 1]);
      // Another attempt at the same task (the first one's record exists): its start and result go
      // with the CompleteRun, whose one statement cannot insert the record; the slow path counts it.
      const [again, done] = await Promise.all([
        s.call(startA("att-2")),
        s.call({ case: "completeRun", value: { ...at, output: text("done"), completedTasks: [{ attemptId: "att-2", output: text("A2") }] } }),
      ]);
      expect(again.case === "startTask" && [again.value.task?.status, again.value.task?.attempts]).toEqual([TaskStatus.RUNNING, 2]);
      expect(done.case === "completeRun" && done.value.run?.status).toBe(RunStatus.COMPLETED);
      const { tasks } = await aiki.client(TaskService).listTasks({ runId: run.id });
      expect(tasks.map((t) => [t.name, t.status, t.attempts, t.output?.kind.value])).toEqual([["a", TaskStatus.COMPLETED, 2, "A2"]]);
      s.end();
      expect(await s.closed()).toBeUndefined();
    });

    it("a write that took over a start its handler refused is refused as stale: nothing of either is written", async () => {
      const { run, s, at } = await leasedOnReplica();
      const [a, refused] = await Promise.all([
        // The address is not name + the hash of the input: refused on its own.
        s.call(startTask(at, "a", "att-a", { address: "a:wrong" })),
        s.call({ case: "completeRun", value: { ...at, output: text("done"), completedTasks: [{ attemptId: "att-a", output: text("A") }] } }),
      ]);
      expect(a.case === "error" && a.value.code).toBe(Code.InvalidArgument);
      expect(refused.case === "error" && refused.value.code).toBe(Code.FailedPrecondition);
      expect((await runs.getRun({ runId: run.id })).run?.status).toBe(RunStatus.RUNNING);
      expect((await aiki.client(TaskService).listTasks({ runId: run.id })).tasks).toEqual([]);
      s.end();
      expect(await s.closed()).toBeUndefined();
    });

    it("a SuspendRun takes the starts it names over: the task and the first sleep in one commit", async () => {
      const { run, s, at } = await leasedOnReplica();
      const [a, slept] = await Promise.all([
        s.call(startTask(at, "a", "att-a")),
        s.call({
          case: "suspendRun",
          value: {
            ...at,
            wait: { case: "sleep", value: { name: "nap", sequence: 0, duration: durationFromMs(3_600_000) } },
            completedTasks: [{ attemptId: "att-a", output: text("A") }],
          },
        }),
      ]);
      expect(a.case === "startTask" && a.value.task?.status).toBe(TaskStatus.RUNNING);
      expect(slept.case === "suspendRun" && slept.value.run?.status).toBe(RunStatus.SLEEPING);
      const { history } = await runs.getRunHistory({ runId: run.id });
      expect(history!.tasks.map((t) => [t.name, t.status, t.output?.kind.value])).toEqual([["a", TaskStatus.COMPLETED, "A"]]);
      // One transaction: the task's record and the sleep's start carry the same now().
      expect(timestampDate(history!.tasks[0]!.createTime!)).toEqual(timestampDate(history!.sleeps[0]!.startTime!));
      s.end();
      expect(await s.closed()).toBeUndefined();
    }, 10_000);

    it("an event wait (no one-statement path) records the starts it took over first, then suspends", async () => {
      const { run, s, at } = await leasedOnReplica();
      const [a, waiting] = await Promise.all([
        s.call(startTask(at, "a", "att-a")),
        s.call({
          case: "suspendRun",
          value: { ...at, wait: { case: "eventWait", value: { eventName: "go", sequence: 0 } }, completedTasks: [{ attemptId: "att-a", output: text("A") }] },
        }),
      ]);
      expect(a.case === "startTask" && [a.value.task?.status, a.value.task?.attempts]).toEqual([TaskStatus.RUNNING, 1]);
      expect(waiting.case === "suspendRun" && waiting.value.run?.status).toBe(RunStatus.AWAITING_EVENT);
      const { history } = await runs.getRunHistory({ runId: run.id });
      expect(history!.tasks.map((t) => [t.name, t.status, t.attempts, t.output?.kind.value])).toEqual([["a", TaskStatus.COMPLETED, 1, "A"]]);
      s.end();
      expect(await s.closed()).toBeUndefined();
    }, 10_000);
  });

  it("hands a run an event wakes straight to the idle session, its history holding the event", async () => {
    const wf = workflow();
    const s = openSession();
    s.send({ kind: { case: "open", value: wf.open(1) } });
    await idle(wf.name, 1);
    const run = await wf.start(1);
    const [lease] = await s.leases();
    const suspended = await s.call({
      case: "suspendRun",
      value: { runId: run.id, leaseToken: lease!.leaseToken, wait: { case: "eventWait", value: { eventName: "go", sequence: 0 } } },
    });
    expect(suspended.case === "suspendRun" && suspended.value.run?.status).toBe(RunStatus.AWAITING_EVENT);
    // The slot freed: the worker grants its credit back and the session waits idle again.
    s.send({ kind: { case: "grant", value: { credits: 1 } } });
    await idle(wf.name, 1);
    await events.sendEvent({ targets: [{ target: { case: "runId", value: run.id } }], eventName: "go", data: { kind: { case: "numberValue", value: 7 } } });
    const [woken] = await s.leases();
    expect(woken!.run!.id).toBe(run.id);
    expect(woken!.run!.status).toBe(RunStatus.RUNNING);
    expect(woken!.history?.eventWaits.map((w) => [w.eventName, w.event?.data?.kind.value])).toEqual([["go", 7]]);
    const { transitions } = await runs.listRunTransitions({ runId: run.id });
    expect(transitions.slice(-2).map((t) => [t.fromStatus, t.toStatus, t.actor, t.reason])).toEqual([
      [RunStatus.AWAITING_EVENT, RunStatus.QUEUED, "client", "event go"],
      [RunStatus.QUEUED, RunStatus.RUNNING, `worker:${wf.workerId}`, "leased"],
    ]);
    // Both in the event's own transaction (one now()), not a later claim.
    const [queued, leasedAt] = transitions.slice(-2).map((t) => timestampDate(t.time!).getTime() * 1000 + ((t.time!.nanos / 1000) % 1000));
    expect(leasedAt).toBe(queued);
    const done = await s.call({ case: "completeRun", value: { runId: run.id, leaseToken: woken!.leaseToken } });
    expect(done.case === "completeRun" && done.value.run?.status).toBe(RunStatus.COMPLETED);
    s.end();
    expect(await s.closed()).toBeUndefined();
  });

  it("pushes an event-woken run with the history its own reads would give: tasks, earlier waits and the event, as loadHistory reads them", async () => {
    const wf = workflow();
    const s = openSession();
    s.send({ kind: { case: "open", value: wf.open(1) } });
    await idle(wf.name, 1);
    const run = await wf.start(3);
    let [lease] = await s.leases();
    const at = () => ({ runId: run.id, leaseToken: lease!.leaseToken });
    const text = (value: string) => ({ kind: { case: "stringValue" as const, value } });
    const started = await s.call({ case: "startTask", value: { ...at(), name: "t", address: taskAddress("t", undefined), maxAttempts: 2 } });
    const task = started.case === "startTask" ? started.value.task! : undefined;
    // Two event waits, each woken by a send: the second push carries the first wait and the task.
    for (const [sequence, value] of [
      [0, "first"],
      [1, "second"],
    ] as const) {
      const suspended = await s.call({
        case: "suspendRun",
        value: {
          ...at(),
          wait: { case: "eventWait", value: { eventName: "go", sequence } },
          completedTasks: sequence === 0 ? [{ taskId: task!.id, attempt: task!.attempts, output: text("T") }] : [],
        },
      });
      expect(suspended.case === "suspendRun" && suspended.value.suspended).toBe(true);
      s.send({ kind: { case: "grant", value: { credits: 1 } } });
      await idle(wf.name, 1);
      await events.sendEvent({ targets: [{ target: { case: "runId", value: run.id } }], eventName: "go", data: text(value) });
      [lease] = await s.leases();
      expect(lease!.run!.status).toBe(RunStatus.RUNNING);
    }
    const pushed = lease!.history!;
    expect(pushed.eventWaits.map((w) => [w.sequence, w.event?.data?.kind.value])).toEqual([
      [0, "first"],
      [1, "second"],
    ]);
    expect(pushed.tasks.map((t) => [t.name, t.status])).toEqual([["t", TaskStatus.COMPLETED]]);
    const read = historyToPb(await loadHistory(aiki.deps.db, run.id));
    expect(toBinary(RunHistorySchema, pushed)).toEqual(toBinary(RunHistorySchema, read));
    s.end();
    expect(await s.closed()).toBeUndefined();
  });

  it("stays idle through a grant after a run ends: a start right behind the grant is still handed over", async () => {
    const wf = workflow();
    const s = openSession();
    s.send({ kind: { case: "open", value: wf.open(2) } });
    await idle(wf.name, 1);
    // A worker's loop: a run ends, its slot's credit is granted back, the next start follows at
    // once (the grant and the start travel on the same connection, the grant first). Nothing
    // was ready when the session last looked, so the grant calls for no claim: a claim in
    // flight would make the session busy and the start would be left queued for the next one.
    for (let round = 0; round < 5; round++) {
      const started = await wf.start(round);
      expect(started.status).toBe(RunStatus.RUNNING);
      const [lease] = await s.leases();
      const done = await s.call({ case: "completeRun", value: { runId: started.id, leaseToken: lease!.leaseToken } });
      expect(done.case === "completeRun" && done.value.run?.status).toBe(RunStatus.COMPLETED);
      s.send({ kind: { case: "grant", value: { credits: 1 } } });
    }
    const last = await wf.start(5);
    expect(last.status).toBe(RunStatus.RUNNING);
    expect((await s.leases()).map((l) => l.run!.id)).toEqual([last.id]);
    s.end();
    expect(await s.closed()).toBeUndefined();
  });

  it("hands no start to a session without credits left: the run waits queued until a grant", async () => {
    const wf = workflow();
    const s = openSession();
    s.send({ kind: { case: "open", value: wf.open(1) } });
    await idle(wf.name, 1);
    const first = await wf.start(1);
    expect((await s.leases()).map((l) => l.run!.id)).toEqual([first.id]);
    expect(aiki.localSessions.idleCount("default", wf.name, "1")).toBe(0);
    const second = await wf.start(2);
    expect(second.status).toBe(RunStatus.QUEUED);
    await expect(s.leases(300)).rejects.toThrow(/nothing expected/);
    s.send({ kind: { case: "grant", value: { credits: 1 } } });
    expect((await s.leases()).map((l) => l.run!.id)).toEqual([second.id]);
    s.end();
    expect(await s.closed()).toBeUndefined();
  });

  it("after drain pushes nothing more but still answers calls", async () => {
    const wf = workflow();
    const run = await wf.start();
    const s = openSession();
    s.send({ kind: { case: "open", value: wf.open(5) } });
    const [lease] = await s.leases();
    s.send({ kind: { case: "drain", value: {} } });
    const later = await wf.start();
    await expect(s.leases(500)).rejects.toThrow(/nothing expected/);
    const beat = await s.call({ case: "heartbeat", value: { workerId: "w", leases: [{ runId: run.id, leaseToken: lease!.leaseToken }] } });
    expect(beat.case === "heartbeat" && beat.value.leases.map((l) => l.held)).toEqual([true]);
    s.end();
    expect(await s.closed()).toBeUndefined();
    expect((await runs.getRun({ runId: later.id })).run?.status).toBe(RunStatus.QUEUED);
  });

  it("ends with OK when the server shuts down, after answering the call in flight", async () => {
    const own = await h.startServer();
    const locker = new pg.Client({ connectionString: own.database.url });
    await locker.connect();
    try {
      const wf = workflow();
      const run = (await own.client(RunService).startRun({ workflowName: wf.name, workflowVersionId: "1" })).run!;
      const s = openSession(own.client(WorkerLeaseService));
      s.send({ kind: { case: "open", value: wf.open(1) } });
      const [lease] = await s.leases();
      // Hold the run's row so the call is certainly in flight (waiting on the lock) at shutdown.
      await locker.query("begin");
      await locker.query("select id from runs where id = $1 for update", [run.id]);
      const answer = s.call({
        case: "startTask",
        value: { runId: run.id, leaseToken: lease!.leaseToken, name: "t", address: taskAddress("t", undefined), maxAttempts: 1 },
      });
      const deadline = Date.now() + 5_000;
      while ((await locker.query("select count(*)::int as n from pg_locks where not granted")).rows[0].n === 0) {
        if (Date.now() > deadline) throw new Error("the call never waited on the lock");
        await new Promise((r) => setTimeout(r, 10));
      }
      const closing = own.stopServer();
      await locker.query("commit");
      expect((await answer).case).toBe("startTask");
      expect(await s.closed()).toBeUndefined();
      await closing;
    } finally {
      await locker.end();
      await closeChecked(own);
    }
  });
});
