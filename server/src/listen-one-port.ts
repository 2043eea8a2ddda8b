import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { tracePoint, tracing } from "@aiki/common/trace-point";

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

/** What one connection may cost: bounded streams and memory, and no silent connection kept forever. */
export interface ConnectionLimits {
  /** HTTP/1.1: a request's headers must arrive within this (and a connection's first bytes too). */
  headersTimeoutMs: number;
  /** HTTP/1.1: a whole request (not its response: long-polls answer later) must arrive within this. */
  requestTimeoutMs: number;
  /** HTTP/2: streams (calls) open at once on one connection. */
  maxConcurrentStreams: number;
  /** HTTP/2: megabytes one session may buffer before new streams are refused (Node's maxSessionMemory). */
  maxSessionMemoryMb: number;
  /** A connection with no call open for this long is closed (GOAWAY); an open call keeps it, however quiet. */
  idleTimeoutMs: number;
}

export const defaultConnectionLimits: ConnectionLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  maxConcurrentStreams: 1000,
  maxSessionMemoryMb: 32,
  idleTimeoutMs: 300_000,
};

export interface PortServer {
  server: net.Server;
  /** Closes gracefully: no new connections, HTTP/2 sessions sent GOAWAY, then forced after graceMs. */
  close(graceMs: number): Promise<void>;
  /** HTTP/2 sessions (client connections) open now: a test's teardown expects none left. */
  http2Sessions(): number;
}

/**
 * Cleartext HTTP/2 (gRPC, Connect) and HTTP/1.1 (Connect JSON, gRPC-Web from browsers) on one
 * port: the HTTP/2 client preface starts with "PRI", so the first bytes pick the server.
 */
export function createCleartextServer(handler: Handler, limits: ConnectionLimits = defaultConnectionLimits): PortServer {
  const h2 = http2.createServer(h2Options(limits), handler);
  const h1 = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: 5_000,
      // How often Node looks for connections past those timeouts (30 s by default: too coarse for 10 s).
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, limits.headersTimeoutMs / 4)),
    },
    handler,
  );
  // Node starts checking headersTimeout/requestTimeout when an HTTP server starts listening; this
  // one never listens (it is handed connections), so it is told it did.
  h1.emit("listening");
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
    closeWhenIdle(s, limits.idleTimeoutMs);
  });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    // A connection that says nothing is not kept: its first bytes must come as a request's headers would.
    socket.setTimeout(limits.headersTimeoutMs, () => socket.destroy());
    socket.once("data", (chunk: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(chunk);
      (chunk.subarray(0, 3).toString("latin1") === "PRI" ? h2 : h1).emit("connection", socket);
      process.nextTick(() => socket.resume());
    });
  });
  return {
    server,
    close: (graceMs) =>
      closeGracefully(server, sessions, sockets, graceMs, () => {
        h1.closeIdleConnections();
        // Stops its timeout checks; it listens on nothing, so the "not running" answer is expected.
        h1.close(() => {});
      }),
    http2Sessions: () => sessions.size,
  };
}

/** TLS: ALPN chooses HTTP/2 or HTTP/1.1 on the same port. */
export function createTlsServer(handler: Handler, tls: { cert: Buffer; key: Buffer }, limits: ConnectionLimits = defaultConnectionLimits): PortServer {
  const server = http2.createSecureServer(
    { cert: tls.cert, key: tls.key, allowHTTP1: true, handshakeTimeout: limits.headersTimeoutMs, ...h2Options(limits) },
    handler,
  );
  const sessions = new Set<http2.Http2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
    closeWhenIdle(s, limits.idleTimeoutMs);
  });
  const sockets = new Set<net.Socket>();
  server.on("secureConnection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  return { server, close: (graceMs) => closeGracefully(server, sessions, sockets, graceMs, () => {}), http2Sessions: () => sessions.size };
}

function h2Options(limits: ConnectionLimits): http2.ServerOptions {
  return { settings: { maxConcurrentStreams: limits.maxConcurrentStreams }, maxSessionMemory: limits.maxSessionMemoryMb };
}

/**
 * Closes a session once no stream has been open on it for `idleMs`. Not Node's session timeout,
 * which counts quiet time: a worker's stream may be quiet for hours and must stay.
 */
function closeWhenIdle(session: http2.Http2Session, idleMs: number): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    timer = setTimeout(() => session.close(), idleMs);
    timer.unref();
  };
  session.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    if (tracing()) tracePoint("h2 request", shortPath(headers[":path"]));
    open++;
    clearTimeout(timer);
    stream.once("close", () => {
      if (--open === 0 && !session.closed) arm();
    });
  });
  session.once("close", () => clearTimeout(timer));
  arm();
}

/** "/aiki.v1.RunService/StartRun" → "StartRun". */
function shortPath(path: string | undefined): string {
  return path?.slice(path.lastIndexOf("/") + 1) ?? "";
}

async function closeGracefully(
  server: net.Server,
  sessions: Set<http2.Http2Session>,
  sockets: Set<net.Socket>,
  graceMs: number,
  closeIdle: () => void,
): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const s of sessions) s.close();
  closeIdle();
  const timer = setTimeout(() => {
    for (const s of sessions) s.destroy();
    for (const socket of sockets) socket.destroy();
  }, graceMs);
  await closed;
  clearTimeout(timer);
}
