// useTestAiki's teardown fails a real test file, through vitest itself: the leaky fixture files
// (test/fixtures/leaky) run in a child vitest on this run's Postgres and Redis; each that leaves
// something behind fails, naming it, and the clean one passes.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, inject, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

interface FileResult {
  name: string;
  status: string;
  message: string;
}

async function runFixtures(): Promise<Map<string, FileResult>> {
  const dir = await mkdtemp(join(tmpdir(), "aiki-harness-hooks-"));
  try {
    const out = join(dir, "results.json");
    const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
    const args = [vitest, "run", "--config", "test/fixtures/leaky/vitest.config.ts", "--reporter=json", `--outputFile=${out}`];
    const env = { ...process.env, DATABASE_URL: inject("pgAdminUrl"), REDIS_URL: inject("redisUrl"), NO_COLOR: "1" };
    // Exits 1: some files fail, on purpose.
    await new Promise<void>((resolve) => execFile(process.execPath, args, { cwd: root, env, maxBuffer: 64 * 1024 * 1024 }, () => resolve()));
    const report = JSON.parse(await readFile(out, "utf8")) as { testResults: FileResult[] };
    return new Map(report.testResults.map((r) => [r.name.split("/").pop()!, r]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

it("fails each fixture file that leaves something behind, naming it, and passes the clean one", { timeout: 180_000 }, async () => {
  const results = await runFixtures();
  expect(results.get("clean.fixture.ts")?.status).toBe("passed");
  const subscription = results.get("subscription.fixture.ts");
  expect(subscription?.status).toBe("failed");
  expect(subscription?.message).toMatch(/1 notifier subscription\(s\) still open on the server at .*: aiki:test:fixture-forgotten ×1/);
  const listening = results.get("listening-server.fixture.ts");
  expect(listening?.status).toBe("failed");
  expect(listening?.message).toMatch(/1 socket\(s\) or server\(s\) still open in this process/);
  const forbidden = results.get("forbidden-transition.fixture.ts");
  expect(forbidden?.status).toBe("failed");
  expect(forbidden?.message).toMatch(/forbids:\n {2}queued → completed: runs [0-9a-f-]+; actors fixture/);
});
