// The Python client against a server with AIKI_AUTH=on: its key travels as gRPC metadata
// (`authorization: Bearer <key>`), the run lands in the key's namespace, and without a key every
// call is refused UNAUTHENTICATED.
import { join } from "node:path";
import { type Client, client, silentLogger } from "@aiki/sdk";
import { type WorkerHandle, worker } from "@aiki/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiKey, createNamespace } from "@aiki/server";
import { runCommand } from "../../test/support/aiki-cli.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { repoRoot } from "../../test/support/server-process.js";
import { pythonApprovalV1 } from "./approval-workflow.js";

const python = "/usr/bin/python3";
const program = join(repoRoot, "examples/python/round_trip.py");

const h = useTestAiki({ auth: {} });
let aiki: TestAiki;
let workerClient: Client;
let workerHandle: WorkerHandle;
let appKey: string;

beforeAll(async () => {
  aiki = h.aiki;
  await createNamespace(aiki.deps, "py");
  appKey = (await createApiKey(aiki.deps, { namespace: "py", scopes: ["client", "read"], description: "python app" })).secret;
  const workerKey = (await createApiKey(aiki.deps, { namespace: "py", scopes: ["worker"], description: "worker" })).secret;
  workerClient = client({ url: aiki.url, apiKey: workerKey, logger: silentLogger });
  workerHandle = await worker({ name: "python-round-trip", workflows: [pythonApprovalV1], opts: { pollWaitMs: 5_000 } }).spawn(workerClient);
});
afterAll(async () => {
  await workerHandle?.stop();
  await workerClient?.close();
});

const roundTrip = (env: Record<string, string>, ...args: string[]) =>
  runCommand(python, [program, "--target", `127.0.0.1:${aiki.port}`, ...args], { env: { PYTHONDONTWRITEBYTECODE: "1", ...env }, timeoutMs: 60_000 });

describe("Python client round trip with an API key", () => {
  it("sends the key (AIKI_API_KEY) as metadata on every call; the run completes in the key's namespace", async () => {
    const res = await roundTrip({ AIKI_API_KEY: appKey }, "--order-id", "order-py-auth", "--approver", "ada");
    expect(res.code, res.stderr).toBe(0);
    const result = JSON.parse(res.stdout) as { runId: string; status: string };
    expect(result.status).toBe("completed");
    const row = await aiki.deps.db.selectFrom("runs").select("namespace").where("id", "=", result.runId).executeTakeFirstOrThrow();
    expect(row.namespace).toBe("py");
  });

  it("without a key the first call is refused UNAUTHENTICATED", async () => {
    const res = await roundTrip({}, "--order-id", "order-py-nokey");
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^round_trip: UNAUTHENTICATED: no API key/);
  });
});
