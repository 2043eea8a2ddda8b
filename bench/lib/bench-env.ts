// Real Postgres and Redis for a benchmark, started the way the tests start them, but durable
// (fsync and synchronous commit on, data on disk): the figures are what a deployment would see.
import { execFile } from "node:child_process";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { migrateToLatest } from "@aiki/server";
import {
  destroyPostgresServer,
  type PostgresServerInfo,
  type RedisServerInfo,
  restartPostgres,
  startPostgresServer,
  startRedisServer,
  stopRedisServer,
  withDatabase,
} from "../../test/support/servers.js";

const exec = promisify(execFile);

export interface BenchEnv {
  pg: PostgresServerInfo;
  redis: RedisServerInfo;
  /** A migrated database for Aiki. */
  databaseUrl: string;
  redisUrl: string;
  /** Runs a pgbench binary of the same Postgres install. */
  pgbench(args: string[]): Promise<string>;
  close(): Promise<void>;
}

export interface BenchEnvOptions {
  /**
   * Loads pg_stat_statements (and creates the extension in the bench database), for profiling:
   * statement counts and times per workflow. Off for the figures (it costs a little per statement).
   */
  statements?: boolean;
}

export async function startBenchEnv(options: BenchEnvOptions = {}): Promise<BenchEnv> {
  const server = await startPostgresServer({ label: "bench", durable: true });
  if (options.statements) {
    appendFileSync(
      join(server.dataDir, "postgresql.conf"),
      "\n# --- bench profiling ---\nshared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all\npg_stat_statements.track_utility = on\npg_stat_statements.max = 5000\npg_stat_statements.track_planning = on\ntrack_wal_io_timing = on\n",
    );
    await restartPostgres(server);
  }
  const redis = await startRedisServer({ label: "bench" });
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  await admin.query("create database aiki_bench");
  await admin.end();
  if (options.statements) {
    const db = new pg.Client({ connectionString: withDatabase(server.adminUrl, "aiki_bench") });
    await db.connect();
    await db.query("create extension pg_stat_statements");
    await db.end();
  }
  const databaseUrl = withDatabase(server.adminUrl, "aiki_bench");
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: databaseUrl, max: 1 }) }) });
  await migrateToLatest(db);
  await db.destroy();
  return {
    pg: server,
    redis,
    databaseUrl,
    redisUrl: `redis://127.0.0.1:${redis.port}`,
    async pgbench(args) {
      const { stdout } = await exec(join(server.binDir, "pgbench"), ["-h", server.host, "-p", String(server.port), "-U", server.user, ...args], {
        maxBuffer: 16 * 1024 * 1024,
      });
      return stdout;
    },
    async close() {
      await stopRedisServer(redis, { removeDir: true });
      await destroyPostgresServer(server);
    },
  };
}
