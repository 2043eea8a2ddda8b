import type { ClientHttp2Session, SecureClientSessionOptions } from "node:http2";
import { Http2SessionManager, type Http2SessionOptions } from "@connectrpc/connect-node";

// Why this file exists: @connectrpc/connect-node is pinned at 2.1.2, the last release that declares
// Node 20 (2.2.0 and later ask for Node 22, and Aiki runs on Node 20). 2.1.2 has one bug 2.2.0
// fixes: a request on a connection idle longer than pingIntervalMs first verifies it with a PING,
// and that verification settles only on the PING's answer or on the connection's "error". When
// the connection closes gracefully meanwhile ("close" without "error": the manager's own idle
// timeout, a GOAWAY, a close), the PING is cancelled without a result and the promise never
// settles. The manager memoizes it (its private `verifying`), so that request and every later one
// on the client hang forever. 2.2.0 also settles it, as false, on "close"; this does the same from
// outside. Remove it when Aiki moves to Node 22 and connect-node 2.2 or later (the extra listener
// is harmless there meanwhile: a promise settles once).

/** The manager's "ready" state, as much of it as its private verify(stateReady) uses. */
interface ReadyState {
  conn: ClientHttp2Session;
  verify(): Promise<boolean>;
}

/** The private method every verification goes through (Http2SessionManager.gotoReady calls it). */
interface VerifyInternals {
  verify(stateReady: ReadyState): Promise<void>;
}

/** A connection closed while the PING is out has failed the verification: reconnect. */
function settledOnClose(stateReady: ReadyState): Promise<boolean> {
  const { conn } = stateReady;
  if (conn.closed || conn.destroyed) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    const onClose = () => resolve(false);
    conn.once("close", onClose);
    stateReady.verify().then(
      (alive) => {
        conn.off("close", onClose);
        resolve(alive);
      },
      (reason: unknown) => {
        conn.off("close", onClose);
        reject(reason);
      },
    );
  });
}

/**
 * An Http2SessionManager whose connection verification settles when the connection closes
 * during it, as connect-node 2.2.0's does (see above).
 */
export function createHttp2SessionManager(
  url: string | URL,
  pingOptions?: Http2SessionOptions,
  http2SessionOptions?: SecureClientSessionOptions,
): Http2SessionManager {
  const manager = new Http2SessionManager(url, pingOptions, http2SessionOptions);
  // TS-private, not private at runtime: the narrowest reach that fixes it, one method.
  const internals = manager as unknown as VerifyInternals;
  const verify = internals.verify.bind(manager);
  internals.verify = (stateReady) =>
    // verify() reads only stateReady.verify(); everything else the state has is inherited.
    verify(Object.create(stateReady, { verify: { value: () => settledOnClose(stateReady) } }) as ReadyState);
  return manager;
}
