import type { Logger } from "pino";
import { type ApiKeyScope, apiKeyMatches, apiKeyPrefix } from "../domain/api-key-format.js";
import { UnauthenticatedError } from "../domain/auth-errors.js";
import { channels, type Notifier } from "../notify/notifier.js";
import { findApiKeyByPrefix, touchApiKey } from "../store/api-key-repository.js";
import type { ApiKeyRow } from "../store/api-keys.table.js";
import type { Db } from "../store/database.js";

/** Who a call is: the namespace it acts in and what it may do. */
export interface CallIdentity {
  namespace: string;
  scopes: readonly ApiKeyScope[];
  /** Undefined when authentication is off. */
  keyId: string | undefined;
  /** When the key stops working; undefined: never. */
  expireTime?: Date | undefined;
}

export interface VerifierOptions {
  /** How long a looked-up key is trusted without reading it again; bounds a missed revocation hint. */
  cacheTtlMs?: number;
  /** last_used_time is written at most this often per key and replica. */
  touchEveryMs?: number;
}

const maxCachedKeys = 10_000;

/**
 * Turns `authorization` headers into identities. Keys are read by prefix and kept a few seconds;
 * a revocation hint (any replica) drops the key at once and closes the streams it opened here.
 */
export class ApiKeyVerifier {
  private readonly cache = new Map<string, { row: Promise<ApiKeyRow | undefined>; until: number }>();
  private readonly prefixes = new Map<string, string>();
  private readonly touched = new Map<string, number>();
  private readonly streams = new Map<string, Set<() => void>>();
  private readonly unsubscribe: () => void;
  private readonly cacheTtlMs: number;
  private readonly touchEveryMs: number;

  constructor(
    private readonly db: Db,
    notifier: Notifier,
    private readonly logger: Logger,
    options: VerifierOptions = {},
  ) {
    this.cacheTtlMs = options.cacheTtlMs ?? 5_000;
    this.touchEveryMs = options.touchEveryMs ?? 60_000;
    this.unsubscribe = notifier.subscribe(channels.apiKeyRevoked, (keyId) => this.revoked(keyId));
  }

  /** The identity of a call's `authorization` header value; throws UnauthenticatedError. */
  async verify(authorization: string | null): Promise<CallIdentity> {
    if (authorization === null || authorization === "") throw new UnauthenticatedError("missing");
    const match = /^bearer +(\S+)$/i.exec(authorization.trim());
    const key = match?.[1];
    const prefix = key === undefined ? undefined : apiKeyPrefix(key);
    if (key === undefined || prefix === undefined) throw new UnauthenticatedError("malformed");
    const row = await this.lookUp(prefix);
    if (!row || !apiKeyMatches(key, row.secret_hash)) throw new UnauthenticatedError("unknown");
    if (row.revoke_time) throw new UnauthenticatedError("revoked");
    if (row.expire_time && row.expire_time.getTime() <= Date.now()) throw new UnauthenticatedError("expired");
    this.touch(row.id);
    return { namespace: row.namespace, scopes: row.scopes, keyId: row.id, expireTime: row.expire_time ?? undefined };
  }

  /** Calls `close` when the key is revoked (on any replica); the returned function stops that. */
  onRevoked(keyId: string, close: () => void): () => void {
    let set = this.streams.get(keyId);
    if (!set) {
      set = new Set();
      this.streams.set(keyId, set);
    }
    set.add(close);
    return () => {
      set.delete(close);
      if (set.size === 0 && this.streams.get(keyId) === set) this.streams.delete(keyId);
    };
  }

  stop(): void {
    this.unsubscribe();
  }

  private lookUp(prefix: string): Promise<ApiKeyRow | undefined> {
    const now = Date.now();
    const cached = this.cache.get(prefix);
    if (cached && cached.until > now) return cached.row;
    if (this.cache.size >= maxCachedKeys) {
      this.cache.clear();
      this.prefixes.clear();
    }
    const row = findApiKeyByPrefix(this.db, prefix);
    const entry = { row, until: now + this.cacheTtlMs };
    this.cache.set(prefix, entry);
    row.then(
      (found) => {
        if (found) this.prefixes.set(found.id, prefix);
      },
      // A failed read (store down) is not remembered: the next call tries again.
      () => {
        if (this.cache.get(prefix) === entry) this.cache.delete(prefix);
      },
    );
    return row;
  }

  private touch(keyId: string): void {
    const now = Date.now();
    if (now - (this.touched.get(keyId) ?? 0) < this.touchEveryMs) return;
    if (this.touched.size >= maxCachedKeys) this.touched.clear();
    this.touched.set(keyId, now);
    touchApiKey(this.db, keyId).catch((error: unknown) => this.logger.warn({ err: error }, "could not record an API key's use"));
  }

  private revoked(keyId: string): void {
    const prefix = this.prefixes.get(keyId);
    if (prefix !== undefined) this.cache.delete(prefix);
    for (const close of [...(this.streams.get(keyId) ?? [])]) close();
  }
}
