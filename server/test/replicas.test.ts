// Two server replicas on one Postgres and one Redis: a change made through one wakes a
// long-poll held by the other within milliseconds, through Redis.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { beforeAll, expect, it } from "vitest";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { closeChecked } from "../../test/support/leak-checks.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki();
let a: TestAiki;
let b: TestAiki;

beforeAll(async () => {
  a = h.aiki;
  b = await h.startServer({ database: a.database });
});

it("a wait held by replica A answers when replica B pauses the run, well before A's re-read", async () => {
  const { run } = await a.client(RunService).startRun({ workflowName: "w", workflowVersionId: "1" });
  const startedAt = performance.now();
  const waiting = a.client(RunService).waitForRunStatus({ runId: run!.id, status: RunStatus.PAUSED, timeout: durationFromMs(30_000) });
  // Let the wait subscribe first: a wait that starts after the pause would answer at once and prove nothing.
  await new Promise((r) => setTimeout(r, 100));
  await b.client(RunService).pauseRun({ runId: run!.id });
  const res = await waiting;
  const elapsed = performance.now() - startedAt;
  expect(res.outcome).toBe(WaitForRunStatusResponse_Outcome.REACHED);
  // The fallback re-read is every 2 s; answering well under that means the Redis hint woke it.
  expect(elapsed).toBeLessThan(1_500);
});

it("without any hint (in-process notifiers on separate replicas), the slow re-read still answers", async () => {
  const c = await h.startServer({ database: a.database, redis: false });
  try {
    const { run } = await c.client(RunService).startRun({ workflowName: "w", workflowVersionId: "1" });
    const waiting = c.client(RunService).waitForRunStatus({ runId: run!.id, status: RunStatus.CANCELLED, timeout: durationFromMs(30_000) });
    await b.client(RunService).cancelRun({ runId: run!.id });
    const res = await waiting;
    expect(res.outcome).toBe(WaitForRunStatusResponse_Outcome.REACHED);
  } finally {
    await closeChecked(c);
  }
});
