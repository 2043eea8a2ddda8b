// schedule(spec).activate(client, version, input) end to end: a worker runs the occurrences;
// pause, resume and delete; idempotent activation; typed errors; input checked by the version's
// schema before anything is sent.
import { describe, expect, it } from "vitest";
import type { Run } from "@aiki/gen/aiki/v1/run_pb";
import {
  InvalidArgumentError,
  schedule,
  ScheduleConflictError,
  ScheduleNotFoundError,
  ScheduleStateError,
  type Schema,
  SchemaValidationError,
  workflow,
} from "@aiki/sdk";
import { clientInternals } from "@aiki/sdk/internal";
import { uniq, useRealAiki } from "./support/real-aiki.js";

const real = useRealAiki();

const until = async (check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition") => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

const runsOf = async (workflowName: string): Promise<Run[]> => (await clientInternals(real.client).runs.listRuns({ workflowName, pageSize: 1000 })).runs;

const countSchema: Schema<{ count: number }> = {
  parse(data) {
    if (typeof data === "object" && data !== null && Number.isInteger((data as { count?: unknown }).count)) return data as { count: number };
    throw new Error("expected { count: integer }");
  },
};

describe("schedule().activate()", () => {
  it("fires every second; a worker runs each occurrence; pause, resume and delete work", async () => {
    const executed: string[] = [];
    const v = workflow({ name: uniq("ticker") }).v("1", {
      async handler(run, input: { count: number }) {
        executed.push(run.id);
        return input.count * 2;
      },
      schema: { input: countSchema },
    });
    await real.spawn([v]);

    const ticker = await schedule({ type: "interval", every: { seconds: 1 }, name: uniq("every-second") }).activate(real.client, v, { count: 21 });
    expect(ticker.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(ticker.existing).toBe(false);
    expect(ticker.state).toMatchObject({
      status: "active",
      workflowName: v.name,
      versionId: "1",
      spec: { type: "interval", every: 1_000 },
      overlapPolicy: "allow",
      input: { count: 21 },
    });
    expect(ticker.state.nextTime).toBeInstanceOf(Date);

    // Occurrences start runs with reference schedule:{id}:{time}, and the worker completes them.
    await until(() => executed.length >= 2, 10_000, "two occurrences executed");
    const fired = await runsOf(v.name);
    expect(fired.every((r) => r.referenceId.startsWith(`schedule:${ticker.id}:`))).toBe(true);
    const first = await v.getHandleById(real.client, executed[0]!);
    const done = await first.waitForStatus("completed", { timeout: 5_000 });
    expect(done.success && done.state.output).toBe(42);
    expect((await ticker.refresh()).lastTime).toBeInstanceOf(Date);

    await ticker.pause();
    expect(ticker.state.status).toBe("paused");
    expect(ticker.state.nextTime).toBeUndefined();
    await expect(ticker.pause()).rejects.toMatchObject({ name: "ScheduleStateError", scheduleId: ticker.id, action: "pause", currentStatus: "paused" });
    // Nothing fires while paused (an absence, so it takes a wait longer than the interval).
    const whilePaused = (await runsOf(v.name)).length;
    await new Promise((r) => setTimeout(r, 2_200));
    expect((await runsOf(v.name)).length).toBe(whilePaused);

    await ticker.resume();
    expect(ticker.state.status).toBe("active");
    await expect(ticker.resume()).rejects.toBeInstanceOf(ScheduleStateError);
    await until(async () => (await runsOf(v.name)).length > whilePaused, 5_000, "an occurrence after resume");

    await ticker.delete();
    const afterDelete = (await runsOf(v.name)).length;
    await expect(ticker.refresh()).rejects.toMatchObject({ name: "ScheduleNotFoundError", scheduleId: ticker.id, code: "not_found" });
    await expect(ticker.pause()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    await expect(ticker.delete()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await runsOf(v.name)).length).toBe(afterDelete);
    // Every run it started completes on the worker.
    await until(async () => (await runsOf(v.name)).every((r) => executed.includes(r.id)), 5_000, "every run executed");
  });

  it("is idempotent; the same name with another definition throws ScheduleConflictError", async () => {
    const v = workflow({ name: uniq("report") }).v("1", { handler: async (_run, input: { to: string }) => input.to });
    const name = uniq("weekly-report");
    const weekly = schedule({ type: "cron", expression: "0 9 * * 1", timezone: "Europe/Berlin", overlapPolicy: "skip", name });
    const a = await weekly.activate(real.client, v, { to: "ops" });
    const b = await weekly.activate(real.client, v, { to: "ops" });
    expect(b.id).toBe(a.id);
    expect([a.existing, b.existing]).toEqual([false, true]);
    expect(b.name).toBe(name);
    expect(b.state.spec).toEqual({ type: "cron", expression: "0 9 * * 1", timezone: "Europe/Berlin" });
    expect(b.state.overlapPolicy).toBe("skip");

    const conflict = await weekly.activate(real.client, v, { to: "sales" }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(ScheduleConflictError);
    expect(conflict).toMatchObject({ scheduleName: name, existingScheduleId: a.id, code: "already_exists" });
    await expect(
      schedule({ type: "cron", expression: "0 10 * * 1", timezone: "Europe/Berlin", overlapPolicy: "skip", name }).activate(real.client, v, { to: "ops" }),
    ).rejects.toBeInstanceOf(ScheduleConflictError);
    await expect(weekly.activate(real.client, v, { to: "ops" }, { shard: "eu" })).rejects.toBeInstanceOf(ScheduleConflictError);

    // Unnamed: identified by the definition; another definition is another schedule.
    const yearly = schedule({ type: "cron", expression: "0 0 1 1 *" });
    const c = await yearly.activate(real.client, v, { to: "x" });
    const d = await yearly.activate(real.client, v, { to: "x" });
    const e = await yearly.activate(real.client, v, { to: "y" });
    expect(d.id).toBe(c.id);
    expect(d.existing).toBe(true);
    expect(e.id).not.toBe(c.id);
    expect(c.name).toBeUndefined();

    // Deleted, the name is free for a new definition.
    await a.delete();
    const renewed = await weekly.activate(real.client, v, { to: "sales" });
    expect(renewed.existing).toBe(false);
    expect(renewed.state.input).toEqual({ to: "sales" });
    for (const h of [renewed, c, e]) await h.delete();
  });

  it("checks the input with the version's schema before sending, and the spec before anything", async () => {
    const v = workflow({ name: uniq("checked") }).v("1", { handler: async (_run, input) => input.count, schema: { input: countSchema } });
    const every = schedule({ type: "interval", every: { minutes: 1 } });
    await expect(every.activate(real.client, v, { count: 1.5 })).rejects.toBeInstanceOf(SchemaValidationError);
    expect((await clientInternals(real.client).schedules.listSchedules({ workflowName: v.name })).schedules).toEqual([]);

    expect(() => schedule({ type: "interval", every: 500 })).toThrow(RangeError);
    expect(() => schedule({ type: "interval", every: { hours: -1 } })).toThrow(RangeError);
    expect(() => schedule({ type: "cron", expression: "" })).toThrow(TypeError);
    expect(() => schedule({ type: "weekly" } as never)).toThrow(/unknown schedule type/);
    expect(() => schedule({ type: "interval", every: 1_000, overlapPolicy: "queue" as never })).toThrow(/overlapPolicy/);
    expect(() => schedule({ type: "interval", every: 1_000, name: "" })).toThrow(/name/);
    // The server checks cron syntax and time zones.
    const bad = await schedule({ type: "cron", expression: "every day", timezone: "Mars/Olympus" })
      .activate(real.client, v, { count: 1 })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(InvalidArgumentError);
    expect((bad as InvalidArgumentError).fieldViolations.map((f) => f.field)).toContain("spec.cron.expression");
  });

  it("overlap skip: no occurrence starts while the previous run is not finished", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const v = workflow({ name: uniq("slow") }).v("1", {
      async handler() {
        await gate;
        return "done";
      },
    });
    await real.spawn([v]);
    const slow = await schedule({ type: "interval", every: 1_000, overlapPolicy: "skip" }).activate(real.client, v, undefined);
    await until(async () => (await runsOf(v.name)).length === 1, 5_000, "the first occurrence");
    // At least two more occurrences pass while the first run is held.
    await new Promise((r) => setTimeout(r, 2_200));
    expect((await runsOf(v.name)).length).toBe(1);
    release();
    await until(async () => (await runsOf(v.name)).length >= 2, 5_000, "an occurrence after the run finished");
    await slow.delete();
  });
});
