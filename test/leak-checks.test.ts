// The harness's teardown checks (test/support/leak-checks.ts), each shown failing: every test
// leaves one thing behind on purpose and expects closeChecked, which useTestAiki's teardown runs,
// to throw naming it; and a server used and closed cleanly passes.
import http2 from "node:http2";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { describe, expect, it } from "vitest";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { type SessionRequestSchema, WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { client as sdkClient, silentLogger, workflow } from "@aiki/sdk";
import { worker } from "@aiki/worker";
import { startTestAiki } from "./support/aiki-server.js";
import { ForbiddenRunTransitionsError } from "./support/check-run-transitions.js";
import { closeChecked, LeakError } from "./support/leak-checks.js";
import { useTestAiki } from "./support/use-test-aiki.js";

/** closeChecked's failure, which it must throw. */
async function failureOf(close: Promise<void>): Promise<Error> {
  return close.then(
    () => {
      throw new Error("closeChecked passed although something was left behind");
    },
    (e: Error) => e,
  );
}

describe("closeChecked", () => {
  it("passes for a server whose calls, streams and workers all ended", async () => {
    const aiki = await startTestAiki();
    const c = sdkClient({ url: aiki.url, logger: silentLogger });
    const v = workflow({ name: "clean" }).v("1", { handler: async () => "ok" });
    const w = await worker({ name: "clean", workflows: [v], opts: { gracefulShutdownTimeoutMs: 1_000 } }).spawn(c);
    const handle = await v.start(c, undefined);
    expect(await handle.waitForCompletion()).toBe("ok");
    await aiki.client(RunService).getRun({ runId: handle.run.id });
    await w.stop();
    await c.close();
    await closeChecked(aiki);
  });

  it("fails on a worker never stopped, naming its session", async () => {
    const aiki = await startTestAiki();
    const c = sdkClient({ url: aiki.url, logger: silentLogger });
    const v = workflow({ name: "forgotten" }).v("1", { handler: async () => "ok" });
    const w = await worker({ name: "forgotten", workflows: [v], opts: { gracefulShutdownTimeoutMs: 1_000 } }).spawn(c);
    try {
      await until(() => aiki.localSessions.workerIds().includes(w.id));
      const e = await failureOf(closeChecked(aiki, { graceMs: 200 }));
      expect(e).toBeInstanceOf(LeakError);
      expect(e.message).toMatch(/1 worker session\(s\) still registered on the server at .*: workers /);
      expect(e.message).toContain(w.id);
      expect(e.message).toMatch(/HTTP\/2 session\(s\) still open/);
    } finally {
      await w.stop();
      await c.close();
    }
  });

  it("fails on a raw Session stream the test left open, on a client it never closed", async () => {
    const aiki = await startTestAiki();
    const sessionManager = new Http2SessionManager(aiki.url);
    const leases = createClient(WorkerLeaseService, createGrpcTransport({ baseUrl: aiki.url, sessionManager }));
    const requests = async function* (): AsyncGenerator<MessageInitShape<typeof SessionRequestSchema>> {
      yield {
        kind: {
          case: "open",
          value: { workerId: "w-left-open", workerName: "left-open", workflows: [{ workflowName: "left-open", workflowVersionId: "1" }], credits: 1 },
        },
      };
      await new Promise(() => {}); // never ends its side
    };
    const stream = (async () => {
      for await (const _ of leases.session(requests())) {
        // nothing to do with what comes
      }
    })().catch(() => {});
    try {
      await until(() => aiki.localSessions.workerIds().length === 1);
      const e = await failureOf(closeChecked(aiki, { graceMs: 200 }));
      expect(e).toBeInstanceOf(LeakError);
      expect(e.message).toMatch(/1 worker session\(s\) still registered on the server at .*: workers w-left-open/);
      expect(e.message).toMatch(/1 HTTP\/2 session\(s\) still open/);
    } finally {
      sessionManager.abort();
      await stream;
    }
  });

  it("fails on an HTTP/2 connection the test opened and never closed", async () => {
    const aiki = await startTestAiki();
    const session = http2.connect(aiki.url);
    try {
      await new Promise<void>((resolve, reject) => session.once("connect", () => resolve()).once("error", reject));
      await until(() => aiki.server.http2Sessions() === 1);
      const e = await failureOf(closeChecked(aiki, { graceMs: 200 }));
      expect(e).toBeInstanceOf(LeakError);
      expect(e.message).toMatch(/1 HTTP\/2 session\(s\) still open on the server at http:\/\/127\.0\.0\.1:\d+/);
    } finally {
      session.destroy();
    }
  });

  it("fails on a notifier subscription never unsubscribed, naming its channel", async () => {
    const aiki = await startTestAiki();
    const unsubscribe = aiki.deps.notifier.subscribe("aiki:test:forgotten", () => {});
    try {
      const e = await failureOf(closeChecked(aiki, { graceMs: 200 }));
      expect(e).toBeInstanceOf(LeakError);
      expect(e.message).toMatch(/1 notifier subscription\(s\) still open on the server at .*: aiki:test:forgotten ×1/);
    } finally {
      unsubscribe();
    }
  });

  it("fails on a store connection never given back, and does not wait for it", async () => {
    const aiki = await startTestAiki();
    let release!: () => void;
    const held = aiki.deps.db.connection().execute(
      () =>
        new Promise<void>((r) => {
          release = r;
        }),
    );
    await until(() => aiki.deps.connectionsInUse() === 1);
    const e = await failureOf(closeChecked(aiki, { graceMs: 200 }));
    expect(e).toBeInstanceOf(LeakError);
    expect(e.message).toMatch(/1 Postgres pool connection\(s\) still checked out by the server at /);
    release();
    await held;
    // closeChecked gave up waiting for the pool; it ends now, and the database goes with close().
    await aiki.close();
  });

  it("fails on a run transition the state machine forbids, naming the pair", async () => {
    const aiki = await startTestAiki();
    const { run } = await aiki.client(RunService).startRun({ workflowName: "forbidden", workflowVersionId: "1" });
    await aiki.deps.db
      .insertInto("run_transitions")
      .values({ run_id: run!.id, revision: 99, from_status: "queued", to_status: "completed", actor: "test", reason: "by hand" })
      .execute();
    const e = await failureOf(closeChecked(aiki));
    expect(e).toBeInstanceOf(ForbiddenRunTransitionsError);
    expect(e.message).toContain(`queued → completed: runs ${run!.id}`);
  });

  it("names every leak at once: a subscription and a connection", async () => {
    const aiki = await startTestAiki();
    const unsubscribe = aiki.deps.notifier.subscribe("aiki:test:both", () => {});
    const session = http2.connect(aiki.url);
    try {
      await new Promise<void>((resolve, reject) => session.once("connect", () => resolve()).once("error", reject));
      await until(() => aiki.server.http2Sessions() === 1);
      const e = await failureOf(closeChecked(aiki, { graceMs: 200 }));
      expect(e).toBeInstanceOf(AggregateError);
      expect(e.message).toMatch(/HTTP\/2 session\(s\) still open/);
      expect(e.message).toMatch(/notifier subscription\(s\) still open .*aiki:test:both/);
    } finally {
      unsubscribe();
      session.destroy();
    }
  });
});

describe("useTestAiki", () => {
  const h = useTestAiki();

  it("hands out the server, clients, unique names and waits; its teardown runs closeChecked", async () => {
    expect(h.uniqueName("w")).not.toBe(h.uniqueName("w"));
    const name = h.uniqueName("harness");
    const v = workflow({ name }).v("1", { handler: async () => "done" });
    await h.spawn([v]);
    const handle = await v.start(h.client, undefined);
    await h.waitForStatus(handle.run.id, RunStatus.COMPLETED);
    const { run } = await h.rpc(RunService).getRun({ runId: handle.run.id });
    expect(run?.output).toBeDefined();
    let polls = 0;
    await h.until(() => ++polls === 3);
    expect(polls).toBe(3);
    await expect(h.until(() => false, { timeoutMs: 50, what: "never" })).rejects.toThrow("never not met within 50 ms");
  });
});

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
