// The README's promise: with no DATABASE_URL and no REDIS_URL the server runs on an embedded
// store on local disk, serves reflection to buf curl, and keeps its data across restarts.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { aikiServices } from "../../server/src/app.js";
import { repoRoot, type ServerProcess, startServerProcess } from "../../test/support/server-process.js";

const exec = promisify(execFile);
const dataDir = mkdtempSync(join(tmpdir(), "aiki-embedded-"));
const env = { AIKI_DATA_DIR: dataDir, DATABASE_URL: undefined, REDIS_URL: undefined };
let server: ServerProcess | undefined;

afterAll(async () => {
  await server?.stop("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
});

const bufCurl = async (args: string[]) => {
  const { stdout } = await exec(join(repoRoot, "node_modules/.bin/buf"), ["curl", "--http2-prior-knowledge", "--protocol", "grpc", ...args], {
    cwd: repoRoot,
  });
  return stdout;
};
const call = async (method: string, body: object) => JSON.parse(await bufCurl(["-d", JSON.stringify(body), `${server!.url}/aiki.v1.RunService/${method}`]));

it("lists every method of every service through reflection", { timeout: 60_000 }, async () => {
  server = await startServerProcess(env);
  const listed = (await bufCurl(["--list-methods", server.url])).trim().split("\n");
  const expected = aikiServices.flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`));
  expect(listed).toEqual(expect.arrayContaining(expected));
  expect(listed).toEqual(expect.arrayContaining(["grpc.health.v1.Health/Check", "grpc.reflection.v1.ServerReflection/ServerReflectionInfo"]));
});

it("a run started with buf curl survives a graceful restart", { timeout: 60_000 }, async () => {
  const { run } = await call("StartRun", {
    workflowName: "restaurant-order",
    workflowVersionId: "1.0.0",
    input: { orderId: "order-123", items: ["Burger"] },
  });
  expect(run.status).toBe("RUN_STATUS_QUEUED");
  expect((await call("PauseRun", { runId: run.id })).run.status).toBe("RUN_STATUS_PAUSED");

  expect(await server!.stop("SIGTERM")).toBe(0);
  server = await startServerProcess(env);

  const after = await call("GetRun", { runId: run.id });
  expect(after.run.status).toBe("RUN_STATUS_PAUSED");
  expect(after.run.input).toEqual({ orderId: "order-123", items: ["Burger"] });
  expect((await call("ResumeRun", { runId: run.id })).run.status).toBe("RUN_STATUS_QUEUED");
  const { transitions } = await call("ListRunTransitions", { runId: run.id });
  expect(transitions).toHaveLength(3);
});

it("refuses a bad configuration, naming the variable", async () => {
  const error = await startServerProcess({ ...env, AIKI_PORT: "not-a-port" }).catch((e: Error) => e);
  expect(String(error)).toMatch(/AIKI_PORT/);
});
