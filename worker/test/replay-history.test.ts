import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ChildWaitStatus, EventWaitStatus, RunHistorySchema, SleepStatus, TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { ReplayHistory } from "../src/replay-history.js";

const history = (init: Parameters<typeof create<typeof RunHistorySchema>>[1]) => new ReplayHistory(create(RunHistorySchema, init));
const task = (address: string, sequence: number, status = TaskStatus.COMPLETED) => ({
  id: `${address}#${sequence}`,
  name: address.split(":")[0]!,
  address,
  sequence,
  status,
});

describe("ReplayHistory", () => {
  it("numbers calls per address and matches them to records by (address, sequence)", () => {
    const h = history({ tasks: [task("a:1", 0), task("a:1", 1), task("b:2", 0)] });
    expect(h.claimTask("a:1")).toMatchObject({ sequence: 0, record: { id: "a:1#0" } });
    expect(h.claimTask("b:2")).toMatchObject({ sequence: 0, record: { id: "b:2#0" } });
    expect(h.claimTask("a:1")).toMatchObject({ sequence: 1, record: { id: "a:1#1" } });
    expect(h.hasUnconsumed()).toBe(false);
    expect(h.claimTask("a:1")).toEqual({ sequence: 2, record: undefined });
  });

  it("allows reordering: a record reached later than it was recorded still counts", () => {
    const h = history({ tasks: [task("a:1", 0), task("b:2", 0)] });
    h.claimTask("b:2");
    expect(h.unconsumed().map((e) => e.key)).toEqual(["a:1"]);
    h.claimTask("a:1");
    expect(h.hasUnconsumed()).toBe(false);
  });

  it("names what was never reached, across every kind of entry", () => {
    const h = history({
      tasks: [task("charge:ab", 0, TaskStatus.RUNNING)],
      sleeps: [{ name: "cool-off", sequence: 0, status: SleepStatus.COMPLETED }],
      eventWaits: [{ eventName: "approved", sequence: 0, status: EventWaitStatus.RECEIVED }],
      childRuns: [{ key: "order-1", workflowName: "courier", workflowVersionId: "1.0.0", sequence: 0, childRunId: "c-1" }],
      childWaits: [{ childRunId: "c-1", sequence: 0, status: ChildWaitStatus.TIMED_OUT }],
    });
    expect(h.hasUnconsumed()).toBe(true);
    h.claimSleep("cool-off");
    expect(h.unconsumed().map((e) => e.description)).toEqual([
      'task "charge" (charge:ab) #0 (running)',
      'wait for event "approved" #0 (received)',
      'child run of "courier" 1.0.0 (key order-1) #0',
      "wait for child run c-1 #0 (timed out)",
    ]);
    h.claimEventWait("approved");
    h.claimChildRun("order-1");
    h.claimChildWait("c-1");
    h.claimTask("charge:ab");
    expect(h.unconsumed()).toEqual([]);
  });

  it("keeps the queues of different kinds apart even with equal keys", () => {
    const h = history({ sleeps: [{ name: "x", sequence: 0, status: SleepStatus.COMPLETED }] });
    expect(h.claimEventWait("x")).toEqual({ sequence: 0, record: undefined });
    expect(h.claimSleep("x").record).toBeDefined();
  });

  it("treats a missing history as empty", () => {
    const h = new ReplayHistory(undefined);
    expect(h.hasUnconsumed()).toBe(false);
    expect(h.claimSleep("s")).toEqual({ sequence: 0, record: undefined });
  });
});
