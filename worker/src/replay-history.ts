import {
  type ChildRunRecord,
  type ChildWaitRecord,
  ChildWaitStatus,
  type EventWaitRecord,
  EventWaitStatus,
  type RunHistory,
  type SleepRecord,
  SleepStatus,
  type Task,
  TaskStatus,
} from "@aiki/gen/aiki/v1/history_pb";
import type { UnconsumedEntry } from "@aiki/sdk";

type Kind = UnconsumedEntry["kind"];

interface Entry<R> {
  kind: Kind;
  key: string;
  sequence: number;
  record: R;
  description: string;
}

/** A matched call: its sequence among calls with the same key, and the record history has for it. */
export interface Claim<R> {
  sequence: number;
  record: R | undefined;
}

const label = (status: number, names: Record<number, string>) => names[status] ?? `status ${status}`;
const taskStatusNames: Record<number, string> = {
  [TaskStatus.RUNNING]: "running",
  [TaskStatus.AWAITING_RETRY]: "awaiting retry",
  [TaskStatus.COMPLETED]: "completed",
  [TaskStatus.FAILED]: "failed",
};
const sleepStatusNames: Record<number, string> = {
  [SleepStatus.SLEEPING]: "sleeping",
  [SleepStatus.COMPLETED]: "completed",
  [SleepStatus.CANCELLED]: "cancelled",
};
const eventWaitStatusNames: Record<number, string> = {
  [EventWaitStatus.WAITING]: "waiting",
  [EventWaitStatus.RECEIVED]: "received",
  [EventWaitStatus.TIMED_OUT]: "timed out",
};
const childWaitStatusNames: Record<number, string> = {
  [ChildWaitStatus.WAITING]: "waiting",
  [ChildWaitStatus.FINISHED]: "finished",
  [ChildWaitStatus.TIMED_OUT]: "timed out",
};

/**
 * A run's recorded history as one execution consumes it. Each kind of call has its own key
 * (task address, sleep name, event name, child key, child run id); calls with the same key form
 * a queue, and the n-th call (0-based) matches the record with sequence n. Matching marks the
 * record consumed; records never reached are what a non-determinism failure names.
 */
export class ReplayHistory {
  private readonly entries = new Map<string, Entry<unknown>>();
  private readonly consumed = new Set<string>();
  private readonly nextSequence = new Map<string, number>();

  constructor(history: RunHistory | undefined) {
    if (!history) return;
    for (const t of history.tasks) {
      this.add("task", t.address, t.sequence, t, `task "${t.name}" (${t.address}) #${t.sequence} (${label(t.status, taskStatusNames)})`);
    }
    for (const s of history.sleeps) {
      this.add("sleep", s.name, s.sequence, s, `sleep "${s.name}" #${s.sequence} (${label(s.status, sleepStatusNames)})`);
    }
    for (const w of history.eventWaits) {
      this.add("event_wait", w.eventName, w.sequence, w, `wait for event "${w.eventName}" #${w.sequence} (${label(w.status, eventWaitStatusNames)})`);
    }
    for (const c of history.childRuns) {
      this.add("child_run", c.key, c.sequence, c, `child run of "${c.workflowName}" ${c.workflowVersionId} (key ${c.key}) #${c.sequence}`);
    }
    for (const w of history.childWaits) {
      this.add("child_wait", w.childRunId, w.sequence, w, `wait for child run ${w.childRunId} #${w.sequence} (${label(w.status, childWaitStatusNames)})`);
    }
  }

  claimTask(address: string): Claim<Task> {
    return this.claim("task", address);
  }

  claimSleep(name: string): Claim<SleepRecord> {
    return this.claim("sleep", name);
  }

  claimEventWait(eventName: string): Claim<EventWaitRecord> {
    return this.claim("event_wait", eventName);
  }

  claimChildRun(key: string): Claim<ChildRunRecord> {
    return this.claim("child_run", key);
  }

  claimChildWait(childRunId: string): Claim<ChildWaitRecord> {
    return this.claim("child_wait", childRunId);
  }

  /** The task records this execution has not reached, in history order. */
  unconsumedTasks(): Task[] {
    const out: Task[] = [];
    for (const [id, e] of this.entries) if (e.kind === "task" && !this.consumed.has(id)) out.push(e.record as Task);
    return out;
  }

  /** True while recorded entries remain that this execution has not reached. */
  hasUnconsumed(): boolean {
    return this.consumed.size < this.entries.size;
  }

  /** The recorded entries not reached yet, in history order. */
  unconsumed(): UnconsumedEntry[] {
    const out: UnconsumedEntry[] = [];
    for (const [id, e] of this.entries) {
      if (!this.consumed.has(id)) out.push({ kind: e.kind, key: e.key, sequence: e.sequence, description: e.description });
    }
    return out;
  }

  private add(kind: Kind, key: string, sequence: number, record: unknown, description: string): void {
    this.entries.set(entryId(kind, key, sequence), { kind, key, sequence, record, description });
  }

  private claim<R>(kind: Kind, key: string): Claim<R> {
    const queue = `${kind}\u0000${key}`;
    const sequence = this.nextSequence.get(queue) ?? 0;
    this.nextSequence.set(queue, sequence + 1);
    const id = entryId(kind, key, sequence);
    const entry = this.entries.get(id);
    if (entry) this.consumed.add(id);
    return { sequence, record: entry?.record as R | undefined };
  }
}

function entryId(kind: Kind, key: string, sequence: number): string {
  return `${kind}\u0000${key}\u0000${sequence}`;
}

/** Finders for the record of one call in a history returned by SuspendRun. */
export const findRecord = {
  sleep: (h: RunHistory | undefined, name: string, sequence: number) => h?.sleeps.find((s) => s.name === name && s.sequence === sequence),
  eventWait: (h: RunHistory | undefined, eventName: string, sequence: number) =>
    h?.eventWaits.find((w) => w.eventName === eventName && w.sequence === sequence),
  childWait: (h: RunHistory | undefined, childRunId: string, sequence: number) =>
    h?.childWaits.find((w) => w.childRunId === childRunId && w.sequence === sequence),
};
