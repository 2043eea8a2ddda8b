import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import type { Logger } from "pino";
import { scopeAllows } from "../domain/api-key-format.js";
import { PermissionDeniedError, UnauthenticatedError } from "../domain/auth-errors.js";
import type { ApiKeyVerifier } from "../engine/api-key-verifier.js";
import type { AikiMetrics } from "../metrics/aiki-metrics.js";
import { callerKey } from "./call-caller.js";
import { callIdentityKey, callNamespaceKey } from "./call-namespace.js";
import { toConnectError } from "./errors.js";
import { accessFor } from "./method-scopes.js";

const maxTimerMs = 2 ** 31 - 1;

/**
 * AIKI_AUTH=on: every call (a stream: when it opens) carries `authorization: Bearer <key>`; the
 * key decides the call's namespace and whether its method is allowed (api/method-scopes.ts).
 * A stream opened with a key ends with UNAUTHENTICATED once the key is revoked or expires.
 */
export function authInterceptor(verifier: ApiKeyVerifier, logger: Logger, metrics?: AikiMetrics): Interceptor {
  return (next) => async (req) => {
    const access = accessFor(req.service.typeName, req.method.name);
    if (access === "open") return next(req);
    const method = `${req.service.typeName}/${req.method.name}`;
    let identity: Awaited<ReturnType<typeof verifier.verify>>;
    try {
      identity = await verifier.verify(req.header.get("authorization"));
      if (access === undefined || !scopeAllows(identity.scopes, access)) throw new PermissionDeniedError(access === "any" ? undefined : access, method);
    } catch (error) {
      if (error instanceof UnauthenticatedError) metrics?.authFailed(error.reason);
      else if (error instanceof PermissionDeniedError) metrics?.authFailed("permission_denied");
      throw toConnectError(error, logger);
    }
    req.contextValues.set(callNamespaceKey, identity.namespace);
    req.contextValues.set(callIdentityKey, identity);
    // Per-caller quotas (held waits, open streams) count per key, not per address.
    if (identity.keyId) req.contextValues.set(callerKey, `key:${identity.keyId}`);
    if (!req.stream) return next(req);

    // The handler sees this signal as its context's: revocation stops its work (leasing) too.
    const revoked = new AbortController();
    const onAbort = () => revoked.abort();
    req.signal.addEventListener("abort", onAbort, { once: true });
    const unwatch = verifier.onRevoked(identity.keyId!, () => revoked.abort(new ConnectError("the API key was revoked", Code.Unauthenticated)));
    // A key that expires while its stream is open ends the stream then (timers reach ~24 days).
    const expiresInMs = identity.expireTime ? identity.expireTime.getTime() - Date.now() : Number.POSITIVE_INFINITY;
    const expiry =
      expiresInMs < maxTimerMs ? setTimeout(() => revoked.abort(new ConnectError("the API key has expired", Code.Unauthenticated)), expiresInMs) : undefined;
    expiry?.unref();
    const done = () => {
      clearTimeout(expiry);
      unwatch();
      req.signal.removeEventListener("abort", onAbort);
    };
    let res: StreamResponse;
    try {
      res = (await next({ ...req, signal: revoked.signal })) as StreamResponse;
    } catch (error) {
      done();
      throw error;
    }
    return { ...res, message: endOnRevocation(res.message, revoked.signal, done) };
  };
}

/** The response messages, ended with the revocation's error as soon as the key is revoked. */
async function* endOnRevocation<T>(messages: AsyncIterable<T>, signal: AbortSignal, done: () => void): AsyncGenerator<T> {
  const it = messages[Symbol.asyncIterator]();
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      if (signal.reason instanceof ConnectError) reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    for (;;) {
      const next = await Promise.race([it.next(), aborted]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    done();
    // Ends the handler's generator once its pending step settles (it saw the abort already).
    void it.return?.()?.catch(() => {});
  }
}
