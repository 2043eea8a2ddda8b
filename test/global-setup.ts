// Vitest global setup: one real Postgres and one real Redis for the whole run, plus a migrated
// template database that test/support/database.ts copies for each test. Never skips: a missing
// server is an Error that says how to fix it.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { migrateToLatest } from "../server/src/store/migrate.js";
import {
  destroyPostgresServer,
  killPostgresSync,
  killRedisSync,
  type PostgresServerInfo,
  type RedisServerInfo,
  startPostgresServer,
  startRedisServer,
  stopRedisServer,
  withDatabase,
} from "./support/servers.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser/CREATEDB connection URL, database `postgres`. */
    pgAdminUrl: string;
    /** Name of the migrated template database (copy it, never connect to it). */
    pgTemplate: string;
    /** server_version_num of the Postgres server, e.g. 150018. */
    pgServerVersion: number;
    /** Unique per `vitest run`; test database names start with `aiki_t_<pgRunId>_`. */
    pgRunId: string;
    /** The Postgres started by global setup (restartable with test/support/servers.ts), or null for DATABASE_URL. */
    pgServer: PostgresServerInfo | null;
    /** redis://host:port of the shared Redis. */
    redisUrl: string;
    /** The Redis started by global setup, or null for REDIS_URL. */
    redisServer: RedisServerInfo | null;
  }
}

/** Runs `sql` on a fresh admin connection; returns the server's server_version_num. */
async function adminQuery(adminUrl: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
    const { rows } = await client.query<{ v: string }>("show server_version_num");
    return Number(rows[0]!.v);
  } finally {
    await client.end();
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  const template = `aiki_tpl_${runId}`;
  // Filled in as things start, so teardown (also after a failed setup) stops exactly what was started.
  const st: { pgServer: PostgresServerInfo | null; redisServer: RedisServerInfo | null; adminUrl: string | null } = {
    pgServer: null,
    redisServer: null,
    adminUrl: null,
  };

  // Last resort if the process dies without running teardown (e.g. an uncaught error in vitest).
  const onExit = () => {
    if (st.pgServer) killPostgresSync(st.pgServer);
    if (st.redisServer) killRedisSync(st.redisServer);
  };
  process.once("exit", onExit);

  const teardown = async (): Promise<void> => {
    process.removeListener("exit", onExit);
    const errors: unknown[] = [];
    if (st.adminUrl !== null && st.pgServer === null) {
      // External server: drop what this run created (template and any test DB a test forgot to destroy).
      try {
        const client = new pg.Client({ connectionString: st.adminUrl });
        await client.connect();
        try {
          const { rows } = await client.query<{ datname: string }>("select datname from pg_database where datname = $1 or datname like $2", [
            template,
            `aiki\\_t\\_${runId}\\_%`,
          ]);
          for (const { datname } of rows) await client.query(`drop database if exists "${datname}" with (force)`);
        } finally {
          await client.end();
        }
      } catch (err) {
        errors.push(err);
      }
    }
    if (st.pgServer) await destroyPostgresServer(st.pgServer).catch((e: unknown) => errors.push(e));
    if (st.redisServer) await stopRedisServer(st.redisServer).catch((e: unknown) => errors.push(e));
    st.pgServer = null;
    st.redisServer = null;
    if (errors.length > 0) throw new AggregateError(errors, "test global teardown failed");
  };

  try {
    // Postgres and Redis start in parallel.
    const pgReady = (async () => {
      const t = Date.now();
      const external = process.env.DATABASE_URL;
      let adminUrl: string;
      if (external) {
        adminUrl = withDatabase(external, "postgres");
      } else {
        st.pgServer = await startPostgresServer({ label: "shared" });
        adminUrl = st.pgServer.adminUrl;
      }
      st.adminUrl = adminUrl;
      const tStart = Date.now() - t;
      let version: number;
      try {
        version = await adminQuery(adminUrl, `create database "${template}"`);
      } catch (err) {
        const where = external ? "the DATABASE_URL server (its user needs CREATEDB)" : "the test Postgres";
        throw new Error(`cannot create the template database on ${where}: ${(err as Error).message}`, { cause: err });
      }
      const db = new Kysely<unknown>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: withDatabase(adminUrl, template), max: 2 }) }),
      });
      try {
        await migrateToLatest(db);
      } finally {
        await db.destroy(); // a template with open connections cannot be copied
      }
      // Nobody may connect to the template by accident (that would block CREATE DATABASE ... TEMPLATE).
      await adminQuery(adminUrl, `alter database "${template}" with allow_connections false`);
      return { startMs: tStart, totalMs: Date.now() - t, version };
    })();

    const redisReady = (async () => {
      const t = Date.now();
      const external = process.env.REDIS_URL;
      if (external) {
        const client = new Redis(external, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null });
        try {
          await client.connect();
          if ((await client.ping()) !== "PONG") throw new Error("PING did not answer PONG");
        } catch (err) {
          throw new Error(
            `REDIS_URL=${external} does not answer PING (${(err as Error).message}); start that server, or unset REDIS_URL to let the tests start a throwaway redis-server`,
            { cause: err },
          );
        } finally {
          client.disconnect();
        }
        return { url: external, ms: Date.now() - t };
      }
      st.redisServer = await startRedisServer({ label: "shared" });
      return { url: st.redisServer.url, ms: Date.now() - t };
    })();

    const [pgRes, redisRes] = await Promise.allSettled([pgReady, redisReady]);
    if (pgRes.status === "rejected" || redisRes.status === "rejected") {
      const errs = [pgRes, redisRes].filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason as Error);
      throw errs.length === 1 ? errs[0] : new AggregateError(errs, errs.map((e) => e.message).join("\n"));
    }

    project.provide("pgAdminUrl", st.adminUrl!);
    project.provide("pgTemplate", template);
    project.provide("pgRunId", runId);
    project.provide("pgServerVersion", pgRes.value.version);
    project.provide("pgServer", st.pgServer);
    project.provide("redisUrl", redisRes.value.url);
    project.provide("redisServer", st.redisServer);

    if (process.env.AIKI_TEST_VERBOSE_SETUP !== "0") {
      console.log(
        `[aiki test] global setup ${Date.now() - started} ms: postgres ${st.pgServer ? `started ${st.pgServer.host}:${st.pgServer.port}` : "DATABASE_URL"} ` +
          `(${pgRes.value.startMs} ms, +template ${template} ${pgRes.value.totalMs - pgRes.value.startMs} ms), ` +
          `redis ${st.redisServer ? `started ${redisRes.value.url}` : "REDIS_URL"} (${redisRes.value.ms} ms)`,
      );
    }
  } catch (err) {
    await teardown().catch((e: unknown) => console.error("[aiki test] cleanup after failed setup also failed:", e));
    throw err;
  }

  return teardown;
}
