// An Aiki server in this process on a real socket (port 0), on a fresh test database and the
// shared Redis, as every integration test uses it.
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { inject } from "vitest";
import { type AikiServer, createServer } from "../../server/src/app.js";
import { type Dependencies, openDependencies } from "../../server/src/dependencies.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

export interface TestAiki {
  url: string;
  port: number;
  deps: Dependencies;
  database: TestDatabase;
  server: AikiServer;
  /** A gRPC client (HTTP/2, real socket) for a service of this server. */
  client<S extends DescService>(service: S): Client<S>;
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
}

export async function startTestAiki(options: TestAikiOptions = {}): Promise<TestAiki> {
  const database = options.database ?? (options.databaseUrl ? external(options.databaseUrl) : await createTestDatabase());
  const logger = pino({ level: process.env.AIKI_TEST_LOG_LEVEL ?? "silent" });
  const deps = await openDependencies({
    databaseUrl: database.url,
    redisUrl: options.redis === false ? undefined : (options.redisUrl ?? inject("redisUrl")),
    dataDir: "/nonexistent-unused",
    logger,
  });
  const server = createServer({ db: deps.db, notifier: deps.notifier, logger, timers: options.timers ?? true });
  const { url, port } = await server.listen(0, "127.0.0.1");
  const transport = createGrpcTransport({ baseUrl: url });
  let serverStopped = false;
  const stopServer = async () => {
    if (serverStopped) return;
    serverStopped = true;
    await server.close(2_000);
    await deps.close();
  };
  return {
    url,
    port,
    deps,
    database,
    server,
    client: (service) => createClient(service, transport),
    stopServer,
    async close() {
      await stopServer();
      if (!options.database && !options.databaseUrl) await database.destroy();
    },
  };
}

function external(url: string): TestDatabase {
  return { url, name: new URL(url).pathname.slice(1), destroy: async () => {} };
}
