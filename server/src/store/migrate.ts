import type { Kysely } from "kysely";
import { type Migration, type MigrationProvider, Migrator } from "kysely";
import * as m0001 from "./migrations/0001-initial.js";
import * as m0002 from "./migrations/0002-history.js";
import * as m0003 from "./migrations/0003-schedules.js";
import * as m0004 from "./migrations/0004-task-attempt-id.js";
import * as m0006 from "./migrations/0006-auth.js";
import * as m0005 from "./migrations/0005-dashboard.js";
import * as m0007 from "./migrations/0007-tags-batch-operations.js";
import * as m0008 from "./migrations/0008-rerun.js";
import * as m0009 from "./migrations/0009-retention.js";
import * as m0010 from "./migrations/0010-trace-context.js";

// Listed statically (not read from disk) so migrations work the same from source, tests and bundles.
const migrations: Record<string, Migration> = {
  "0001-initial": m0001,
  "0002-history": m0002,
  "0003-schedules": m0003,
  "0004-task-attempt-id": m0004,
  "0006-auth": m0006,
  "0005-dashboard": m0005,
  "0007-tags-batch-operations": m0007,
  "0008-rerun": m0008,
  "0009-retention": m0009,
  "0010-trace-context": m0010,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export class MigrationFailedError extends Error {
  constructor(
    readonly migrationName: string | undefined,
    options: { cause: unknown },
  ) {
    super(`database migration ${migrationName ?? "(unknown)"} failed: ${String((options.cause as Error)?.message ?? options.cause)}`, options);
    this.name = "MigrationFailedError";
  }
}

/** Applies every pending migration; safe to call from several replicas at once (Kysely takes a lock). */
// biome-ignore lint/suspicious/noExplicitAny: migrations run on a database of any (older) schema
export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error");
    throw new MigrationFailedError(failed?.migrationName, { cause: error });
  }
}
