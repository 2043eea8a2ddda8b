import http from "node:http";
import http2 from "node:http2";
import net from "node:net";

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

export interface PortServer {
  server: net.Server;
  /** Closes gracefully: no new connections, HTTP/2 sessions sent GOAWAY, then forced after graceMs. */
  close(graceMs: number): Promise<void>;
}

/**
 * Cleartext HTTP/2 (gRPC, Connect) and HTTP/1.1 (Connect JSON, gRPC-Web from browsers) on one
 * port: the HTTP/2 client preface starts with "PRI", so the first bytes pick the server.
 */
export function createCleartextServer(handler: Handler): PortServer {
  const h2 = http2.createServer({}, handler);
  const h1 = http.createServer(handler);
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.once("data", (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      (chunk.subarray(0, 3).toString("latin1") === "PRI" ? h2 : h1).emit("connection", socket);
      process.nextTick(() => socket.resume());
    });
  });
  return {
    server,
    close: (graceMs) => closeGracefully(server, sessions, sockets, graceMs, () => h1.closeIdleConnections()),
  };
}

/** TLS: ALPN chooses HTTP/2 or HTTP/1.1 on the same port. */
export function createTlsServer(handler: Handler, tls: { cert: Buffer; key: Buffer }): PortServer {
  const server = http2.createSecureServer({ cert: tls.cert, key: tls.key, allowHTTP1: true }, handler);
  const sessions = new Set<http2.Http2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  const sockets = new Set<net.Socket>();
  server.on("secureConnection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  return { server, close: (graceMs) => closeGracefully(server, sessions, sockets, graceMs, () => {}) };
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
