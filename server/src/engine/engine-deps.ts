import type { Logger } from "pino";
import type { Limits } from "../limits.js";
import type { AikiMetrics } from "../metrics/aiki-metrics.js";
import type { Notifier } from "../notify/notifier.js";
import type { Db } from "../store/database.js";
import type { LocalSessions } from "./local-sessions.js";
import type { RunStatusWatcher } from "./run-status-watcher.js";

/** What the engine's use cases need; built once in dependencies.ts. */
/**
 * How long a worker session's pipelined StartTask waits for the write carrying its result, to be
 * written with it (AIKI_PIPELINE_HOLD_MS). Measured on W2 (bench/trace.ts): a 3-task chain's
 * writes reach the server within about 1 ms of each other.
 */
export const defaultPipelineHoldMs = 2;

export interface EngineDeps {
  db: Db;
  notifier: Notifier;
  logger: Logger;
  /** Aborted when the server shuts down: long waits return early. */
  shutdownSignal: AbortSignal;
  /** Counts transitions, attempts and leases (GET /metrics); unset counts nothing. */
  metrics?: AikiMetrics | undefined;
  /** The batched re-read behind held status waits. */
  runStatusWatcher: RunStatusWatcher;
  /** Worker sessions open on this server, which a start may hand its run to; unset: none. */
  localSessions?: LocalSessions | undefined;
  /** WatchRuns/WatchRun keep-alive interval; unset: 15 s (tests shorten it). */
  watchKeepAliveMs?: number | undefined;
  /** What one request or caller may ask (limits.ts); unset: the defaults. */
  limits?: Limits | undefined;
  /** How long a worker session's pipelined StartTask waits for the write carrying its result (api/pipelined-attempts.ts); unset: 2 ms. */
  pipelineHoldMs?: number | undefined;
}
