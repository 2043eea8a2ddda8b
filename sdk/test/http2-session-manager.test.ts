// The SDK's session manager against a real HTTP/2 server: a connection that closes gracefully
// while the manager verifies it with a PING must not hang the request (connect-node 2.1.2 does;
// see sdk/src/http2-session-manager.ts).
import http2 from "node:http2";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import { createHttp2SessionManager } from "../src/http2-session-manager.js";

let server: http2.Http2Server;
let url: string;

beforeAll(async () => {
  server = http2.createServer((_req, res) => res.end("ok"));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const pingIntervalMs = 5;

/** One GET to its end; its response bytes keep the connection's idle clock honest. */
async function get(manager: Http2SessionManager): Promise<void> {
  const stream = await manager.request("GET", "/", {}, {});
  stream.end();
  stream.resume();
  await once(stream, "close");
}

/** The connection the manager holds right now (private in connect-node). */
function connectionOf(manager: Http2SessionManager): http2.ClientHttp2Session {
  return (manager as unknown as { s: { conn: http2.ClientHttp2Session } }).s.conn;
}

/** Opens the connection, then leaves it idle past pingIntervalMs so the next request verifies it. */
async function idleConnection(): Promise<{ manager: Http2SessionManager; conn: http2.ClientHttp2Session }> {
  const manager = createHttp2SessionManager(url, { pingIntervalMs, pingTimeoutMs: 10_000 });
  await get(manager);
  const conn = connectionOf(manager);
  // No event marks "idle for longer than pingIntervalMs": only time passing does.
  await sleep(pingIntervalMs * 3);
  return { manager, conn };
}

it("a connection closed gracefully during the PING verification reconnects instead of hanging every later request", { timeout: 5_000 }, async () => {
  const { manager, conn } = await idleConnection();
  try {
    const request = get(manager);
    // request() sends the PING synchronously, before its first await.
    expect(manager.state()).toBe("verifying");
    // What the manager's idle timeout or a close does: "close" without "error"; the PING is cancelled.
    conn.close();
    await request;
    // (Identity compared as a boolean: vitest cannot print an Http2Session.)
    expect(connectionOf(manager) === conn).toBe(false);
    expect(conn.destroyed).toBe(true);
    // The verification is memoized while it runs: a later request would inherit a hung one.
    await get(manager);
  } finally {
    manager.abort();
  }
});

it("a connection that answers the PING is kept", { timeout: 5_000 }, async () => {
  const { manager, conn } = await idleConnection();
  try {
    const request = get(manager);
    expect(manager.state()).toBe("verifying");
    await request;
    expect(connectionOf(manager) === conn).toBe(true);
  } finally {
    manager.abort();
  }
});
