import { create, fromJson, type JsonValue as PbJson } from "@bufbuild/protobuf";
import { durationFromMs, type Timestamp, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  ChildRunRecordSchema,
  ChildWaitRecordSchema,
  ChildWaitStatus,
  type Event,
  EventSchema,
  EventWaitRecordSchema,
  EventWaitStatus,
  type RunHistory,
  RunHistorySchema,
  SleepRecordSchema,
  SleepStatus,
  type Task,
  TaskSchema,
  TaskStatus,
} from "@aiki/gen/aiki/v1/history_pb";
import { type Failure, FailureSchema } from "@aiki/gen/aiki/v1/payload_pb";
import { RunStatus as PbRunStatus } from "@aiki/gen/aiki/v1/run_pb";
import type { RunHistoryData } from "../engine/run-history.js";
import type { EventRow } from "../store/events.table.js";
import type { RunWaitRow } from "../store/run-waits.table.js";
import type { TaskRow } from "../store/tasks.table.js";
import type { JsonValue } from "../store/json.js";
import { jsonToValue, runStatusToPb } from "./run-mapping.js";

const ts = (d: Date | null): Timestamp | undefined => (d ? timestampFromDate(d) : undefined);
const ms = (n: number | null) => (n === null ? undefined : durationFromMs(n));

export function failureFromJson(json: JsonValue | null): Failure | undefined {
  return json ? fromJson(FailureSchema, json as PbJson, { ignoreUnknownFields: true }) : undefined;
}

const taskStatus = {
  running: TaskStatus.RUNNING,
  awaiting_retry: TaskStatus.AWAITING_RETRY,
  completed: TaskStatus.COMPLETED,
  failed: TaskStatus.FAILED,
} as const;

export function taskStatusToPb(status: string): TaskStatus {
  return taskStatus[status as keyof typeof taskStatus] ?? TaskStatus.UNSPECIFIED;
}

export function taskToPb(t: TaskRow): Task {
  return create(TaskSchema, {
    id: t.id,
    runId: t.run_id,
    name: t.name,
    address: t.address,
    sequence: t.sequence,
    status: taskStatus[t.status],
    attempts: t.attempts,
    input: jsonToValue(t.input),
    output: t.status === "completed" ? jsonToValue(t.output) : undefined,
    failure: failureFromJson(t.failure),
    nextAttemptTime: ts(t.next_attempt_time),
    workflowAttempt: t.workflow_attempt,
    createTime: ts(t.create_time),
    updateTime: ts(t.update_time),
  });
}

export function eventToPb(e: EventRow): Event {
  return create(EventSchema, {
    id: e.id,
    runId: e.run_id,
    name: e.name,
    data: jsonToValue(e.data),
    referenceId: e.reference_id ?? "",
    consumed: e.consume_time !== null,
    createTime: ts(e.create_time),
  });
}

function waitStatus<T>(w: RunWaitRow, table: Partial<Record<RunWaitRow["status"], T>>, fallback: T): T {
  return table[w.status] ?? fallback;
}

export function historyToPb(h: RunHistoryData): RunHistory {
  const sleeps = h.waits.filter((w) => w.kind === "sleep");
  const eventWaits = h.waits.filter((w) => w.kind === "event");
  const childWaits = h.waits.filter((w) => w.kind === "child");
  return create(RunHistorySchema, {
    tasks: h.tasks.map(taskToPb),
    sleeps: sleeps.map((w) =>
      create(SleepRecordSchema, {
        name: w.key,
        sequence: w.sequence,
        status: waitStatus(w, { waiting: SleepStatus.SLEEPING, completed: SleepStatus.COMPLETED, cancelled: SleepStatus.CANCELLED }, SleepStatus.UNSPECIFIED),
        duration: ms(w.duration_ms),
        startTime: ts(w.start_time),
        wakeTime: ts(w.deadline),
        endTime: ts(w.end_time),
      }),
    ),
    eventWaits: eventWaits.map((w) => {
      const event = w.event_id ? h.events.get(w.event_id) : undefined;
      return create(EventWaitRecordSchema, {
        eventName: w.key,
        sequence: w.sequence,
        status: waitStatus(
          w,
          { waiting: EventWaitStatus.WAITING, received: EventWaitStatus.RECEIVED, timed_out: EventWaitStatus.TIMED_OUT },
          EventWaitStatus.UNSPECIFIED,
        ),
        event: event ? eventToPb(event) : undefined,
        timeout: ms(w.timeout_ms),
        startTime: ts(w.start_time),
        endTime: ts(w.end_time),
      });
    }),
    childRuns: h.children.map((c) =>
      create(ChildRunRecordSchema, {
        key: c.key,
        workflowName: c.workflow_name,
        workflowVersionId: c.workflow_version_id,
        sequence: c.sequence,
        childRunId: c.child_run_id,
        createTime: ts(c.create_time),
      }),
    ),
    childWaits: childWaits.map((w) =>
      create(ChildWaitRecordSchema, {
        childRunId: w.key,
        sequence: w.sequence,
        awaitedStatus: w.awaited_status ? runStatusToPb(w.awaited_status) : PbRunStatus.UNSPECIFIED,
        status: waitStatus(
          w,
          { waiting: ChildWaitStatus.WAITING, finished: ChildWaitStatus.FINISHED, timed_out: ChildWaitStatus.TIMED_OUT },
          ChildWaitStatus.UNSPECIFIED,
        ),
        childStatus: w.child_status ? runStatusToPb(w.child_status) : PbRunStatus.UNSPECIFIED,
        output: w.child_status === "completed" ? jsonToValue(w.output) : undefined,
        failure: failureFromJson(w.failure),
        timeout: ms(w.timeout_ms),
        startTime: ts(w.start_time),
        endTime: ts(w.end_time),
      }),
    ),
  });
}
