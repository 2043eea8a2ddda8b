import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import { Code, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { ScheduleService } from "@aiki/gen/aiki/v1/schedule_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { Health } from "@aiki/gen/grpc/health/v1/health_pb";
import type { Logger } from "pino";
import { AdminService } from "@aiki/gen/aiki/v1/admin_service_pb";
import { BatchService } from "@aiki/gen/aiki/v1/batch_service_pb";
import { registerBatchService } from "./api/batch-service-handler.js";
import { BatchLoop, type BatchLoopOptions, defaultBatchLoopOptions } from "./batch/batch-loop.js";
import { registerAdminService } from "./api/admin-service-handler.js";
import { authInterceptor } from "./api/auth-interceptor.js";
import { rpcTracing } from "./api/rpc-tracing.js";
import { toConnectError } from "./api/errors.js";
import { HealthStatus, registerHealth } from "./api/health-service.js";
import { registerReflection } from "./api/reflection-service.js";
import { requestLimits } from "./api/request-limits.js";
import { registerEventService } from "./api/event-service-handler.js";
import { registerRunService } from "./api/run-service-handler.js";
import { registerScheduleService } from "./api/schedule-service-handler.js";
import { registerTaskService } from "./api/task-service-handler.js";
import { registerWorkerLeaseService } from "./api/worker-lease-service-handler.js";
import { ApiKeyVerifier, type VerifierOptions } from "./engine/api-key-verifier.js";
import type { EngineDeps } from "./engine/engine-deps.js";
import { LocalSessions } from "./engine/local-sessions.js";
import { RunStatusWatcher } from "./engine/run-status-watcher.js";
import { endUnaryAnswersWithData } from "./end-unary-answers-with-data.js";
import { createHttpRoutes } from "./http/http-routes.js";
import { defaultLimits, type Limits } from "./limits.js";
import { type ConnectionLimits, createCleartextServer, createTlsServer, type PortServer } from "./listen-one-port.js";
import { AikiMetrics } from "./metrics/aiki-metrics.js";
import type { Notifier } from "./notify/notifier.js";
import type { Db } from "./store/database.js";
import { countRunsByWorkflowAndStatus, pingStore } from "./store/stats-repository.js";
import { defaultRetention, RetentionLoop, type RetentionOptions } from "./timers/retention-loop.js";
import { TimerLoop } from "./timers/timer-loop.js";
import { tracePoint } from "@aiki/common/trace-point";

export interface AppDeps {
  db: Db;
  notifier: Notifier;
  logger: Logger;
  /** PEM files; unset serves cleartext (h2c and HTTP/1.1). */
  tls?: { certFile: string; keyFile: string } | undefined;
  /** Run the timer loop in this process (default true). */
  timers?: boolean;
  /** Purge finished runs past an age (docs/retention.md); default 30 days, swept every minute; false: never. */
  retention?: RetentionOptions | false;
  /** Prometheus metrics (GET /metrics); default: a fresh registry counting runs in `db`. */
  metrics?: AikiMetrics;
  /** The registry of this server's worker sessions that starts may hand runs to; default: a fresh one. */
  localSessions?: LocalSessions;
  /** AIKI_AUTH: enabled, every call needs an API key (docs/security.md); default off (namespace "default"). */
  auth?: { enabled: boolean } & VerifierOptions;
  /** WatchRuns/WatchRun keep-alive interval; default 15 s. */
  watchKeepAliveMs?: number;
  /** What one request or caller may ask (limits.ts); default: defaultLimits. */
  limits?: Limits;
  /** Timeouts, stream and memory bounds of each connection; default: defaultConnectionLimits. */
  connectionLimits?: ConnectionLimits;
  /** Distinct workflow names the default metrics label separately (the rest are "other"). */
  metricWorkflows?: number;
  /** Run the batch operation loop in this process (default true). */
  batches?: boolean;
  /** Lease, page size and concurrency of the batch loop; default: defaultBatchLoopOptions. */
  batchLoop?: Partial<BatchLoopOptions>;
  /** AIKI_PIPELINE_HOLD_MS: how long a pipelined StartTask waits for the write carrying its result; default 2. */
  pipelineHoldMs?: number;
}

export interface AikiServer {
  listen(port: number, host: string): Promise<{ host: string; port: number; url: string }>;
  /** Graceful: long-polls answer, in-flight calls finish (up to graceMs), timers stop. */
  close(graceMs?: number): Promise<void>;
  /** HTTP/2 sessions (client connections) open now: a test's teardown expects none left. */
  http2Sessions(): number;
}

/** Every service this server exposes, for reflection. */
export const aikiServices: readonly DescService[] = [RunService, EventService, TaskService, WorkerLeaseService, ScheduleService, AdminService, BatchService];

export function createServer(deps: AppDeps): AikiServer {
  const shutdown = new AbortController();
  // Every long-poll, stream and session listens for shutdown: thousands at once is normal.
  setMaxListeners(0, shutdown.signal);
  const metrics = deps.metrics ?? new AikiMetrics({ countRuns: () => countRunsByWorkflowAndStatus(deps.db), maxWorkflowLabels: deps.metricWorkflows });
  const runStatusWatcher = new RunStatusWatcher(deps.db, deps.logger);
  const limits = deps.limits ?? defaultLimits;
  const engine: EngineDeps = {
    db: deps.db,
    notifier: deps.notifier,
    logger: deps.logger,
    shutdownSignal: shutdown.signal,
    metrics,
    runStatusWatcher,
    localSessions: deps.localSessions ?? new LocalSessions(),
    watchKeepAliveMs: deps.watchKeepAliveMs,
    limits,
    pipelineHoldMs: deps.pipelineHoldMs,
  };
  const health = new HealthStatus();
  const verifier = deps.auth?.enabled ? new ApiKeyVerifier(deps.db, deps.notifier, deps.logger, deps.auth) : undefined;
  const timers = deps.timers === false ? undefined : new TimerLoop(deps.db, deps.notifier, deps.logger, metrics);
  const retention = deps.retention === false ? undefined : new RetentionLoop(deps.db, deps.logger, deps.retention ?? defaultRetention, metrics);
  const batches = deps.batches === false ? undefined : new BatchLoop(engine, { ...defaultBatchLoopOptions, ...deps.batchLoop });

  const routes = (router: ConnectRouter) => {
    registerRunService(router, engine);
    registerEventService(router, engine);
    registerTaskService(router, engine);
    registerWorkerLeaseService(router, engine);
    registerScheduleService(router, engine);
    registerAdminService(router, engine, { authEnabled: verifier !== undefined });
    registerBatchService(router, engine);
    registerHealth(router, health);
    registerReflection(router, [...aikiServices, Health]);
  };
  const connectHandler = connectNodeAdapter({
    routes,
    // The first is the outermost: every call is traced, logged and counted, refused ones included,
    // and authentication runs before any handler, so a refused call reaches nothing else.
    interceptors: [rpcTracing(), errorsAndLogs(deps.logger, metrics), ...(verifier ? [authInterceptor(verifier, deps.logger, metrics)] : [])],
    shutdownSignal: shutdown.signal,
    ...requestLimits(limits),
    // Paths that are no RPC: /metrics, /healthz, /readyz.
    fallback: createHttpRoutes({ metrics, pingStore: () => pingStore(deps.db), shutdownSignal: shutdown.signal, logger: deps.logger }),
  });
  const handler = endUnaryAnswersWithData(connectHandler, [...aikiServices, Health]);
  const port: PortServer = deps.tls
    ? createTlsServer(handler, { cert: readFileSync(deps.tls.certFile), key: readFileSync(deps.tls.keyFile) }, deps.connectionLimits)
    : createCleartextServer(handler, deps.connectionLimits);

  return {
    async listen(p, host) {
      await new Promise<void>((resolve, reject) => {
        port.server.once("error", reject);
        port.server.listen(p, host, () => {
          port.server.off("error", reject);
          resolve();
        });
      });
      timers?.start();
      retention?.start();
      batches?.start();
      const address = port.server.address() as AddressInfo;
      const scheme = deps.tls ? "https" : "http";
      const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
      return { host: address.address, port: address.port, url: `${scheme}://${shownHost}:${address.port}` };
    },
    async close(graceMs = 10_000) {
      health.shutdown();
      shutdown.abort();
      runStatusWatcher.stop();
      verifier?.stop();
      await Promise.all([port.close(graceMs), timers?.stop(), retention?.stop()]);
      await Promise.all([port.close(graceMs), timers?.stop(), batches?.stop()]);
    },
    http2Sessions: () => port.http2Sessions(),
  };
}

/** Translates every failure once (api/errors.ts), logs each call at debug level and counts it. */
function errorsAndLogs(logger: Logger, metrics: AikiMetrics): Interceptor {
  return (next) => async (req) => {
    tracePoint("rpc handler", req.method.name);
    const started = performance.now();
    const count = (code: Code | undefined) =>
      metrics.rpcFinished(req.service.typeName, req.method.name, code === undefined ? "OK" : Code[code], (performance.now() - started) / 1000);
    try {
      const res = await next(req);
      if (!res.stream) {
        tracePoint("rpc answered", req.method.name);
        logger.debug({ rpc: req.url, ms: +(performance.now() - started).toFixed(2) }, "rpc ok");
        count(undefined);
        return res;
      }
      const inner = res.message;
      return {
        ...res,
        message: (async function* () {
          let code: Code | undefined;
          try {
            yield* inner;
          } catch (error) {
            const translated = toConnectError(error, logger);
            code = translated.code;
            throw translated;
          } finally {
            count(code);
          }
        })(),
      };
    } catch (error) {
      const translated = toConnectError(error, logger);
      logger.debug({ rpc: req.url, code: translated.code, ms: +(performance.now() - started).toFixed(2) }, "rpc failed");
      count(translated.code);
      throw translated;
    }
  };
}
