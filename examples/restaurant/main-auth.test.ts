// `npm run example` as a user runs it against a server with AIKI_AUTH=on: examples/restaurant/main.ts
// in its own process with AIKI_URL and AIKI_API_KEY (one key with the client, worker and read
// scopes) plays the restaurant order end to end in the key's namespace; without a key it stops at
// the first call, refused UNAUTHENTICATED, and says which key to set.
import { beforeAll, describe, expect, it } from "vitest";
import { createApiKey, createNamespace } from "@aiki/server";
import { runCommand } from "../../test/support/aiki-cli.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki({ auth: {} });
let aiki: TestAiki;
let key: string;

beforeAll(async () => {
  aiki = h.aiki;
  await createNamespace(aiki.deps, "restaurant");
  key = (await createApiKey(aiki.deps, { namespace: "restaurant", scopes: ["client", "worker", "read"], description: "npm run example" })).secret;
});

const example = (env: Record<string, string>) =>
  runCommand(process.execPath, ["--import", "tsx", "examples/restaurant/main.ts"], {
    env: { AIKI_URL: aiki.url, AIKI_LOG_LEVEL: "warn", ...env },
    timeoutMs: 90_000,
  });

describe("npm run example with AIKI_AUTH=on", () => {
  it("plays the order end to end with AIKI_API_KEY, in the key's namespace", async () => {
    const res = await example({ AIKI_API_KEY: key });
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    expect(res.stdout).toContain("Restaurant accepted the order!");
    expect(res.stdout).toContain("Food is ready for pickup!");
    expect(res.stdout).toMatch(/Order completed: \{ status: 'completed', orderId: 'order-\d+' \}/);
    const runId = /Workflow started: (\S+)/.exec(res.stdout)![1]!;
    const runs = await aiki.deps.db.selectFrom("runs").select(["id", "namespace", "status"]).where("namespace", "=", "restaurant").execute();
    // The order and its courier child, both completed, both in the key's namespace.
    expect(runs.map((r) => r.status).sort()).toEqual(["completed", "completed"]);
    expect(runs.map((r) => r.id)).toContain(runId);
    expect(await aiki.deps.db.selectFrom("runs").select("id").where("namespace", "!=", "restaurant").execute()).toEqual([]);
  }, 120_000);

  it("without a key the first call is refused UNAUTHENTICATED, and the example says to set AIKI_API_KEY", async () => {
    const res = await example({});
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("The server refused the call: no API key");
    expect(res.stderr).toContain("set AIKI_API_KEY to a key with the client, worker and read scopes");
    expect(res.stdout).not.toContain("Workflow started");
  }, 120_000);
});
