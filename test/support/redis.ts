// Redis for tests. One server is shared by every test file (see test/global-setup.ts), so isolate by
// key/channel prefix: Redis pub/sub channels ignore the selected db, so numbered dbs do not isolate them.
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { Redis, type RedisOptions } from "ioredis";
import { inject } from "vitest";
import { killRedisServer, killRedisSync, type RedisServerInfo, startRedisServer, stopRedisServer } from "./servers.js";

/** redis://host:port of the shared test Redis. */
export function testRedisUrl(): string {
  return inject("redisUrl");
}

/** A prefix no other test (in this or any concurrent run) uses, e.g. `aiki:t:3f9a1c2b7d:`. */
export function uniqueRedisPrefix(label = "t"): string {
  return `aiki:${label}:${randomBytes(5).toString("hex")}:`;
}

export interface TestRedis {
  url: string;
  /** Use for every key and channel of this test (server code should take it as its key prefix). */
  prefix: string;
  /** A new ioredis client on `url`; closed by destroy(). */
  connect(options?: RedisOptions): Redis;
  /** Deletes the keys under `prefix` and disconnects every client made by connect(). */
  destroy(): Promise<void>;
}

/** A unique prefix on the shared Redis, with tracked clients and cleanup. */
export function createTestRedis(label = "t"): TestRedis {
  const url = testRedisUrl();
  const prefix = uniqueRedisPrefix(label);
  const clients: Redis[] = [];
  return {
    url,
    prefix,
    connect(options = {}) {
      const c = new Redis(url, options);
      clients.push(c);
      return c;
    },
    async destroy() {
      const c = new Redis(url, { maxRetriesPerRequest: 1 });
      try {
        let cursor = "0";
        do {
          const [next, keys] = await c.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
          cursor = next;
          if (keys.length > 0) await c.unlink(...keys);
        } while (cursor !== "0");
      } finally {
        c.disconnect();
        for (const client of clients.splice(0)) client.disconnect();
      }
    },
  };
}

export interface PrivateRedis {
  server: RedisServerInfo;
  url: string;
  /** SIGTERM the server and wait for it to exit. */
  stop(): Promise<void>;
  /** SIGKILL the server by pid (a crash: no shutdown) and wait for it to exit. */
  kill(): Promise<void>;
  /** Start it again on the same port (empty: no persistence); resolves when it answers PING. */
  start(): Promise<void>;
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

/** A redis-server of this test's own, for tests that stop or restart Redis. Needs the redis-server binary. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  let server = await startRedisServer({ label: "private" });
  let running = true;
  const { port, baseDir, url } = server;
  // If the test process dies before destroy(), do not leave the server behind.
  const onExit = () => killRedisSync(server);
  process.once("exit", onExit);
  const self: PrivateRedis = {
    get server() {
      return server;
    },
    url,
    async stop() {
      if (!running) return;
      running = false;
      await stopRedisServer(server, { removeDir: false });
    },
    async kill() {
      if (!running) return;
      running = false;
      await killRedisServer(server);
    },
    async start() {
      if (running) return;
      server = await startRedisServer({ port, baseDir });
      running = true;
    },
    async restart() {
      await self.stop();
      await self.start();
    },
    async destroy() {
      process.removeListener("exit", onExit);
      if (running) {
        running = false;
        await stopRedisServer(server);
      } else {
        await rm(baseDir, { recursive: true, force: true });
      }
    },
  };
  return self;
}
