// The SDK client's session (RunService.ClientSession) against a real server: starts, waits and
// events multiplexed on one stream, a held wait holding up nothing, call errors as the typed
// errors of the unary RPCs with the stream going on, a broken stream failing its calls and the
// next call opening a new one, and unary calls against a server without sessions.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { channel } from "node:diagnostics_channel";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunSchema, RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import { type Client, client, event, InvalidArgumentError, RunNotFoundError, silentLogger, workflow } from "@aiki/sdk";
import { clientInternals, isTransientRpcError } from "@aiki/sdk/internal";
import type { TracePointMessage } from "@aiki/common/trace-point";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { startTcpProxy } from "../../test/support/tcp-proxy.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const execFileAsync = promisify(execFile);

const h = useTestAiki();
let aiki: TestAiki;

// Every HTTP/2 request the server sees, by method (listen-one-port.ts's "h2 request" point).
const requests: string[] = [];
const onPoint = (message: unknown) => {
  const point = message as TracePointMessage;
  if (point.name === "h2 request") requests.push(point.detail ?? "");
};
const points = channel("aiki:trace");

beforeAll(() => {
  aiki = h.aiki;
  points.subscribe(onPoint);
});
afterAll(() => {
  points.unsubscribe(onPoint);
});

const echoV1 = workflow({ name: "session-echo" }).v("1", {
  async handler(run, input: { n: number }) {
    const bump = await run.events.bump.wait({ timeout: { seconds: 30 } });
    return { n: input.n + (bump.timeout ? 0 : bump.data.by) };
  },
  events: { bump: event<{ by: number }>() },
});
// Served by no worker: its runs stay queued, so a wait for their completion is held.
const idleV1 = workflow({ name: "session-idle" }).v("1", {
  async handler() {
    return null;
  },
});

function newClient(url = aiki.url): Client {
  const c = client({ url, logger: silentLogger });
  h.defer(() => c.close());
  return c;
}

const count = (method: string) => requests.filter((r) => r === method).length;

