// An Aiki server in this process on a real socket (port 0), on a fresh test database and the
// shared Redis, as every integration test uses it.
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { pino } from "pino";
import { inject } from "vitest";
import { type AikiServer, createServer } from "../../server/src/app.js";
import { type Dependencies, openDependencies } from "../../server/src/dependencies.js";
import { LocalSessions } from "../../server/src/engine/local-sessions.js";
import { type ConnectionLimits, defaultConnectionLimits } from "../../server/src/listen-one-port.js";
import { defaultLimits, type Limits } from "../../server/src/limits.js";
import type { RetentionOptions } from "../../server/src/timers/retention-loop.js";
import type { Notifier } from "../../server/src/notify/notifier.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

export interface TestAiki {
  url: string;
  port: number;
  deps: Dependencies;
  database: TestDatabase;
  server: AikiServer;
  /** This server's worker sessions that starts may hand runs to. */
  localSessions: LocalSessions;
  /**
   * Resolves once something in this server (a held long-poll, a stream, a wait) listens on the
   * notifier channel, e.g. `aiki:ready:default:{workflow}:{version}:` while a PollLeases is held.
   * With Redis that is this server's own subscription; whether Redis has it yet is another matter
   * (PUBSUB NUMSUB).
   */
  listening(channel: string, timeoutMs?: number): Promise<void>;
  /** Notifier subscriptions open now, by channel (only channels with one or more). */
  subscriptions(): Map<string, number>;
  /** A gRPC client (HTTP/2, real socket) for a service of this server; with a key, it sends it on every call. */
  client<S extends DescService>(service: S, apiKey?: string): Client<S>;
  /** Closes the connections of the clients client() gave (a later call opens a new one). */
  closeClients(): void;
  /**
   * Closes the server (long-polls answer, connections close, timers stop) but keeps its store and
   * notifier open, so a teardown can see what it left behind (test/support/leak-checks.ts).
   */
  closeServer(): Promise<void>;
  /** Stops this server (not the database): for restarts and replica tests. */
  stopServer(): Promise<void>;
  close(): Promise<void>;
}

export interface TestAikiOptions {
  /** Share a database with another test server (replicas); default: a fresh one. */
  database?: TestDatabase;
  /** false: in-process notifier instead of the shared Redis. */
  redis?: boolean;
  /** Another Postgres (e.g. a private one a test restarts) instead of a fresh test database. */
  databaseUrl?: string;
  /** Another Redis (e.g. a private one a test kills) instead of the shared one. */
  redisUrl?: string;
  timers?: boolean;
  /** AIKI_AUTH=on (every call needs an API key), with the key cache's lifetime; default off. */
  auth?: { cacheTtlMs?: number };
  /** WatchRuns/WatchRun keep-alive interval; default the server's (15 s). */
  watchKeepAliveMs?: number;
  /** Limits other than the defaults (e.g. small ones a test can reach). */
  limits?: Partial<Limits>;
  connectionLimits?: Partial<ConnectionLimits>;
  /** The retention sweep (docs/retention.md); default off in tests, so no test's runs vanish under it. */
  retention?: RetentionOptions;
  /** AIKI_PIPELINE_HOLD_MS; default the server's (2 ms). */
  pipelineHoldMs?: number;
}

export async function startTestAiki(options: TestAikiOptions = {}): Promise<TestAiki> {
  const database = options.database ?? (options.databaseUrl ? external(options.databaseUrl) : await createTestDatabase());
  const logger = pino({ level: process.env.AIKI_TEST_LOG_LEVEL ?? "silent" });
  const opened = await openDependencies({
    databaseUrl: database.url,
    redisUrl: options.redis === false ? undefined : (options.redisUrl ?? inject("redisUrl")),
    dataDir: "/nonexistent-unused",
    logger,
  });
  const watched = watchSubscriptions(opened.notifier);
  // Whatever subscribes through deps.notifier is counted too (a test's own server on these deps).
  const deps: Dependencies = { ...opened, notifier: watched.notifier };
  const localSessions = new LocalSessions();
  const server = createServer({
    db: deps.db,
    notifier: watched.notifier,
    logger,
    timers: options.timers ?? true,
    retention: options.retention ?? false,
    localSessions,
    auth: options.auth ? { enabled: true, ...options.auth } : undefined,
    watchKeepAliveMs: options.watchKeepAliveMs,
    limits: { ...defaultLimits, ...options.limits },
    connectionLimits: { ...defaultConnectionLimits, ...options.connectionLimits },
    pipelineHoldMs: options.pipelineHoldMs,
  });
  const { url, port } = await server.listen(0, "127.0.0.1");
  // Own session managers, so that closeClients() can close the connections they keep.
  const sessionManagers: Http2SessionManager[] = [];
  const grpcTransport = (interceptors: Interceptor[]) => {
    const sessionManager = new Http2SessionManager(url);
    sessionManagers.push(sessionManager);
    return createGrpcTransport({ baseUrl: url, sessionManager, interceptors });
  };
  const transport = grpcTransport([]);
  const keyed = new Map<string, Transport>();
  const transportFor = (apiKey: string | undefined) => {
    if (apiKey === undefined) return transport;
    let t = keyed.get(apiKey);
    if (!t) {
      const bearer: Interceptor = (next) => (req) => {
        req.header.set("authorization", `Bearer ${apiKey}`);
        return next(req);
      };
      t = grpcTransport([bearer]);
      keyed.set(apiKey, t);
    }
    return t;
  };
  let serverClosed: Promise<void> | undefined;
  const closeServer = () => (serverClosed ??= server.close(2_000));
  let serverStopped = false;
  const stopServer = async () => {
    if (serverStopped) return;
    serverStopped = true;
    await closeServer();
    await deps.close();
  };
  return {
    url,
    port,
    deps,
    database,
    server,
    localSessions,
    listening: watched.listening,
    subscriptions: watched.subscriptions,
    client: (service, apiKey) => createClient(service, transportFor(apiKey)),
    closeClients() {
      for (const m of sessionManagers) m.abort();
    },
    closeServer,
    stopServer,
    async close() {
      await stopServer();
      for (const m of sessionManagers) m.abort();
      if (!options.database && !options.databaseUrl) await database.destroy();
    },
  };
}

function external(url: string): TestDatabase {
  return { url, name: new URL(url).pathname.slice(1), destroy: async () => {} };
}

/** The notifier, passed through, with a way to wait until a channel has a listener. */
function watchSubscriptions(inner: Notifier): {
  notifier: Notifier;
  listening(channel: string, timeoutMs?: number): Promise<void>;
  subscriptions(): Map<string, number>;
} {
  const counts = new Map<string, number>();
  const waiters = new Set<{ channel: string; resolve: () => void }>();
  const notifier: Notifier = {
    publish: (channel, message) => inner.publish(channel, message),
    subscribe(channel, listener) {
      const unsubscribe = inner.subscribe(channel, listener);
      counts.set(channel, (counts.get(channel) ?? 0) + 1);
      for (const w of [...waiters]) if (w.channel === channel) w.resolve();
      let done = false;
      return () => {
        if (!done) {
          done = true;
          counts.set(channel, counts.get(channel)! - 1);
        }
        unsubscribe();
      };
    },
    close: () => inner.close(),
  };
  const listening = (channel: string, timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      if ((counts.get(channel) ?? 0) > 0) return resolve();
      const waiter = {
        channel,
        resolve: () => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`nothing listened on ${channel} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(waiter);
    });
  const subscriptions = () => new Map([...counts].filter(([, n]) => n > 0));
  return { notifier, listening, subscriptions };
}
