// How workers get work, on a real server: the worker session (default), the lease stream, the
// long-poll, the fallbacks from one to the next, reconnects, and Redis ready hints (with Redis
// going away).
// A gRPC proxy in front of the server shows which calls a worker makes and plays the faults.
import { Code } from "@connectrpc/connect";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Client, client, type Logger, type LogFields, silentLogger, task, workflow } from "@aiki/sdk";
import { clientInternals, readyChannel } from "@aiki/sdk/internal";
import { type WorkerHandle, type WorkerOptions, worker } from "@aiki/worker";
import { channels } from "@aiki/server";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { type PrivateRedis, startPrivateRedis } from "../../test/support/redis.js";
import { uniqueName, useTestAiki } from "../../test/support/use-test-aiki.js";
import { type GrpcProxy, startGrpcProxy } from "./support/grpc-proxy.js";

let aiki: TestAiki;
let direct: Client;
const cleanups: (() => Promise<unknown>)[] = [];

const h = useTestAiki();
beforeAll(() => {
  aiki = h.aiki;
  direct = h.client;
});
afterEach(async () => {
  // Workers first, then their clients and proxies.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const uniq = uniqueName;

const until = (check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition") => h.until(check, { timeoutMs, what });

/** A client through a fresh proxy in front of `server`. */
async function proxied(server: TestAiki = aiki, redis?: { url: string }): Promise<{ proxy: GrpcProxy; client: Client }> {
  const p = await startGrpcProxy(server.url);
  const c = client({ url: p.url, logger: silentLogger, ...(redis && { redis }) });
  cleanups.push(async () => {
    await c.close();
    await p.close();
  });
  return { proxy: p, client: c };
}

async function spawn(on: Client, options: Omit<WorkerOptions, "name">): Promise<WorkerHandle> {
  const handle = await worker({
    name: "delivery-worker",
    ...options,
    opts: { pollWaitMs: 5_000, gracefulShutdownTimeoutMs: 2_000, ...options.opts },
  }).spawn(on);
  cleanups.push(() => handle.stop());
  return handle;
}

/** A logger that keeps what it is told. */
function recordingLogger(): Logger & { lines: { level: string; message: string; fields?: LogFields }[] } {
  const lines: { level: string; message: string; fields?: LogFields }[] = [];
  const make = (): Logger => ({
    trace: (message, fields) => void lines.push({ level: "trace", message, fields }),
    debug: (message, fields) => void lines.push({ level: "debug", message, fields }),
    info: (message, fields) => void lines.push({ level: "info", message, fields }),
    warn: (message, fields) => void lines.push({ level: "warn", message, fields }),
    error: (message, fields) => void lines.push({ level: "error", message, fields }),
    child: () => make(),
  });
  return Object.assign(make(), { lines });
}

/** A workflow of one task that records when the task was entered and how many ran at once. */
function probe(taskMs = 0) {
  const entered = new Map<number, number>();
  const stats = { running: 0, peak: 0 };
  const step = task({
    name: "probe-step",
    async handler(i: number) {
      entered.set(i, performance.now());
      stats.running++;
      stats.peak = Math.max(stats.peak, stats.running);
      if (taskMs > 0) await new Promise((r) => setTimeout(r, taskMs));
      stats.running--;
      return i;
    },
  });
  const version = workflow({ name: uniq("probe") }).v("1", { handler: (run, i: number) => step.start(run, i) });
  return { version, entered, stats };
}

/** Starts run `i` and resolves with the milliseconds from the start call to the task's entry. */
async function pickup(p: ReturnType<typeof probe>, i: number, opts: { timeoutMs?: number; via?: Client } = {}): Promise<number> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const t0 = performance.now();
  const handle = await p.version.start(opts.via ?? direct, i);
  await until(() => p.entered.has(i), timeoutMs, `run ${i} picked up`);
  const ms = p.entered.get(i)! - t0;
  expect((await handle.waitForStatus("completed", { timeout: 10_000 })).success).toBe(true);
  return ms;
}

const unaryWrites = ["StartTask", "CompleteTask", "FailTask", "SuspendRun", "CompleteRun", "FailRun", "StartChildRun", "Heartbeat", "ReleaseLease"];
const countOf = (p: GrpcProxy, methods: string[]) => methods.reduce((n, m) => n + p.count(m), 0);

describe("worker session (the default)", () => {
  it("runs workflows end to end over one Session stream: leases within maxConcurrentWorkflowRuns, every write on the stream", async () => {
    const { proxy: p, client: c } = await proxied();
    const pr = probe(100);
    const handles = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((i) => pr.version.start(direct, i)));
    await spawn(c, { workflows: [pr.version], opts: { maxConcurrentWorkflowRuns: 3 } });
    const results = await Promise.all(handles.map((h) => h.waitForStatus("completed", { timeout: 15_000 })));
    expect(results.map((r) => r.success && r.state.output)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(pr.stats.peak).toBe(3);
    expect(await pickup(pr, 8)).toBeLessThan(1_000);
    expect(p.count("Session")).toBe(1);
    expect(countOf(p, ["StreamLeases", "PollLeases", ...unaryWrites])).toBe(0);
  });

  it("heartbeats travel on the session and keep a long task's lease", async () => {
    const { proxy: p, client: c } = await proxied();
    const pr = probe(2_500);
    await spawn(c, { workflows: [pr.version], opts: { leaseTtlMs: 1_000 } });
    const handle = await pr.version.start(direct, 1);
    expect((await handle.waitForStatus("completed", { timeout: 10_000 })).success).toBe(true);
    // One attempt: the lease never expired under the task (an expiry would count a lost attempt).
    const { tasks } = await clientInternals(direct).tasks.listTasks({ runId: handle.run.id });
    expect(tasks.map((t) => t.attempts)).toEqual([1]);
    expect(p.count("Session")).toBe(1);
    expect(countOf(p, unaryWrites)).toBe(0);
  });

  it("reconnects when the session breaks mid-run: the run's writes go through, and work keeps coming", async () => {
    const { proxy: p, client: c } = await proxied();
    let entered = false;
    let release = () => {};
    const step = task({
      name: "gated",
      async handler(i: number) {
        entered = true;
        await new Promise<void>((r) => {
          release = r;
        });
        return i;
      },
    });
    const v = workflow({ name: uniq("gated") }).v("1", { handler: (run, i: number) => step.start(run, i) });
    const pr = probe();
    await spawn(c, { workflows: [v, pr.version] });
    const a = await v.start(direct, 1);
    await until(() => entered);
    expect(p.cut("Session")).toBe(1);
    release();
    expect((await a.waitForStatus("completed", { timeout: 10_000 })).success).toBe(true);
    await until(() => p.count("Session") === 2, 5_000, "a new session");
    expect(await pickup(pr, 2)).toBeLessThan(1_000);
    expect(countOf(p, ["StreamLeases", "PollLeases"])).toBe(0);
  });

  it("falls back to the lease stream when the server does not offer sessions (UNIMPLEMENTED)", async () => {
    const { proxy: p, client: c } = await proxied();
    p.refuse("Session", Code.Unimplemented);
    const logger = recordingLogger();
    const pr = probe();
    await spawn(c, { workflows: [pr.version], opts: { logger } });
    expect(await pickup(pr, 1)).toBeLessThan(1_000);
    expect(await pickup(pr, 2)).toBeLessThan(1_000);
    expect(p.count("Session")).toBe(1);
    expect(p.count("StreamLeases")).toBe(1);
    // Without a session, writes are unary RPCs.
    expect(p.count("StartTask")).toBe(2);
    expect(logger.lines.filter((l) => l.level === "warn").map((l) => l.message)).toEqual([
      "the server does not offer worker sessions; taking work by lease stream",
    ]);
  });

  it("stop() drains the session: the run in flight finishes on it, and no new run is taken", async () => {
    const { proxy: p, client: c } = await proxied();
    const pr = probe(300);
    const w = await spawn(c, { workflows: [pr.version], opts: { gracefulShutdownTimeoutMs: 5_000 } });
    const handle = await pr.version.start(direct, 1);
    await until(() => pr.entered.has(1));
    await w.stop();
    expect((await handle.refresh()).state.status).toBe("completed");
    const later = await pr.version.start(direct, 2);
    expect(await later.waitForStatus("completed", { timeout: 500 })).toEqual({ success: false, cause: "timeout" });
    expect((await later.refresh()).state.status).toBe("queued");
    expect(countOf(p, ["StreamLeases", "PollLeases", ...unaryWrites])).toBe(0);
  });
});

const streamMode = { type: "grpc", mode: "stream" } as const;

describe("lease stream", () => {
  it("runs workflows end to end over StreamLeases, within maxConcurrentWorkflowRuns", async () => {
    const { proxy: p, client: c } = await proxied();
    const pr = probe(100);
    const handles = await Promise.all([1, 2, 3, 4, 5, 6, 7].map((i) => pr.version.start(direct, i)));
    await spawn(c, { workflows: [pr.version], subscriber: streamMode, opts: { maxConcurrentWorkflowRuns: 3 } });
    const results = await Promise.all(handles.map((h) => h.waitForStatus("completed", { timeout: 15_000 })));
    expect(results.map((r) => r.success && r.state.output)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(pr.stats.peak).toBe(3);
    expect(p.count("StreamLeases")).toBeGreaterThanOrEqual(1);
    expect(p.count("PollLeases")).toBe(0);
    // A new run is pushed to the idle worker at once.
    expect(await pickup(pr, 8)).toBeLessThan(1_000);
  });

  it("reconnects when the stream breaks, and keeps taking work", async () => {
    const { proxy: p, client: c } = await proxied();
    const pr = probe();
    await spawn(c, { workflows: [pr.version], subscriber: streamMode });
    await until(() => p.count("StreamLeases") === 1);
    // Let the server register the stream before cutting it.
    expect(await pickup(pr, 1)).toBeLessThan(1_000);
    expect(p.cut("StreamLeases")).toBe(1);
    await until(() => p.count("StreamLeases") === 2, 5_000, "a new stream");
    expect(await pickup(pr, 2)).toBeLessThan(1_000);
    expect(p.count("PollLeases")).toBe(0);
  });

  it("after a reconnect, slots freed by executions from before the new stream are filled too", async () => {
    const { proxy: p, client: c } = await proxied();
    const gates = new Map<number, () => void>();
    const running = new Set<number>();
    const step = task({
      name: "gated",
      async handler(i: number) {
        running.add(i);
        await new Promise<void>((r) => gates.set(i, r));
        running.delete(i);
        return i;
      },
    });
    const v = workflow({ name: uniq("gated") }).v("1", { handler: (run, i: number) => step.start(run, i) });
    await spawn(c, { workflows: [v], subscriber: streamMode, opts: { maxConcurrentWorkflowRuns: 2 } });
    const a = await v.start(direct, 1);
    await until(() => running.has(1));
    // The new stream may only take the one free slot: run 1 still holds the other.
    p.cut("StreamLeases");
    await until(() => p.count("StreamLeases") === 2, 5_000, "a new stream");
    gates.get(1)!();
    expect((await a.waitForStatus("completed", { timeout: 5_000 })).success).toBe(true);
    // Both slots are used again: one by the stream, one by a long-poll for the slot run 1 freed.
    const b = await v.start(direct, 2);
    const d = await v.start(direct, 3);
    await until(() => running.has(2) && running.has(3), 5_000, "two runs at once");
    gates.get(2)!();
    gates.get(3)!();
    for (const h of [b, d]) expect((await h.waitForStatus("completed", { timeout: 5_000 })).success).toBe(true);
    expect(p.count("StreamLeases")).toBe(2);
    expect(p.count("PollLeases")).toBeGreaterThanOrEqual(1);
  });

  it("stop() ends the stream, lets the run in flight finish, and the run is not taken again", async () => {
    const { proxy: p, client: c } = await proxied();
    const pr = probe(300);
    const w = await spawn(c, { workflows: [pr.version], subscriber: streamMode, opts: { gracefulShutdownTimeoutMs: 5_000 } });
    const handle = await pr.version.start(direct, 1);
    await until(() => pr.entered.has(1));
    await w.stop();
    expect((await handle.refresh()).state.status).toBe("completed");
    // The stream is closed: a run started now stays queued.
    const later = await pr.version.start(direct, 2);
    expect(await later.waitForStatus("completed", { timeout: 500 })).toEqual({ success: false, cause: "timeout" });
    expect((await later.refresh()).state.status).toBe("queued");
    expect(p.count("PollLeases")).toBe(0);
  });
});

describe("long-poll", () => {
  it('subscriber { type: "grpc", mode: "poll" } takes work by PollLeases only, within maxConcurrentWorkflowRuns', async () => {
    const { proxy: p, client: c } = await proxied();
    const pr = probe(100);
    const handles = await Promise.all([1, 2, 3, 4, 5].map((i) => pr.version.start(direct, i)));
    await spawn(c, { workflows: [pr.version], subscriber: { type: "grpc", mode: "poll" }, opts: { maxConcurrentWorkflowRuns: 2 } });
    const results = await Promise.all(handles.map((h) => h.waitForStatus("completed", { timeout: 15_000 })));
    expect(results.every((r) => r.success)).toBe(true);
    expect(pr.stats.peak).toBe(2);
    expect(await pickup(pr, 6)).toBeLessThan(1_000);
    expect(p.count("StreamLeases")).toBe(0);
    expect(p.count("PollLeases")).toBeGreaterThanOrEqual(1);
  });

  it("is what the worker falls back to when the server does not offer streams (UNIMPLEMENTED)", async () => {
    const { proxy: p, client: c } = await proxied();
    p.refuse("StreamLeases", Code.Unimplemented);
    const logger = recordingLogger();
    const pr = probe();
    await spawn(c, { workflows: [pr.version], subscriber: streamMode, opts: { logger } });
    expect(await pickup(pr, 1)).toBeLessThan(1_000);
    expect(await pickup(pr, 2)).toBeLessThan(1_000);
    // Asked once, then never again.
    expect(p.count("StreamLeases")).toBe(1);
    expect(p.count("PollLeases")).toBeGreaterThanOrEqual(2);
    expect(logger.lines.filter((l) => l.level === "warn").map((l) => l.message)).toEqual(["the server does not offer lease streams; taking work by long-poll"]);
  });

  it("is what the worker falls back to after repeated stream failures", async () => {
    const { proxy: p, client: c } = await proxied();
    p.refuse("StreamLeases", Code.Unavailable);
    const pr = probe();
    await spawn(c, { workflows: [pr.version], subscriber: streamMode });
    await until(() => p.count("PollLeases") >= 1, 10_000, "a long-poll");
    expect(p.count("StreamLeases")).toBe(3);
    expect(await pickup(pr, 1)).toBeLessThan(1_000);
  });
});

describe("Redis ready hints", () => {
  let redis: PrivateRedis;
  let server: TestAiki;
  let observer: Redis;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    h.defer(() => redis.destroy());
    server = await h.startServer({ redisUrl: redis.url });
    observer = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => 200, enableOfflineQueue: false, lazyConnect: true });
    observer.on("error", () => {});
  });
  afterAll(async () => {
    observer?.disconnect();
  });

  /** How many channels the worker's Redis connection listens on (0 without a connection, or while Redis is down). */
  const subscriptions = async (workerId: string): Promise<number> => {
    try {
      if (observer.status !== "ready") await observer.connect().catch(() => {});
      const list = String(await observer.call("CLIENT", "LIST", "TYPE", "pubsub"));
      const line = list.split("\n").find((l) => l.includes(` name=aiki-worker:${workerId} `));
      return line ? Number(/ sub=(\d+)/.exec(line)?.[1] ?? 0) : 0;
    } catch {
      return 0;
    }
  };

  it("picks up runs on hints, well within the safety poll, and keeps working while Redis is away", async () => {
    const c = client({ url: server.url, logger: silentLogger, redis: { url: redis.url } });
    cleanups.push(() => c.close());
    const logger = recordingLogger();
    const pr = probe();
    // The safety poll is far away, and the long-poll is only used while Redis is away: quick
    // pickups come from hints.
    const w = await spawn(c, { workflows: [pr.version], subscriber: { type: "redis", safetyPollIntervalMs: 60_000 }, opts: { logger } });
    await until(async () => (await subscriptions(w.id)) === 1, 5_000, "the worker subscribed");
    const pickups: number[] = [];
    for (let i = 1; i <= 5; i++) pickups.push(await pickup(pr, i, { via: c }));
    expect(Math.max(...pickups)).toBeLessThan(1_000);

    await redis.stop();
    // Picked up by polling the server meanwhile.
    await pickup(pr, 6, { via: c, timeoutMs: 15_000 });
    await pickup(pr, 7, { via: c, timeoutMs: 15_000 });
    const warnings = logger.lines.filter((l) => l.level === "warn").map((l) => l.message);
    expect(warnings).toEqual(["Redis is unreachable; taking work by polling the server until it is back"]);

    await redis.start();
    await until(async () => (await subscriptions(w.id)) === 1, 15_000, "the worker subscribed again");
    await until(() => logger.lines.some((l) => l.message === "Redis is reachable again; taking work on its hints"));
    expect(await pickup(pr, 8, { via: c })).toBeLessThan(1_000);
    await w.stop();
    expect(logger.lines.filter((l) => l.level === "warn")).toHaveLength(1);
    expect(await subscriptions(w.id)).toBe(0);
  });

  it("works by polling when Redis is unreachable from the start", async () => {
    const c = client({ url: server.url, logger: silentLogger, redis: { host: "127.0.0.1", port: 1 } });
    cleanups.push(() => c.close());
    const logger = recordingLogger();
    const pr = probe();
    await spawn(c, { workflows: [pr.version], subscriber: { type: "redis" }, opts: { logger } });
    await pickup(pr, 1, { via: c });
    await pickup(pr, 2, { via: c });
    expect(logger.lines.filter((l) => l.level === "warn").map((l) => l.message)).toEqual([
      "Redis is unreachable; taking work by polling the server until it is back",
    ]);
  });

  it("listens on its shards' channels only", async () => {
    const c = client({ url: server.url, logger: silentLogger, redis: { url: redis.url } });
    cleanups.push(() => c.close());
    const pr = probe();
    const w = await spawn(c, { workflows: [pr.version], subscriber: { type: "redis", safetyPollIntervalMs: 60_000 }, opts: { shards: ["eu", "us"] } });
    // One channel per shard: the unsharded one is not among them.
    await until(async () => (await subscriptions(w.id)) === 2, 5_000, "the worker subscribed");
    const channels = (await observer.call("PUBSUB", "CHANNELS", `aiki:ready:default:${pr.version.name}:*`)) as string[];
    expect(channels.sort()).toEqual([readyChannel(pr.version.name, "1", "eu"), readyChannel(pr.version.name, "1", "us")]);
    const t0 = performance.now();
    const eu = await pr.version.with().opt("shard", "eu").start(c, 1);
    await until(() => pr.entered.has(1));
    expect(pr.entered.get(1)! - t0).toBeLessThan(1_000);
    expect((await eu.waitForStatus("completed", { timeout: 5_000 })).success).toBe(true);
  });
});

describe("subscriber options", () => {
  it("are checked when the worker is declared; redis needs the client's redis option", async () => {
    const pr = probe();
    await expect(worker({ name: "w", workflows: [pr.version], subscriber: { type: "redis" } }).spawn(direct)).rejects.toThrow(/redis/);
    expect(() => worker({ name: "w", workflows: [pr.version], subscriber: { type: "grpc", mode: "push" as never } })).toThrow(/mode/);
    expect(() => worker({ name: "w", workflows: [pr.version], subscriber: { type: "kafka" } as never })).toThrow(/subscriber type/);
    expect(() => worker({ name: "w", workflows: [pr.version], subscriber: { type: "redis", safetyPollIntervalMs: 0 } })).toThrow(RangeError);
  });

  it("the SDK's ready channel is the one the server publishes", () => {
    expect(readyChannel("order", "1.0.0", "")).toBe(channels.ready("default", "order", "1.0.0", ""));
    expect(readyChannel("order", "2", "eu")).toBe(channels.ready("default", "order", "2", "eu"));
  });
});
