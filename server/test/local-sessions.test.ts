// LocalSessions is pure bookkeeping (which of this server's sessions a start may hand its run
// to), so it is tested with plain objects; the real hand-over is in worker-session.test.ts.
import { describe, expect, it } from "vitest";
import { type LocalSession, LocalSessions } from "../src/engine/local-sessions.js";
import type { LeasedRun } from "../src/engine/lease-runs.js";

function session(workerId: string, opts: { credits: number; idle?: boolean; shards?: string[]; open?: boolean }) {
  const state = { credits: opts.credits, idle: opts.idle ?? true, open: opts.open ?? true, delivered: [] as string[] };
  const s: LocalSession = {
    worker: { namespace: "default", workerId, workerName: workerId, versions: [{ workflowName: "wf", workflowVersionId: "1" }], shards: opts.shards ?? [] },
    ttlMs: 30_000,
    idle: () => state.idle && state.credits > 0,
    takeCredit: () => {
      if (state.credits <= 0) return false;
      state.credits--;
      return true;
    },
    returnCredit: () => void state.credits++,
    deliver: (leased) => {
      if (!state.open) return false;
      state.delivered.push(leased.run.id);
      return true;
    },
  };
  return { s, state };
}
const leased = (id: string) => ({ run: { id } }) as unknown as LeasedRun;

describe("LocalSessions", () => {
  it("reserves a credit of an idle session serving the version and shard, round robin", () => {
    const reg = new LocalSessions();
    const a = session("a", { credits: 2 });
    const b = session("b", { credits: 2 });
    reg.add(a.s);
    reg.add(b.s);
    const first = reg.reserve("default", "wf", "1", "")!;
    const second = reg.reserve("default", "wf", "1", "")!;
    expect([first.workerId, second.workerId].sort()).toEqual(["a", "b"]);
    expect(a.state.credits + b.state.credits).toBe(2);
    expect(first.deliver(leased("r1"))).toBe(true);
    expect([...a.state.delivered, ...b.state.delivered]).toEqual(["r1"]);
  });

  it("skips busy sessions, other versions, other shards and sessions without credits", () => {
    const reg = new LocalSessions();
    reg.add(session("busy", { credits: 5, idle: false }).s);
    reg.add(session("empty", { credits: 0 }).s);
    reg.add(session("sharded", { credits: 5, shards: ["eu"] }).s);
    expect(reg.reserve("default", "wf", "1", "")).toBeUndefined();
    expect(reg.reserve("default", "wf", "2", "eu")).toBeUndefined();
    expect(reg.reserve("other", "wf", "1", "eu")).toBeUndefined();
    expect(reg.reserve("default", "wf", "1", "eu")?.workerId).toBe("sharded");
    expect(reg.idleCount("default", "wf", "1", "eu")).toBe(1);
    expect(reg.idleCount("default", "wf", "1")).toBe(0);
  });

  it("gives the credit back when the start did not lease, once, and never after a delivery", () => {
    const reg = new LocalSessions();
    const a = session("a", { credits: 1 });
    reg.add(a.s);
    const r = reg.reserve("default", "wf", "1", "")!;
    expect(a.state.credits).toBe(0);
    expect(reg.reserve("default", "wf", "1", "")).toBeUndefined();
    r.cancel();
    r.cancel();
    expect(a.state.credits).toBe(1);
    const again = reg.reserve("default", "wf", "1", "")!;
    again.deliver(leased("r2"));
    again.cancel();
    expect(a.state.credits).toBe(0);
  });

  it("forgets a removed session; a closed one refuses delivery so the caller releases the run", () => {
    const reg = new LocalSessions();
    const a = session("a", { credits: 3 });
    const remove = reg.add(a.s);
    const r = reg.reserve("default", "wf", "1", "")!;
    a.state.open = false;
    expect(r.deliver(leased("r3"))).toBe(false);
    remove();
    expect(reg.reserve("default", "wf", "1", "")).toBeUndefined();
    expect(reg.idleCount("default", "wf", "1")).toBe(0);
  });
});
