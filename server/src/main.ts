import { installTracingFromEnv } from "@aiki/common/install-tracing";
import { createServer } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { openDependencies } from "./dependencies.js";
import { AdminKeyError, ensureAdminKey } from "./engine/api-keys.js";
import { createLogger } from "./logger.js";

// Reads the configuration, wires the dependencies, listens; stops gracefully on SIGTERM/SIGINT.
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  // Off unless the standard OTEL_* variables ask for it (docs/tracing.md).
  const tracing = installTracingFromEnv(process.env, "aiki-server");
  const deps = await openDependencies({ ...config, logger });
  // Stored before listening, so the operator's first call with it cannot race its creation.
  if (config.adminKey) await ensureAdminKey(deps.db, config.adminKey);
  const server = createServer({
    db: deps.db,
    notifier: deps.notifier,
    logger,
    tls: config.tls,
    auth: { enabled: config.auth },
    limits: config.limits,
    connectionLimits: config.connectionLimits,
    metricWorkflows: config.maxMetricWorkflows,
    retention: config.retention,
    batchLoop: config.batchLoop,
    pipelineHoldMs: config.pipelineHoldMs,
  });
  const address = await server.listen(config.port, config.host);
  logger.info(
    {
      url: address.url,
      store: deps.store,
      notifier: config.redisUrl ? "redis" : "in-process",
      auth: config.auth ? "on" : "off",
      tracing: tracing ? "on" : "off",
    },
    `aiki server listening on ${address.url}`,
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    await server.close();
    await deps.close();
    await tracing?.shutdown();
    logger.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof AdminKeyError) console.error(error.message);
  else console.error("aiki server failed to start:", error);
  process.exit(1);
});
