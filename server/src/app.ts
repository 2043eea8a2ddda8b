import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { ScheduleService } from "@aiki/gen/aiki/v1/schedule_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { Health } from "@aiki/gen/grpc/health/v1/health_pb";
import type { Logger } from "pino";
import { toConnectError } from "./api/errors.js";
import { HealthStatus, registerHealth } from "./api/health-service.js";
import { registerReflection } from "./api/reflection-service.js";
import { registerEventService } from "./api/event-service-handler.js";
import { registerRunService } from "./api/run-service-handler.js";
import { registerTaskService } from "./api/task-service-handler.js";
import { registerWorkerLeaseService } from "./api/worker-lease-service-handler.js";
import type { EngineDeps } from "./engine/engine-deps.js";
import { createCleartextServer, createTlsServer, type PortServer } from "./listen-one-port.js";
import type { Notifier } from "./notify/notifier.js";
import type { Db } from "./store/database.js";
import { TimerLoop } from "./timers/timer-loop.js";

export interface AppDeps {
  db: Db;
  notifier: Notifier;
  logger: Logger;
  /** PEM files; unset serves cleartext (h2c and HTTP/1.1). */
  tls?: { certFile: string; keyFile: string } | undefined;
  /** Run the timer loop in this process (default true). */
  timers?: boolean;
}

export interface AikiServer {
  listen(port: number, host: string): Promise<{ host: string; port: number; url: string }>;
  /** Graceful: long-polls answer, in-flight calls finish (up to graceMs), timers stop. */
  close(graceMs?: number): Promise<void>;
}

/** Every service this server exposes, for reflection. */
export const aikiServices: readonly DescService[] = [RunService, EventService, TaskService, WorkerLeaseService, ScheduleService];

export function createServer(deps: AppDeps): AikiServer {
  const shutdown = new AbortController();
  const engine: EngineDeps = { db: deps.db, notifier: deps.notifier, logger: deps.logger, shutdownSignal: shutdown.signal };
  const health = new HealthStatus();
  const timers = deps.timers === false ? undefined : new TimerLoop(deps.db, deps.notifier, deps.logger);

  const routes = (router: ConnectRouter) => {
    registerRunService(router, engine);
    registerEventService(router, engine);
    registerTaskService(router, engine);
    registerWorkerLeaseService(router, engine);
    // Designed in the contracts, served by later work: calls answer UNIMPLEMENTED by name.
    router.service(ScheduleService, {});
    registerHealth(router, health);
    registerReflection(router, [...aikiServices, Health]);
  };
  const handler = connectNodeAdapter({
    routes,
    interceptors: [errorsAndLogs(deps.logger)],
    shutdownSignal: shutdown.signal,
  });
  const port: PortServer = deps.tls
    ? createTlsServer(handler, { cert: readFileSync(deps.tls.certFile), key: readFileSync(deps.tls.keyFile) })
    : createCleartextServer(handler);

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
      const address = port.server.address() as AddressInfo;
      const scheme = deps.tls ? "https" : "http";
      const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
      return { host: address.address, port: address.port, url: `${scheme}://${shownHost}:${address.port}` };
    },
    async close(graceMs = 10_000) {
      health.shutdown();
      shutdown.abort();
      await Promise.all([port.close(graceMs), timers?.stop()]);
    },
  };
}

/** Translates every failure once (api/errors.ts) and logs each call at debug level. */
function errorsAndLogs(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const started = performance.now();
    try {
      const res = await next(req);
      if (!res.stream) {
        logger.debug({ rpc: req.url, ms: +(performance.now() - started).toFixed(2) }, "rpc ok");
        return res;
      }
      const inner = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* inner;
          } catch (error) {
            throw toConnectError(error, logger);
          }
        })(),
      };
    } catch (error) {
      const translated = toConnectError(error, logger);
      logger.debug({ rpc: req.url, code: translated.code, ms: +(performance.now() - started).toFixed(2) }, "rpc failed");
      throw translated;
    }
  };
}
