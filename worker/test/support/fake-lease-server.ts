// An in-memory stand-in for the server side of one leased run (TaskService and the fenced
// WorkerLeaseService calls), following the contracts in task_service.proto and
// worker_lease_service.proto. Lets executor tests drive replays step by step without Postgres.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationMs, type Value, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type ChildRunRecord,
  ChildRunRecordSchema,
  type ChildWaitRecord,
  ChildWaitRecordSchema,
  ChildWaitStatus,
  EventSchema,
  type EventWaitRecord,
  EventWaitRecordSchema,
  EventWaitStatus,
  RunHistorySchema,
  type SleepRecord,
  SleepRecordSchema,
  SleepStatus,
  type Task,
  TaskSchema,
  TaskStatus,
} from "@aiki/gen/aiki/v1/history_pb";
import type { Failure } from "@aiki/gen/aiki/v1/payload_pb";
import { type Run, RunFailureCause, RunSchema, RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { type Lease, LeaseSchema, type SuspendRunRequestSchema, SuspendRunResponseSchema } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { LeaseLostError } from "@aiki/sdk";
import { toValue } from "@aiki/sdk/internal";
import type { ExecutionRpc } from "../../src/run-execution.js";

type SuspendRequest = MessageInitShape<typeof SuspendRunRequestSchema>;

export type RunEnd =
  | { kind: "completed"; output: Value | undefined }
  | { kind: "failed"; cause: RunFailureCause; failure: Failure | undefined }
  | { kind: "suspended"; wait: string };

export class FakeLeaseServer {
  readonly run: Run;
  readonly tasks: Task[] = [];
  readonly sleeps: SleepRecord[] = [];
  readonly eventWaits: EventWaitRecord[] = [];
  readonly childRuns: ChildRunRecord[] = [];
  readonly childWaits: ChildWaitRecord[] = [];
  /** Events sent but not consumed yet, by name, FIFO. */
  readonly pendingEvents = new Map<string, unknown[]>();
  /** Terminal states of child runs, as the server would see them. */
  readonly children = new Map<string, { status: RunStatus; output?: unknown }>();
  /** Every RPC, in order, e.g. "StartTask charge#0". */
  readonly calls: string[] = [];
  end: RunEnd | undefined;
  private leaseToken = "";
  private leaseCount = 0;
  private nextId = 0;
  /** Set to make the next write fail as a lost lease (paused/cancelled meanwhile). */
  loseLeaseOnNextWrite = false;

  constructor(init: { workflowName: string; versionId: string; input?: unknown; attempt?: number }) {
    this.run = create(RunSchema, {
      id: "00000000-0000-4000-8000-000000000001",
      workflowName: init.workflowName,
      workflowVersionId: init.versionId,
      status: RunStatus.QUEUED,
      input: toValue(init.input),
      attempt: init.attempt ?? 1,
    });
  }

  /** A new lease carrying the history so far (what PollLeases would hand out). */
  lease(): Lease {
    this.leaseToken = `token-${++this.leaseCount}`;
    this.end = undefined;
    this.run.status = RunStatus.RUNNING;
    return create(LeaseSchema, { run: this.run, leaseToken: this.leaseToken, history: this.history() });
  }

  history() {
    return create(RunHistorySchema, {
      tasks: this.tasks.map((t) => create(TaskSchema, t)),
      sleeps: this.sleeps.map((s) => create(SleepRecordSchema, s)),
      eventWaits: this.eventWaits.map((w) => create(EventWaitRecordSchema, w)),
      childRuns: this.childRuns.map((c) => create(ChildRunRecordSchema, c)),
      childWaits: this.childWaits.map((w) => create(ChildWaitRecordSchema, w)),
    });
  }

  sendEvent(name: string, data?: unknown): void {
    const queue = this.pendingEvents.get(name) ?? [];
    queue.push(data);
    this.pendingEvents.set(name, queue);
  }

  /** The timer firing (or awake()) for a sleeping run. */
  finishSleep(name: string, sequence: number, status: SleepStatus = SleepStatus.COMPLETED): void {
    const sleep = this.sleeps.find((s) => s.name === name && s.sequence === sequence);
    if (!sleep) throw new Error(`no sleep ${name}#${sequence}`);
    sleep.status = status;
  }

  /** The event-wait timeout passing. */
  timeOutEventWait(name: string, sequence: number): void {
    const wait = this.eventWaits.find((w) => w.eventName === name && w.sequence === sequence);
    if (!wait) throw new Error(`no wait ${name}#${sequence}`);
    wait.status = EventWaitStatus.TIMED_OUT;
  }

  /** A child reaching a terminal state; resolves waits on it like the server's wake-parent. */
  finishChild(childRunId: string, status: RunStatus, output?: unknown): void {
    this.children.set(childRunId, { status, output });
    for (const w of this.childWaits) {
      if (w.childRunId === childRunId && w.status === ChildWaitStatus.WAITING) {
        Object.assign(w, { status: ChildWaitStatus.FINISHED, childStatus: status, output: toValue(output) });
      }
    }
  }

  /** Makes a task awaiting retry due now. */
  makeRetryDue(): void {
    for (const t of this.tasks) if (t.status === TaskStatus.AWAITING_RETRY) t.nextAttemptTime = timestampFromMs(Date.now() - 1);
  }

  readonly rpc: ExecutionRpc = {
    tasks: {
      startTask: async (req) => {
        this.fence("StartTask", req.leaseToken, `${req.name}#${req.sequence}`);
        this.recordCompletions(req.completedTasks);
        let task = this.tasks.find((t) => t.address === req.address && t.sequence === req.sequence);
        if (!task) {
          task = create(TaskSchema, {
            id: `task-${++this.nextId}`,
            runId: this.run.id,
            name: req.name,
            address: req.address,
            sequence: req.sequence ?? 0,
            status: TaskStatus.RUNNING,
            attempts: 1,
            input: req.input as Value | undefined,
            workflowAttempt: this.run.attempt,
          });
          (task as Task & { maxAttempts?: number }).maxAttempts = req.maxAttempts;
          this.tasks.push(task);
        } else if (task.status === TaskStatus.FAILED && task.workflowAttempt < this.run.attempt) {
          Object.assign(task, { status: TaskStatus.RUNNING, attempts: 1, workflowAttempt: this.run.attempt, failure: undefined });
        } else if (task.status === TaskStatus.RUNNING) {
          if (task.attempts >= (req.maxAttempts ?? 1)) {
            Object.assign(task, { status: TaskStatus.FAILED, failure: { message: "attempt lost", type: "TaskAttemptLost", nonRetryable: true } });
          } else task.attempts++;
        } else if (task.status === TaskStatus.AWAITING_RETRY) {
          Object.assign(task, { status: TaskStatus.RUNNING, attempts: task.attempts + 1, nextAttemptTime: undefined });
        }
        return { task: create(TaskSchema, task) } as never;
      },
      completeTask: async (req) => {
        const task = this.taskById(req.taskId ?? "");
        this.fence("CompleteTask", req.leaseToken, `${task.name}#${task.sequence}`);
        if (task.status !== TaskStatus.RUNNING || task.attempts !== req.attempt) throw new Error("stale attempt");
        Object.assign(task, { status: TaskStatus.COMPLETED, output: req.output });
        return { task: create(TaskSchema, task) } as never;
      },
      failTask: async (req) => {
        const task = this.taskById(req.taskId ?? "");
        this.fence("FailTask", req.leaseToken, `${task.name}#${task.sequence}`);
        if (task.status !== TaskStatus.RUNNING || task.attempts !== req.attempt) throw new Error("stale attempt");
        const delay = req.retryDelay ? durationMs(req.retryDelay as never) : undefined;
        Object.assign(task, {
          status: delay === undefined ? TaskStatus.FAILED : TaskStatus.AWAITING_RETRY,
          failure: req.failure,
          nextAttemptTime: delay === undefined ? undefined : timestampFromMs(Date.now() + delay),
        });
        return { task: create(TaskSchema, task) } as never;
      },
    },
    leases: {
      suspendRun: async (req) => {
        const wait = (req as SuspendRequest).wait;
        this.fence("SuspendRun", req.leaseToken, describeWait(wait));
        this.recordCompletions(req.completedTasks);
        const resolved = this.decide(wait);
        if (!resolved) {
          this.leaseToken = "";
          this.end = { kind: "suspended", wait: describeWait(wait) };
        }
        return create(SuspendRunResponseSchema, { run: this.run, suspended: !resolved, history: this.history() }) as never;
      },
      completeRun: async (req) => {
        this.fence("CompleteRun", req.leaseToken, "");
        this.recordCompletions(req.completedTasks);
        this.leaseToken = "";
        this.run.status = RunStatus.COMPLETED;
        this.end = { kind: "completed", output: req.output as Value | undefined };
        return { run: this.run } as never;
      },
      failRun: async (req) => {
        this.fence("FailRun", req.leaseToken, "");
        this.leaseToken = "";
        this.run.status = RunStatus.FAILED;
        this.end = { kind: "failed", cause: req.cause ?? RunFailureCause.UNSPECIFIED, failure: req.failure as Failure | undefined };
        return { run: this.run } as never;
      },
      startChildRun: async (req) => {
        this.fence("StartChildRun", req.leaseToken, `${req.key}#${req.sequence}`);
        let record = this.childRuns.find((c) => c.key === req.key && c.sequence === req.sequence);
        if (!record) {
          record = create(ChildRunRecordSchema, {
            key: req.key,
            sequence: req.sequence ?? 0,
            workflowName: req.workflowName,
            workflowVersionId: req.workflowVersionId,
            childRunId: `00000000-0000-4000-8000-${String(++this.nextId).padStart(12, "0")}`,
          });
          this.childRuns.push(record);
        }
        const child = create(RunSchema, {
          id: record.childRunId,
          workflowName: record.workflowName,
          workflowVersionId: record.workflowVersionId,
          status: RunStatus.QUEUED,
          parentRunId: this.run.id,
          referenceId: req.referenceId,
        });
        return { run: child, existing: false } as never;
      },
    },
  };

  private decide(wait: SuspendRequest["wait"]): boolean {
    switch (wait?.case) {
      case "sleep": {
        const { name = "", sequence = 0 } = wait.value;
        let row = this.sleeps.find((s) => s.name === name && s.sequence === sequence);
        if (row && row.status !== SleepStatus.SLEEPING) return true;
        if (!row) {
          row = create(SleepRecordSchema, { name, sequence, status: SleepStatus.SLEEPING, duration: wait.value.duration as never });
          this.sleeps.push(row);
        }
        if (!wait.value.duration || durationMs(wait.value.duration as never) === 0) {
          row.status = SleepStatus.COMPLETED;
          return true;
        }
        return false;
      }
      case "eventWait": {
        const { eventName = "", sequence = 0 } = wait.value;
        let row = this.eventWaits.find((w) => w.eventName === eventName && w.sequence === sequence);
        if (row && row.status !== EventWaitStatus.WAITING) return true;
        if (!row) {
          row = create(EventWaitRecordSchema, { eventName, sequence, status: EventWaitStatus.WAITING });
          this.eventWaits.push(row);
        }
        const queue = this.pendingEvents.get(eventName) ?? [];
        if (queue.length > 0) {
          const data = queue.shift();
          Object.assign(row, { status: EventWaitStatus.RECEIVED, event: create(EventSchema, { name: eventName, data: toValue(data), consumed: true }) });
          return true;
        }
        if (wait.value.timeout && durationMs(wait.value.timeout as never) === 0) {
          row.status = EventWaitStatus.TIMED_OUT;
          return true;
        }
        return false;
      }
      case "childWait": {
        const { childRunId = "", sequence = 0 } = wait.value;
        let row = this.childWaits.find((w) => w.childRunId === childRunId && w.sequence === sequence);
        if (row && row.status !== ChildWaitStatus.WAITING) return true;
        if (!row) {
          row = create(ChildWaitRecordSchema, { childRunId, sequence, status: ChildWaitStatus.WAITING, awaitedStatus: wait.value.awaitedStatus });
          this.childWaits.push(row);
        }
        const child = this.children.get(childRunId);
        if (child) {
          Object.assign(row, { status: ChildWaitStatus.FINISHED, childStatus: child.status, output: toValue(child.output) });
          return true;
        }
        return false;
      }
      case "taskRetry": {
        const task = this.taskById(wait.value.taskId ?? "");
        if (task.status !== TaskStatus.AWAITING_RETRY) throw new Error(`task ${task.id} is not awaiting a retry`);
        return !!task.nextAttemptTime && Number(task.nextAttemptTime.seconds) * 1000 <= Date.now();
      }
      default:
        throw new Error("SuspendRun without a wait");
    }
  }

  private taskById(id: string): Task {
    const task = this.tasks.find((t) => t.id === id);
    if (!task) throw new Error(`no task ${id}`);
    return task;
  }

  /**
   * Completions carried by another write (TaskCompletion), each logged as "+completed name#seq"
   * after that write's call: idempotent per attempt, a stale one refuses the whole write.
   */
  private recordCompletions(completed: ReadonlyArray<{ taskId?: string; attempt?: number; output?: unknown }> | undefined): void {
    for (const c of completed ?? []) {
      const task = this.taskById(c.taskId ?? "");
      const sameAttempt = task.attempts === c.attempt;
      if (!sameAttempt || (task.status !== TaskStatus.RUNNING && task.status !== TaskStatus.COMPLETED)) throw new Error("stale attempt");
    }
    for (const c of completed ?? []) {
      const task = this.taskById(c.taskId ?? "");
      Object.assign(task, { status: TaskStatus.COMPLETED, output: c.output });
      this.calls.push(`+completed ${task.name}#${task.sequence}`);
    }
  }

  private fence(method: string, token: string | undefined, what: string): void {
    this.calls.push(what ? `${method} ${what}` : method);
    if (this.loseLeaseOnNextWrite || token !== this.leaseToken || this.leaseToken === "") {
      this.loseLeaseOnNextWrite = false;
      this.leaseToken = "";
      throw new LeaseLostError("lease lost", { runId: this.run.id, currentStatus: "paused" });
    }
  }
}

function describeWait(wait: SuspendRequest["wait"]): string {
  switch (wait?.case) {
    case "sleep":
      return `sleep ${wait.value.name}#${wait.value.sequence}`;
    case "eventWait":
      return `event ${wait.value.eventName}#${wait.value.sequence}`;
    case "childWait":
      return `child ${wait.value.childRunId}#${wait.value.sequence}`;
    case "taskRetry":
      return `task_retry ${wait.value.taskId}`;
    default:
      return "?";
  }
}
