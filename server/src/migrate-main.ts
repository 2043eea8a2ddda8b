import { loadConfig } from "./config.js";
import { openDatabase } from "./store/database.js";
import { migrateToLatest } from "./store/migrate.js";

// `npm run migrate`: applies pending migrations to DATABASE_URL (or the embedded store).
const config = loadConfig();
const opened = openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
try {
  await migrateToLatest(opened.db);
  console.log(`migrated ${opened.location}`);
} finally {
  await opened.close();
}
