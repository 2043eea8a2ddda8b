import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{common,server,sdk,worker,cli,test}/**/*.test.ts", "dashboard/test/**/*.test.ts", "examples/**/*.test.ts", "docs/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**", "**/.tmp/**"],
    // Starts real Postgres + Redis (or uses DATABASE_URL / REDIS_URL) and a migrated template database.
    globalSetup: ["test/global-setup.ts"],
    // Checks every test database the file left behind against the run state machine.
    setupFiles: ["test/after-each-file.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 60_000,
    retry: 0,
  },
});
