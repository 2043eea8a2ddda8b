import type { ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import type { AikiMetrics } from "../metrics/aiki-metrics.js";
import { dashboardAsset, dashboardPrefix, defaultDashboardDir } from "./dashboard-assets.js";

/** The adapter's handler for paths that are no RPC (Node's http or http2 request and response). */
type FallbackHandler = NonNullable<ConnectNodeAdapterOptions["fallback"]>;
type NodeServerResponse = Parameters<FallbackHandler>[1];

export interface HttpRoutesDeps {
  metrics: AikiMetrics;
  /** Resolves when the store answers; rejects when it cannot be reached. */
  pingStore: () => Promise<void>;
  /** Aborted when the server starts shutting down: readiness fails so balancers drain it. */
  shutdownSignal: AbortSignal;
  logger: Logger;
  /** How long /readyz waits for the store (default 1 s). */
  readyTimeoutMs?: number;
  /** The built dashboard served at /ui/ (default: dashboard/dist of this checkout). */
  dashboardDir?: string;
}

/**
 * Plain HTTP beside the RPCs, on the same port (the Connect adapter's fallback for paths that are
 * no RPC): `GET /metrics` (Prometheus text), `GET /healthz` (liveness: the process serves
 * requests), `GET /readyz` (readiness: 503 while the store is unreachable or the server is
 * shutting down), the web dashboard at `/ui/` (`/` redirects there). Anything else is 404.
 */
export function createHttpRoutes(deps: HttpRoutesDeps): FallbackHandler {
  const readyTimeoutMs = deps.readyTimeoutMs ?? 1_000;
  const routes: Record<string, () => Promise<{ status: number; type: string; body: string }>> = {
    "/metrics": async () => {
      const { contentType, body } = await deps.metrics.scrape();
      return { status: 200, type: contentType, body };
    },
    "/healthz": async () => text(200, "ok\n"),
    "/readyz": async () => {
      if (deps.shutdownSignal.aborted) return text(503, "not ready: shutting down\n");
      try {
        await withTimeout(deps.pingStore(), readyTimeoutMs);
        return text(200, "ready\n");
      } catch (error) {
        deps.logger.warn({ err: (error as Error).message }, "readiness: store unreachable");
        return text(503, `not ready: store unreachable (${(error as Error).message})\n`);
      }
    },
  };

  const dashboardDir = deps.dashboardDir ?? defaultDashboardDir;

  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const isDashboard = path.startsWith(dashboardPrefix);
    const isRedirect = path === "/" || path === "/ui";
    const route = routes[path];
    if (!route && !isDashboard && !isRedirect) return void send(res, 404, "text/plain; charset=utf-8", "not found\n", req.method === "HEAD");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return void send(res, 405, "text/plain; charset=utf-8", "method not allowed\n", false);
    }
    if (isRedirect) {
      if (res.headersSent) return;
      res.writeHead(302, { location: dashboardPrefix, "cache-control": "no-store", "content-length": 0 });
      return void res.end();
    }
    if (isDashboard) {
      const acceptEncoding = req.headers["accept-encoding"];
      return void dashboardAsset(dashboardDir, path, Array.isArray(acceptEncoding) ? acceptEncoding.join(",") : (acceptEncoding ?? "")).then(
        (a) => {
          if (res.headersSent) return;
          res.writeHead(a.status, { ...a.headers, "content-length": Buffer.byteLength(a.body) });
          if (req.method !== "HEAD") res.write(a.body);
          res.end();
        },
        (error: unknown) => {
          deps.logger.error({ err: error, path }, "dashboard asset failed");
          send(res, 500, "text/plain; charset=utf-8", "internal error\n", false);
        },
      );
    }
    route!().then(
      (r) => send(res, r.status, r.type, r.body, req.method === "HEAD"),
      (error: unknown) => {
        deps.logger.error({ err: error, path }, "http route failed");
        send(res, 500, "text/plain; charset=utf-8", "internal error\n", false);
      },
    );
  };
}

function text(status: number, body: string) {
  return { status, type: "text/plain; charset=utf-8", body };
}

function send(res: NodeServerResponse, status: number, type: string, body: string, headOnly: boolean): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", "content-length": Buffer.byteLength(body) });
  if (!headOnly) res.write(body);
  res.end();
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
