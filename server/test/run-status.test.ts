import { describe, expect, it } from "vitest";
import { InvalidTransitionError } from "../src/domain/errors.js";
import { type RunAction, targetStatusFor } from "../src/domain/run-actions.js";
import { allowedTransitions, canTransition, isTerminal, runStatuses } from "../src/domain/run-status.js";

const actions: RunAction[] = ["cancel", "pause", "resume", "awake"];

// docs/semantics.md, Run states, written out independently of the implementation's table.
const expected: Record<RunAction, Record<string, string | null>> = {
  cancel: {
    scheduled: "cancelled",
    queued: "cancelled",
    running: "cancelled",
    paused: "cancelled",
    sleeping: "cancelled",
    awaiting_event: "cancelled",
    awaiting_retry: "cancelled",
    awaiting_child_workflow: "cancelled",
    completed: null,
    failed: null,
    cancelled: null,
  },
  pause: {
    scheduled: "paused",
    queued: "paused",
    running: "paused",
    paused: null,
    sleeping: "paused",
    awaiting_event: "paused",
    awaiting_retry: "paused",
    awaiting_child_workflow: "paused",
    completed: null,
    failed: null,
    cancelled: null,
  },
  resume: {
    scheduled: null,
    queued: null,
    running: null,
    paused: "queued",
    sleeping: null,
    awaiting_event: null,
    awaiting_retry: null,
    awaiting_child_workflow: null,
    completed: null,
    failed: null,
    cancelled: null,
  },
  awake: {
    scheduled: null,
    queued: null,
    running: null,
    paused: null,
    sleeping: "queued",
    awaiting_event: null,
    awaiting_retry: null,
    awaiting_child_workflow: null,
    completed: null,
    failed: null,
    cancelled: null,
  },
};

describe("run actions", () => {
  for (const action of actions) {
    for (const status of runStatuses) {
      const want = expected[action][status];
      it(`${action} on ${status} → ${want ?? "refused"}`, () => {
        const run = { id: "r1", status, revision: 7 };
        if (want === null) {
          const error = (() => {
            try {
              targetStatusFor(action, run);
            } catch (e) {
              return e;
            }
          })();
          expect(error).toBeInstanceOf(InvalidTransitionError);
          expect(error).toMatchObject({ runId: "r1", currentStatus: status, action, revision: 7 });
          expect((error as Error).message).toContain(status);
        } else {
          const to = targetStatusFor(action, run);
          expect(to).toBe(want);
          // Every action's move is a legal transition of the state machine.
          expect(canTransition(status, to)).toBe(true);
        }
      });
    }
  }
});

describe("transition table", () => {
  it("terminal states have no way out", () => {
    for (const s of runStatuses) if (isTerminal(s)) expect(allowedTransitions[s]).toEqual([]);
  });
  it("a worker's lost lease sends a running run back to queued, and only running ones", () => {
    expect(canTransition("running", "queued")).toBe(true);
    expect(canTransition("sleeping", "running")).toBe(false);
    expect(canTransition("completed", "queued")).toBe(false);
  });
  it("every target is a known status", () => {
    for (const targets of Object.values(allowedTransitions)) for (const t of targets) expect(runStatuses).toContain(t);
  });
});