describe("the client session", () => {
  it("multiplexes many concurrent starts, waits and events on one stream", async () => {
    await h.spawn([echoV1]);
    const c = newClient();
    const before = { sessions: count("ClientSession"), unary: count("StartRun") + count("WaitForRunStatus") + count("SendEvent") };
    const handles = await Promise.all(Array.from({ length: 40 }, (_, n) => echoV1.start(c, { n })));
    const outputs = Promise.all(handles.map((handle) => handle.waitForCompletion({ timeout: 20_000 })));
    await Promise.all(handles.map((handle) => handle.waitForStatus("awaiting_event", { timeout: 20_000 })));
    await Promise.all(handles.map((handle) => handle.events.bump.send({ by: 100 })));
    expect(await outputs).toEqual(handles.map((_, n) => ({ n: n + 100 })));
    expect(count("ClientSession") - before.sessions).toBe(1);
    expect(count("StartRun") + count("WaitForRunStatus") + count("SendEvent") - before.unary).toBe(0);
  });

  it("answers a start while a wait is held, and a cancelled wait frees its place on the server", async () => {
    const c = newClient();
    const held = await idleV1.start(c, undefined);
    const giveUp = new AbortController();
    const waiting = held.waitForStatus("completed", { abortSignal: giveUp.signal });
    const channelOfRun = () => [...aiki.subscriptions().keys()].some((k) => k.includes(held.run.id));
    await h.until(channelOfRun, { what: "the held wait" });
    const started = performance.now();
    const other = await idleV1.start(c, undefined);
    expect(other.run.state.status).toBe("queued");
    expect(performance.now() - started).toBeLessThan(2_000);
    giveUp.abort();
    expect(await waiting).toEqual({ success: false, cause: "aborted" });
    // The Cancel reached the server: its wait (and its subscription) ended with the stream still open.
    await h.until(() => !channelOfRun(), { what: "the end of the cancelled wait" });
  });

  it("close() ends the stream: its calls fail as closed and the server's held wait ends", async () => {
    const c = client({ url: aiki.url, logger: silentLogger });
    const held = await idleV1.start(c, undefined);
    const wait = clientInternals(c)
      .runs.waitForRunStatus({ runId: held.run.id, status: RunStatus.COMPLETED, timeout: durationFromMs(60_000) })
      .catch((e: unknown) => e);
    const holding = () => [...aiki.subscriptions().keys()].some((k) => k.includes(held.run.id));
    await h.until(holding, { what: "the held wait" });
    await c.close();
    expect(await wait).toMatchObject({ code: "canceled" });
    await h.until(() => !holding(), { what: "the end of the held wait" });
  });

  it("a process that never closes its client still exits once its calls are answered", async () => {
    // Starts a run and waits for it to be queued, then returns without close(): the idle session closes itself.
    const script = `
      import { client, workflow } from "@aiki/sdk";
      const c = client({ url: process.env.AIKI_URL });
      const handle = await workflow({ name: "session-idle" }).v("1", { async handler() { return null; } }).start(c, undefined);
      const queued = await handle.waitForStatus("queued", { timeout: 5_000 });
      console.log(JSON.stringify(queued.success));
    `;
    // A session holding the process open would hold it until this kills it (and the call fails).
    const { stdout } = await execFileAsync(process.execPath, ["--import", "tsx", "--input-type=module", "--eval", script], {
      env: { ...process.env, AIKI_URL: aiki.url, AIKI_LOG_LEVEL: "error" },
      timeout: 20_000,
    });
    expect(stdout.trim()).toBe("true");
  });

  it("a call's deadline ends it as the unary call's would", async () => {
    const c = newClient();
    const held = await idleV1.start(c, undefined);
    const { runs } = clientInternals(c);
    const error = await runs
      .waitForRunStatus({ runId: held.run.id, status: RunStatus.COMPLETED, timeout: durationFromMs(60_000) }, { timeoutMs: 100 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "deadline_exceeded" });
    const answered = await runs.waitForRunStatus({ runId: held.run.id, status: RunStatus.QUEUED });
    expect(answered.outcome).toBe(WaitForRunStatusResponse_Outcome.REACHED);
  });

  it("answers refused calls with the unary RPC's typed errors, and the stream goes on", async () => {
    const c = newClient();
    const sessions = count("ClientSession");
    const { runs, events } = clientInternals(c);
    const missing = randomUUID();
    const notFound = await runs.waitForRunStatus({ runId: missing }).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(RunNotFoundError);
    expect((notFound as RunNotFoundError).runId).toBe(missing);
    const invalid = await runs.startRun({ workflowName: "", workflowVersionId: "1" }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(InvalidArgumentError);
    expect((invalid as InvalidArgumentError).fieldViolations.map((v) => v.field)).toContain("workflow_name");
    const noTargets = await events.sendEvent({ eventName: "bump", targets: [] }).catch((e: unknown) => e);
    expect(noTargets).toBeInstanceOf(InvalidArgumentError);
    const started = await idleV1.start(c, undefined);
    expect(started.run.state.status).toBe("queued");
    expect(count("ClientSession") - sessions).toBe(1);
  });

  it("fails the calls in flight when the stream breaks, and the next call opens a new one", async () => {
    const proxy = await startTcpProxy([{ host: "127.0.0.1", port: aiki.port }]);
    h.defer(() => proxy.close());
    const c = newClient(proxy.url);
    const held = await idleV1.start(c, undefined);
    const sessions = count("ClientSession");
    const wait = clientInternals(c)
      .runs.waitForRunStatus({ runId: held.run.id, status: RunStatus.COMPLETED, timeout: durationFromMs(60_000) })
      .catch((e: unknown) => e);
    await h.until(() => [...aiki.subscriptions().keys()].some((k) => k.includes(held.run.id)), { what: "the held wait" });
    proxy.cut();
    const error = await wait;
    expect(isTransientRpcError(error), String(error)).toBe(true);
    const next = await idleV1.start(c, undefined);
    expect(next.run.state.status).toBe("queued");
    expect(count("ClientSession") - sessions).toBe(1);
  });

  it("a server shutting down answers the held wait as the unary RPC would, and the next call opens a stream to another", async () => {
    const replica = await h.startServer({ database: aiki.database });
    const proxy = await startTcpProxy([
      { host: "127.0.0.1", port: replica.port },
      { host: "127.0.0.1", port: aiki.port },
    ]);
    h.defer(() => proxy.close());
    const c = newClient(proxy.url);
    const held = await idleV1.start(c, undefined);
    const wait = clientInternals(c).runs.waitForRunStatus({ runId: held.run.id, status: RunStatus.COMPLETED, timeout: durationFromMs(60_000) });
    await h.until(() => [...replica.subscriptions().keys()].some((k) => k.includes(held.run.id)), { what: "the held wait" });
    await replica.stopServer();
    // As the unary RPC: a shutdown ends the hold early, answering with the run as it is.
    const ended = await wait;
    expect(ended.outcome).toBe(WaitForRunStatusResponse_Outcome.TIMEOUT);
    expect(ended.run?.id).toBe(held.run.id);
    const next = await idleV1.start(c, undefined);
    expect(next.run.state.status).toBe("queued");
  });
});

describe("a server without client sessions", () => {
  it("gets unary calls for the life of the client", async () => {
    const methods: string[] = [];
    const handler = connectNodeAdapter({
      routes(router) {
        router.service(RunService, {
          startRun(req) {
            methods.push("StartRun");
            const run = create(RunSchema, {
              id: randomUUID(),
              workflowName: req.workflowName,
              workflowVersionId: req.workflowVersionId,
              status: RunStatus.QUEUED,
            });
            return { run };
          },
        });
      },
    });
    const server = http2.createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    h.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const c = client({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, logger: silentLogger });
    const first = await idleV1.start(c, undefined);
    const second = await idleV1.start(c, undefined);
    expect([first.run.state.status, second.run.state.status]).toEqual(["queued", "queued"]);
    expect(methods).toEqual(["StartRun", "StartRun"]);
    await c.close();
  });
});
