// The SDK and the worker with API keys against a server with AIKI_AUTH=on: a client key starts and
// waits, a worker key runs the workflow (task, child, event), on the default session and on Redis
// hints (the worker listens on its key's namespace's channels); everything lands in that namespace.
import { Redis } from "ioredis";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Client, client, event, silentLogger, task, workflow } from "@aiki/sdk";
import { readyChannel } from "@aiki/sdk/internal";
import { type WorkerHandle, worker } from "@aiki/worker";
import { inject } from "vitest";
import { createApiKey, createNamespace } from "@aiki/server";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki({ auth: {} });
let aiki: TestAiki;
let clientKey: string;
let workerKey: string;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  aiki = h.aiki;
  await createNamespace(aiki.deps, "shop");
  clientKey = (await createApiKey(aiki.deps, { namespace: "shop", scopes: ["client", "read"], description: "app" })).secret;
  workerKey = (await createApiKey(aiki.deps, { namespace: "shop", scopes: ["worker"], description: "worker" })).secret;
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function connect(apiKey: string | undefined, redis = false): Client {
  const c = client({ url: aiki.url, apiKey, logger: silentLogger, ...(redis && { redis: { url: inject("redisUrl") } }) });
  cleanups.push(() => c.close());
  return c;
}

function order() {
  const name = h.uniqueName("auth-order");
  const charge = task({ name: `${name}-charge`, handler: async (input: { amount: number }) => ({ charged: input.amount }) });
  const receipt = workflow({ name: `${name}-receipt` }).v("1", { handler: async (_run, input: { charged: number }) => `receipt for ${input.charged}` });
  const version = workflow({ name }).v("1", {
    async handler(run, input: { amount: number }) {
      const paid = await charge.start(run, input);
      const child = await receipt.startAsChild(run, paid);
      const done = await child.waitForStatus("completed");
      const confirmed = await run.events.confirmed.wait();
      return { ...paid, receipt: done.success ? done.state.output : null, by: confirmed.data.by };
    },
    events: { confirmed: event<{ by: string }>() },
  });
  return { version, receipt };
}

async function spawn(on: Client, o: ReturnType<typeof order>, redis = false): Promise<WorkerHandle> {
  const w = await worker({
    name: "auth-worker",
    workflows: [o.version, o.receipt],
    ...(redis && { subscriber: { type: "redis" as const, safetyPollIntervalMs: 60_000 } }),
    opts: { gracefulShutdownTimeoutMs: 2_000 },
  }).spawn(on);
  cleanups.push(() => w.stop());
  return w;
}

async function namespacesOf(workflowNames: string[]): Promise<string[]> {
  const rows = await aiki.deps.db.selectFrom("runs").select("namespace").where("workflow_name", "in", workflowNames).execute();
  return [...new Set(rows.map((r) => r.namespace))];
}

describe("with API keys", () => {
  it("a client key starts and waits, a worker key runs the workflow (task, child, event), all in the key's namespace", async () => {
    const o = order();
    const app = connect(clientKey);
    await spawn(connect(workerKey), o);
    const handle = await o.version.start(app, { amount: 42 });
    await handle.waitForStatus("awaiting_event", { timeout: 10_000 });
    await handle.events.confirmed.send({ by: "ops" });
    expect(await handle.waitForCompletion({ timeout: 10_000 })).toEqual({ charged: 42, receipt: "receipt for 42", by: "ops" });
    expect(await namespacesOf([o.version.name, o.receipt.name])).toEqual(["shop"]);
  });

  it("a worker on Redis hints listens on its namespace's channels and picks runs up on them", async () => {
    const o = order();
    const app = connect(clientKey);
    await spawn(connect(workerKey, true), o, true);
    const observer = new Redis(inject("redisUrl"), { maxRetriesPerRequest: 0 });
    cleanups.push(async () => observer.disconnect());
    const channel = readyChannel(o.version.name, "1", "", "shop");
    const deadline = Date.now() + 5_000;
    while (Number(((await observer.call("PUBSUB", "NUMSUB", channel)) as [string, number])[1]) < 1) {
      if (Date.now() > deadline) throw new Error(`nothing subscribed to ${channel}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const handle = await o.version.start(app, { amount: 7 });
    // The safety poll is a minute away: only a hint on shop's channel gets it picked up this soon.
    await handle.waitForStatus("awaiting_event", { timeout: 10_000 });
    await handle.events.confirmed.send({ by: "redis" });
    expect(await handle.waitForCompletion({ timeout: 10_000 })).toMatchObject({ charged: 7, by: "redis" });
  });

  it("without a key, or with a worker key, a start is refused and creates nothing", async () => {
    const o = order();
    await expect(o.version.start(connect(undefined), { amount: 1 })).rejects.toThrow(/no API key/);
    await expect(o.version.start(connect(workerKey), { amount: 1 })).rejects.toThrow(/scope "client"/);
    expect(await namespacesOf([o.version.name])).toEqual([]);
  });
});
