import type { Db } from "@aiki/server/provisioning";
import { CliError } from "./cli-error.js";

/**
 * The server's database itself (DATABASE_URL, else the embedded store in AIKI_DATA_DIR), migrated:
 * for the first admin key, before any key exists to call the server with. The embedded store is
 * one process's at a time: stop the server first.
 */
export async function withDirectStore<T>(env: NodeJS.ProcessEnv, use: (db: Db) => Promise<T>): Promise<T> {
  // Loaded only here: the server's code is not every command's start-up cost.
  const { AikiDomainError, ConfigError, loadConfig, migrateToLatest, openDatabase } = await import("@aiki/server/provisioning");
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message);
    throw error;
  }
  const opened = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 });
  try {
    await migrateToLatest(opened.db);
    return await use(opened.db);
  } catch (error) {
    // Refusals (an unknown namespace, one that exists) read as the server would say them.
    if (error instanceof AikiDomainError) throw new CliError(error.message);
    throw error;
  } finally {
    await opened.close();
  }
}
