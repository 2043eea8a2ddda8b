import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { Kysely, PostgresDialect } from "kysely";
import { PGliteDialect } from "kysely-pglite-dialect";
import pg from "pg";
import type { ApiKeysTable } from "./api-keys.table.js";
import type { BatchOperationsTable } from "./batch-operations.table.js";
import type { NamespacesTable } from "./namespaces.table.js";
import type { ChildRunsTable } from "./child-runs.table.js";
import type { EventsTable } from "./events.table.js";
import type { RunWaitsTable } from "./run-waits.table.js";
import type { TasksTable } from "./tasks.table.js";
import type { WorkersTable } from "./workers.table.js";
import type { RunTransitionsTable } from "./run-transitions.table.js";
import type { RunsTable } from "./runs.table.js";
import { usePreparedStatements } from "./prepared-statements.js";
import { tracedDialect } from "../tracing/traced-dialect.js";
import type { SchedulesTable } from "./schedules.table.js";

export interface Database {
  runs: RunsTable;
  run_transitions: RunTransitionsTable;
  tasks: TasksTable;
  run_waits: RunWaitsTable;
  child_runs: ChildRunsTable;
  events: EventsTable;
  workers: WorkersTable;
  schedules: SchedulesTable;
  namespaces: NamespacesTable;
  api_keys: ApiKeysTable;
  batch_operations: BatchOperationsTable;
}

export type Db = Kysely<Database>;

export interface OpenedDatabase {
  db: Db;
  /** "postgres" for a server reached by DATABASE_URL, "embedded" for PGlite on local disk. */
  kind: "postgres" | "embedded";
  /** Where the data lives, without credentials. */
  location: string;
  /** Pool clients checked out now (always 0 embedded): a test's teardown expects none left. */
  connectionsInUse(): number;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A postgres:// URL; when absent the embedded store is used. */
  databaseUrl?: string | undefined;
  /** Folder of the embedded store. */
  dataDir: string;
  /** Connections in the pool (Postgres only). */
  poolSize?: number | undefined;
}

export function openDatabase(options: DatabaseOptions): OpenedDatabase {
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: options.poolSize ?? 20,
      // Fail fast instead of queueing forever when Postgres is down; callers see UNAVAILABLE.
      connectionTimeoutMillis: 10_000,
    });
    // A client losing its connection (Postgres restarted) must not crash the process: idle ones
    // report through the pool, checked-out ones (between a transaction's statements) through
    // themselves; the statement in flight fails on its own and the pool replaces the client.
    pool.on("error", () => {});
    pool.on("connect", (client) => {
      client.on("error", () => {});
      usePreparedStatements(client);
    });
    const db = new Kysely<Database>({ dialect: tracedDialect(new PostgresDialect({ pool })) });
    const url = new URL(options.databaseUrl);
    return {
      db,
      kind: "postgres",
      location: `postgres://${url.hostname}:${url.port || 5432}${url.pathname}`,
      connectionsInUse: () => pool.totalCount - pool.idleCount,
      close: () => db.destroy(),
    };
  }
  mkdirSync(options.dataDir, { recursive: true });
  // PGlite is one connection: the dialect serializes transactions, which is the right model
  // for a single-process embedded server.
  const pglite = new PGlite(options.dataDir);
  const db = new Kysely<Database>({ dialect: tracedDialect(new PGliteDialect(pglite)) });
  return { db, kind: "embedded", location: options.dataDir, connectionsInUse: () => 0, close: () => db.destroy() };
}
