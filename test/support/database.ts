// Per-test Postgres databases, copied from the migrated template made by test/global-setup.ts.
import { randomBytes } from "node:crypto";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { inject } from "vitest";
import type { Database } from "../../server/src/store/database.js";
import { migrateToLatest } from "../../server/src/store/migrate.js";
import { checkRunTransitions } from "./check-run-transitions.js";
import {
  destroyPostgresServer,
  killPostgres,
  killPostgresSync,
  postgresPid,
  type PostgresServerInfo,
  restartPostgres,
  startPostgres,
  startPostgresServer,
  stopPostgres,
  withDatabase,
} from "./servers.js";

export { withDatabase };

export interface TestDatabase {
  /** postgres://…/<name>, same user as the admin URL. */
  url: string;
  name: string;
  /**
   * Drops the database, disconnecting anyone still connected (WITH (FORCE)). Idempotent. Before
   * that, checks its run history against the state machine (checkRunTransitions) and, after
   * dropping it, throws what that check found.
   */
  destroy(): Promise<void>;
}

async function admin<T>(adminUrl: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

let counter = 0;

// This test file's databases not destroyed yet: test/after-each-file.ts checks them after the file.
const live = new Map<string, TestDatabase>();

/**
 * checkRunTransitions on each database this test file created and has not destroyed (a file's own
 * afterAll destroys, and so checks, the rest): a leaked database is checked too, and left for the
 * global teardown to drop.
 */
export async function checkLiveDatabases(): Promise<void> {
  const failures: unknown[] = [];
  for (const db of live.values()) await checkRunTransitions(db.url).catch((error: unknown) => failures.push(error));
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, failures.map((e) => (e as Error).message).join("\n"));
}

/**
 * A fresh database with every migration applied (a copy of the run's template; ~tens of ms).
 * `{ empty: true }` gives an unmigrated database instead (copy of template0), e.g. to test migrations.
 */
export async function createTestDatabase(opts: { empty?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = inject("pgAdminUrl");
  const template = opts.empty ? "template0" : inject("pgTemplate");
  const name = `aiki_t_${inject("pgRunId")}_${randomBytes(4).toString("hex")}_${++counter}`;
  // FILE_COPY (PG 15+) copies a small template faster than the default WAL_LOG.
  const strategy = inject("pgServerVersion") >= 150000 ? " strategy file_copy" : "";
  await admin(adminUrl, (c) => c.query(`create database "${name}" template "${template}"${strategy}`));
  let destroyed = false;
  const url = withDatabase(adminUrl, name);
  const database: TestDatabase = {
    url,
    name,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      live.delete(name);
      const checked = await checkRunTransitions(url).then(
        () => undefined,
        (error: unknown) => error,
      );
      await admin(adminUrl, (c) => c.query(`drop database if exists "${name}" with (force)`));
      if (checked !== undefined) throw checked;
    },
  };
  live.set(name, database);
  return database;
}

/** A Kysely instance on `url` (pg Pool); call `.destroy()` when done. */
export function testKysely<DB = Database>(url: string, poolSize = 5): Kysely<DB> {
  return new Kysely<DB>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: poolSize }) }) });
}

export interface PrivatePostgres {
  /** How it runs (binaries, data dir, port, OS user); also accepted by the functions in ./servers.ts. */
  server: PostgresServerInfo;
  /** postgres://aiki@127.0.0.1:PORT/aiki — migrated. The port survives stop/start. */
  url: string;
  /** Same server, database `postgres`. */
  adminUrl: string;
  /** pg_ctl stop; "immediate" is crash-like (no checkpoint, recovery on start). Resolves once it is down. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** pg_ctl start; resolves once it accepts connections. */
  start(): Promise<void>;
  restart(mode?: "fast" | "immediate"): Promise<void>;
  /**
   * Crashes it: SIGKILL to the postmaster, resolves once it and every process it started are gone
   * (start() then runs crash recovery). Returns the pids that died.
   */
  kill(): Promise<{ postmaster: number; children: number[] }>;
  /** The running postmaster's pid (from postmaster.pid; stale after kill() until start()). */
  pid(): number | null;
  /** Stops it and removes its temp dir. */
  destroy(): Promise<void>;
}

/**
 * A Postgres server of this test's own (its own cluster, port and temp dir, ~1 s to start), with a migrated
 * database `aiki`. For tests that stop or restart Postgres: doing that to the shared server would break
 * every other test file running at the same time. Needs the server binaries even when DATABASE_URL is set.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const server = await startPostgresServer({ label: "private", synchronousCommit: true });
  try {
    await admin(server.adminUrl, (c) => c.query(`create database aiki`));
    const url = withDatabase(server.adminUrl, "aiki");
    const db = testKysely(url, 1);
    try {
      await migrateToLatest(db);
    } finally {
      await db.destroy();
    }
    // If the test process dies before destroy(), do not leave the server behind.
    const onExit = () => killPostgresSync(server);
    process.once("exit", onExit);
    return {
      server,
      url,
      adminUrl: server.adminUrl,
      stop: (mode = "fast") => stopPostgres(server, mode),
      start: () => startPostgres(server),
      restart: (mode = "fast") => restartPostgres(server, mode),
      kill: () => killPostgres(server),
      pid: () => postgresPid(server),
      destroy: async () => {
        process.removeListener("exit", onExit);
        const checked = await checkPrivateRunTransitions(server, url).then(
          () => undefined,
          (error: unknown) => error,
        );
        await destroyPostgresServer(server);
        if (checked !== undefined) throw checked;
      },
    };
  } catch (err) {
    await destroyPostgresServer(server).catch(() => {});
    throw err;
  }
}

/** checkRunTransitions on a private server's database, starting the server first when a test left it down. */
async function checkPrivateRunTransitions(server: PostgresServerInfo, url: string): Promise<void> {
  try {
    await checkRunTransitions(url);
  } catch (error) {
    // 57P03: still starting (or recovering); ECONNREFUSED: stopped or killed.
    const code = (error as { code?: string }).code;
    if (code !== "ECONNREFUSED" && code !== "57P03") throw error;
    await startPostgres(server);
    await checkRunTransitions(url);
  }
}
