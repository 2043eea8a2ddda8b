// A workflow output the server refuses (it cannot store a NUL character; it may be too large):
// the worker fails the run for it, non-retryable, instead of leaving the lease to expire and the
// run to be leased, executed and refused again forever.
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Client, client, createConsoleLogger, silentLogger, task, workflow } from "@aiki/sdk";
import { type WorkerHandle, worker } from "@aiki/worker";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki({ timers: false, limits: { maxPayloadBytes: 4096 } });
let aiki: TestAiki;
let aikiClient: Client;
let handle: WorkerHandle | undefined;

beforeAll(() => {
  aiki = h.aiki;
  aikiClient = client({ url: aiki.url, logger: process.env.DBG ? createConsoleLogger({ level: "debug" }) : silentLogger });
});
afterAll(async () => {
  await handle?.stop();
  await aikiClient?.close();
});

it("fails the run with OUTPUT_SCHEMA when the server refuses its output or a task's, records a failure quoting a NUL, and good outputs as before", async () => {
  const nul = workflow({ name: "refused-nul" }).v("1", { handler: async () => ({ text: "a\u0000b" }) });
  const big = workflow({ name: "refused-big" }).v("1", { handler: async () => "x".repeat(5000) });
  const fine = workflow({ name: "refused-fine" }).v("1", { handler: async () => "ok" });
  const throwsNul = workflow({ name: "throws-nul" }).v("1", {
    handler: async () => {
      throw new Error("bad byte \u0000 here");
    },
  });
  const nulTask = task({ name: "nul-task", handler: async () => "x\u0000y" });
  const taskNul = workflow({ name: "task-nul" }).v("1", { handler: (run) => nulTask.start(run) });
  handle = await worker({ name: "refused-output", workflows: [nul, big, fine, throwsNul, taskNul], opts: { pollWaitMs: 5_000 } }).spawn(aikiClient);

  const nulRun = await (await nul.start(aikiClient)).waitForStatus("failed", { timeout: 10_000 });
  expect(nulRun.success).toBe(true);
  if (!nulRun.success) return;
  expect(nulRun.state.cause).toBe("output_schema");
  expect(nulRun.state.failure.message).toMatch(/output: must not contain NUL/);
  expect(nulRun.state.failure.nonRetryable).toBe(true);

  const bigRun = await (await big.start(aikiClient)).waitForStatus("failed", { timeout: 10_000 });
  expect(bigRun.success).toBe(true);
  if (!bigRun.success) return;
  expect(bigRun.state.failure.message).toMatch(/AIKI_MAX_PAYLOAD_BYTES/);

  // A failure quoting a NUL is recorded with the NUL written as an escape, not refused.
  const thrown = await (await throwsNul.start(aikiClient)).waitForStatus("failed", { timeout: 10_000 });
  expect(thrown.success).toBe(true);
  if (!thrown.success) return;
  expect(thrown.state.failure.message).toBe("bad byte \\u0000 here");

  const taskRun = await (await taskNul.start(aikiClient)).waitForStatus("failed", { timeout: 10_000 });
  expect(taskRun.success).toBe(true);
  if (!taskRun.success) return;
  // The task's output, recorded with the run's last write, is refused with it: the run fails saying so.
  expect(taskRun.state.cause).toBe("output_schema");
  expect(taskRun.state.failure.message).toContain("completed_tasks[0].output: must not contain NUL");

  const fineRun = await (await fine.start(aikiClient)).waitForStatus("completed", { timeout: 10_000 });
  expect(fineRun.success).toBe(true);
});
