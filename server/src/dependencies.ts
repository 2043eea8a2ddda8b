import type { Logger } from "pino";
import { InProcessNotifier } from "./notify/in-process-notifier.js";
import type { Notifier } from "./notify/notifier.js";
import { RedisNotifier } from "./notify/redis-notifier.js";
import { type Db, openDatabase } from "./store/database.js";
import { migrateToLatest } from "./store/migrate.js";

export interface Dependencies {
  db: Db;
  notifier: Notifier;
  logger: Logger;
  store: { kind: "postgres" | "embedded"; location: string };
  /** Store connections checked out now: a test's teardown expects none left. */
  connectionsInUse(): number;
  close(): Promise<void>;
}

export interface DependencyOptions {
  databaseUrl?: string | undefined;
  redisUrl?: string | undefined;
  dataDir: string;
  logger: Logger;
}

/** Opens the store (migrated) and the notifier that main.ts and tests hand to createServer. */
export async function openDependencies(options: DependencyOptions): Promise<Dependencies> {
  const opened = openDatabase({ databaseUrl: options.databaseUrl, dataDir: options.dataDir });
  try {
    await migrateToLatest(opened.db);
  } catch (error) {
    await opened.close();
    throw error;
  }
  let notifier: Notifier;
  if (options.redisUrl) {
    const redis = new RedisNotifier(options.redisUrl, options.logger);
    // Not fatal: without Redis the server still works, by slower re-reads, and catches up when
    // Redis comes back.
    await redis.ready().catch((error: Error) => options.logger.warn({ err: error.message }, "starting without redis"));
    notifier = redis;
  } else {
    notifier = new InProcessNotifier();
  }
  return {
    db: opened.db,
    notifier,
    logger: options.logger,
    store: { kind: opened.kind, location: opened.location },
    connectionsInUse: () => opened.connectionsInUse(),
    async close() {
      await notifier.close();
      await opened.close();
    },
  };
}
