import { resolve } from "node:path";
import { z } from "zod";
import { defaultBatchLoopOptions } from "./batch/batch-loop.js";
import { defaultConnectionLimits, type ConnectionLimits } from "./listen-one-port.js";
import { defaultLimits, type Limits, limitVariables } from "./limits.js";
import { defaultPipelineHoldMs } from "./engine/engine-deps.js";

const positiveInt = (fallback: number) => z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).default(fallback);
// Every limit of limits.ts, each under its own variable.
const limitsSchema = Object.fromEntries(
  (Object.keys(limitVariables) as Array<keyof Limits>).map((key) => [limitVariables[key], positiveInt(defaultLimits[key])]),
) as Record<string, ReturnType<typeof positiveInt>>;

const envSchema = z.object({
  AIKI_HOST: z.string().min(1).default("127.0.0.1"),
  AIKI_PORT: z.coerce.number().int().min(0).max(65535).default(9850),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, "must be a redis:// URL")
    .optional(),
  AIKI_DATA_DIR: z.string().min(1).default(".aiki/data"),
  AIKI_TLS_CERT: z.string().min(1).optional(),
  AIKI_TLS_KEY: z.string().min(1).optional(),
  AIKI_LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  AIKI_AUTH: z.enum(["on", "off"]).default("off"),
  AIKI_ADMIN_KEY: z
    .string()
    .regex(/^aiki_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/, "must look like aiki_<8 hex>_<43 base64url characters>, as `aiki keys create` prints")
    .optional(),
  ...limitsSchema,
  AIKI_MAX_METRIC_WORKFLOWS: positiveInt(200),
  AIKI_RETENTION_DAYS: z.coerce.number().min(0).max(36_500).default(30),
  AIKI_RETENTION_SWEEP_MS: positiveInt(60_000),
  AIKI_PIPELINE_HOLD_MS: z.coerce.number().int().min(0).max(1000).default(defaultPipelineHoldMs),
  AIKI_BATCH_LEASE_MS: positiveInt(defaultBatchLoopOptions.leaseTtlMs),
  AIKI_BATCH_PAGE_SIZE: positiveInt(defaultBatchLoopOptions.pageSize),
  AIKI_HEADERS_TIMEOUT_MS: positiveInt(defaultConnectionLimits.headersTimeoutMs),
  AIKI_REQUEST_TIMEOUT_MS: positiveInt(defaultConnectionLimits.requestTimeoutMs),
  AIKI_IDLE_CONNECTION_TIMEOUT_MS: positiveInt(defaultConnectionLimits.idleTimeoutMs),
  AIKI_MAX_CONCURRENT_STREAMS: positiveInt(defaultConnectionLimits.maxConcurrentStreams),
  AIKI_MAX_SESSION_MEMORY_MB: positiveInt(defaultConnectionLimits.maxSessionMemoryMb),
});

export interface Config {
  host: string;
  port: number;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  dataDir: string;
  tls: { certFile: string; keyFile: string } | undefined;
  logLevel: string;
  /** AIKI_AUTH=on: every call needs an API key (docs/security.md); off: namespace "default", no keys. */
  auth: boolean;
  /** A key stored (hashed) at start as an admin key of namespace "default". */
  adminKey: string | undefined;
  /** docs/limits.md */
  limits: Limits;
  connectionLimits: ConnectionLimits;
  maxMetricWorkflows: number;
  /** AIKI_RETENTION_DAYS (0: keep forever) and AIKI_RETENTION_SWEEP_MS, docs/retention.md. */
  retention: { maxAgeMs: number; sweepMs: number };
  /** AIKI_BATCH_LEASE_MS, AIKI_BATCH_PAGE_SIZE: docs/bulk-actions.md. */
  batchLoop: { leaseTtlMs: number; pageSize: number };
  /** AIKI_PIPELINE_HOLD_MS: docs/worker-protocol.md, Pipelining. */
  pipelineHoldMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

/** Reads the environment; every bad variable is named, none is silently ignored. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Empty variables count as unset, as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`));
  }
  const e = parsed.data;
  if (Boolean(e.AIKI_TLS_CERT) !== Boolean(e.AIKI_TLS_KEY)) {
    throw new ConfigError(["AIKI_TLS_CERT and AIKI_TLS_KEY must be set together"]);
  }
  return {
    host: e.AIKI_HOST,
    port: e.AIKI_PORT,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    dataDir: resolve(e.AIKI_DATA_DIR),
    tls: e.AIKI_TLS_CERT && e.AIKI_TLS_KEY ? { certFile: e.AIKI_TLS_CERT, keyFile: e.AIKI_TLS_KEY } : undefined,
    logLevel: e.AIKI_LOG_LEVEL,
    auth: e.AIKI_AUTH === "on",
    adminKey: e.AIKI_ADMIN_KEY,
    limits: Object.fromEntries(
      (Object.keys(limitVariables) as Array<keyof Limits>).map((key) => [key, (e as Record<string, unknown>)[limitVariables[key]] as number]),
    ) as unknown as Limits,
    connectionLimits: {
      headersTimeoutMs: e.AIKI_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.AIKI_REQUEST_TIMEOUT_MS,
      idleTimeoutMs: e.AIKI_IDLE_CONNECTION_TIMEOUT_MS,
      maxConcurrentStreams: e.AIKI_MAX_CONCURRENT_STREAMS,
      maxSessionMemoryMb: e.AIKI_MAX_SESSION_MEMORY_MB,
    },
    maxMetricWorkflows: e.AIKI_MAX_METRIC_WORKFLOWS,
    retention: { maxAgeMs: Math.round(e.AIKI_RETENTION_DAYS * 24 * 3600_000), sweepMs: e.AIKI_RETENTION_SWEEP_MS },
    batchLoop: { leaseTtlMs: e.AIKI_BATCH_LEASE_MS, pageSize: e.AIKI_BATCH_PAGE_SIZE },
    pipelineHoldMs: e.AIKI_PIPELINE_HOLD_MS,
  };
}
