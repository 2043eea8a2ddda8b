// The choice of what a rerun copies (engine/rerun-prefix.ts; docs/semantics.md, Rerun), as pure
// logic on hand-made histories: creation order to the microsecond, ties between tasks of one
// statement by id, the point, the first unfinished record, children by their status now.
import { describe, expect, it } from "vitest";
import type { RunStatus } from "../src/domain/run-status.js";
import { InvalidArgumentError } from "../src/domain/errors.js";
import { type RerunFrom, selectRerunPrefix } from "../src/engine/rerun-prefix.js";
import type { RunHistoryData } from "../src/engine/run-history.js";
import type { ChildRunRow } from "../src/store/child-runs.table.js";
import type { RunWaitRow } from "../src/store/run-waits.table.js";
import type { TaskRow, TaskStatus } from "../src/store/tasks.table.js";
import { timelineKey } from "../src/store/history-copy-repository.js";

const t0 = new Date("2026-01-01T00:00:00Z");

function task(id: string, name: string, status: TaskStatus): TaskRow {
  return {
    namespace: "default",
    id,
    run_id: "r",
    name,
    address: `${name}:h`,
    sequence: 0,
    status,
    attempts: 1,
    max_attempts: 1,
    input: null,
    output: null,
    failure: null,
    next_attempt_time: null,
    workflow_attempt: 1,
    attempt_id: null,
    create_time: t0,
    update_time: t0,
  };
}
function sleep(name: string, status: RunWaitRow["status"]): RunWaitRow {
  return {
    namespace: "default",
    run_id: "r",
    kind: "sleep",
    key: name,
    sequence: 0,
    status,
    duration_ms: 1,
    timeout_ms: null,
    start_time: t0,
    deadline: null,
    end_time: null,
    event_id: null,
    awaited_status: null,
    child_status: null,
    output: null,
    failure: null,
  };
}
function child(key: string, childRunId: string): ChildRunRow {
  return {
    namespace: "default",
    parent_run_id: "r",
    key,
    sequence: 0,
    child_run_id: childRunId,
    workflow_name: "c",
    workflow_version_id: "1",
    create_time: t0,
  };
}

/** A history whose records were created at the given microseconds. */
function historyOf(records: Array<[TaskRow | RunWaitRow | ChildRunRow, number]>) {
  const history: RunHistoryData = { tasks: [], waits: [], children: [], events: new Map() };
  const timeline = new Map<string, bigint>();
  for (const [row, micros] of records) {
    if ("attempts" in row) {
      history.tasks.push(row);
      timeline.set(timelineKey({ kind: "task", id: row.id }), BigInt(micros));
    } else if ("child_run_id" in row) {
      history.children.push(row);
      timeline.set(timelineKey({ kind: "child", row }), BigInt(micros));
    } else {
      history.waits.push(row);
      timeline.set(timelineKey({ kind: "wait", row }), BigInt(micros));
    }
  }
  return { history, timeline };
}

const select = (h: ReturnType<typeof historyOf>, from: RerunFrom, children: Record<string, RunStatus> = {}) => {
  const p = selectRerunPrefix(h.history, h.timeline, from, new Map(Object.entries(children)));
  return { names: [...p.tasks.map((t) => t.name), ...p.waits.map((w) => `sleep ${w.key}`), ...p.children.map((c) => `child ${c.key}`)], step: p.step };
};

describe("selectRerunPrefix", () => {
  it("orders by creation to the microsecond (not the order rows are listed in), and stops at the point", () => {
    // Listed by id, but created b (1 µs), nap (2 µs), a (3 µs), c (4 µs).
    const h = historyOf([
      [task("01", "a", "completed"), 3],
      [task("02", "b", "completed"), 1],
      [task("03", "c", "failed"), 4],
      [sleep("nap", "completed"), 2],
    ]);
    expect(select(h, { kind: "last_failure" })).toEqual({
      names: ["b", "a", "sleep nap"],
      step: { kind: "task", address: "c:h", sequence: 0, lastFailure: true },
    });
    expect(select(h, { kind: "task", address: "a:h", sequence: 0 }).names).toEqual(["b", "sleep nap"]);
    expect(select(h, { kind: "start" })).toEqual({ names: [], step: { kind: "start" } });
  });

  it("tasks of one statement (the same microsecond) keep id order; the point's own statement-mates after it are not copied, other kinds of that moment neither", () => {
    const h = historyOf([
      [task("01", "a", "completed"), 5],
      [task("02", "b", "failed"), 5],
      [task("03", "c", "completed"), 5],
      [sleep("nap", "completed"), 5],
    ]);
    expect(select(h, { kind: "last_failure" }).names).toEqual(["a"]);
  });

  it("the last failure is the newest failed task; without one, every finished record (history_end)", () => {
    const failedTwice = historyOf([
      [task("01", "a", "failed"), 1],
      [task("02", "b", "completed"), 2],
      [task("03", "c", "failed"), 3],
    ]);
    expect(select(failedTwice, { kind: "last_failure" }).names).toEqual(["a", "b"]);
    const none = historyOf([
      [task("01", "a", "completed"), 1],
      [sleep("nap", "cancelled"), 2],
    ]);
    expect(select(none, { kind: "last_failure" })).toEqual({ names: ["a", "sleep nap"], step: { kind: "history_end", lastFailure: true } });
  });

  it("the first unfinished record ends the copy: a running or retrying task, an open wait, a child still running", () => {
    const running = historyOf([
      [task("01", "a", "completed"), 1],
      [task("02", "b", "running"), 2],
      [task("03", "c", "completed"), 3],
      [task("04", "d", "failed"), 4],
    ]);
    expect(select(running, { kind: "last_failure" }).names).toEqual(["a"]);
    const retrying = historyOf([
      [task("01", "a", "awaiting_retry"), 1],
      [task("02", "b", "completed"), 2],
    ]);
    expect(select(retrying, { kind: "last_failure" }).names).toEqual([]);
    const open = historyOf([
      [task("01", "a", "completed"), 1],
      [sleep("nap", "waiting"), 2],
    ]);
    expect(select(open, { kind: "last_failure" }).names).toEqual(["a"]);
    const kids = historyOf([
      [child("k1", "c1"), 1],
      [child("k2", "c2"), 2],
      [task("01", "a", "completed"), 3],
    ]);
    expect(select(kids, { kind: "last_failure" }, { c1: "completed", c2: "running" }).names).toEqual(["child k1"]);
    expect(select(kids, { kind: "last_failure" }, { c1: "failed", c2: "cancelled" }).names).toEqual(["a", "child k1", "child k2"]);
  });

  it("a step the source does not have is an InvalidArgumentError naming `step`", () => {
    const h = historyOf([[task("01", "a", "completed"), 1]]);
    const error = (() => {
      try {
        select(h, { kind: "task", address: "a:h", sequence: 1 });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).violations.map((v) => v.field)).toEqual(["step"]);
  });
});
