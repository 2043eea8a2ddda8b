import { randomBytes } from "node:crypto";
import { type ApiKeyScope, apiKeyPrefix, hashApiKey } from "../domain/api-key-format.js";
import { ApiKeyNotFoundError, NamespaceNotFoundError } from "../domain/auth-errors.js";
import { channels, type Notifier } from "../notify/notifier.js";
import { insertApiKey, insertApiKeyUnlessPresent, listApiKeys as listApiKeyRows, revokeApiKeyRow } from "../store/api-key-repository.js";
import type { ApiKeyRow } from "../store/api-keys.table.js";
import type { Db } from "../store/database.js";
import { findNamespace } from "../store/namespace-repository.js";
import { uuidV7 } from "../store/uuid-v7.js";

/** What key management needs: the CLI bootstraps a key with a database and no notifier. */
export interface KeyDeps {
  db: Db;
  notifier?: Notifier | undefined;
}

export interface NewKey {
  namespace: string;
  scopes: ApiKeyScope[];
  description: string;
  ttlMs?: number | undefined;
}

/** A fresh key: 32 random bytes of secret, a prefix to find it by. */
export function generateApiKey(): { key: string; prefix: string } {
  const prefix = `aiki_${randomBytes(4).toString("hex")}`;
  return { key: `${prefix}_${randomBytes(32).toString("base64url")}`, prefix };
}

/** Creates a key; the returned `secret` is the only copy there will ever be. */
export async function createApiKey(deps: KeyDeps, cmd: NewKey): Promise<{ row: ApiKeyRow; secret: string }> {
  if (!(await findNamespace(deps.db, cmd.namespace))) throw new NamespaceNotFoundError(cmd.namespace);
  const expireTime = cmd.ttlMs === undefined ? null : new Date(Date.now() + cmd.ttlMs);
  // Prefixes are 32 random bits: a clash is rare but possible once there are many keys.
  for (let attempt = 0; ; attempt++) {
    const { key, prefix } = generateApiKey();
    const row = await insertApiKey(deps.db, {
      id: uuidV7(),
      prefix,
      secretHash: hashApiKey(key),
      namespace: cmd.namespace,
      scopes: [...new Set(cmd.scopes)],
      description: cmd.description,
      expireTime,
    });
    if (row === "no_namespace") throw new NamespaceNotFoundError(cmd.namespace);
    if (row !== "prefix_taken") return { row, secret: key };
    if (attempt >= 5) throw new Error("could not draw an unused API key prefix");
  }
}

export async function listApiKeys(deps: KeyDeps, filter: { namespace?: string | undefined; includeInactive: boolean }): Promise<ApiKeyRow[]> {
  return listApiKeyRows(deps.db, { namespace: filter.namespace, active: !filter.includeInactive });
}

/** Revokes a key and tells every replica to forget it and close the streams it opened. */
export async function revokeApiKey(deps: KeyDeps, id: string): Promise<ApiKeyRow> {
  const row = await revokeApiKeyRow(deps.db, id);
  if (!row) throw new ApiKeyNotFoundError(id);
  deps.notifier?.publish(channels.apiKeyRevoked, row.id);
  return row;
}

export class AdminKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AdminKeyError";
  }
}

/**
 * AIKI_ADMIN_KEY: an operator-chosen key (in the format `aiki keys create` prints), stored hashed
 * as an admin key of namespace "default" unless it is there already. A revoked one stays revoked.
 */
export async function ensureAdminKey(db: Db, key: string): Promise<ApiKeyRow> {
  const prefix = apiKeyPrefix(key);
  if (!prefix) throw new AdminKeyError("AIKI_ADMIN_KEY: must look like aiki_<8 hex>_<43 base64url characters> (as `aiki keys create` prints)");
  const row = await insertApiKeyUnlessPresent(db, {
    id: uuidV7(),
    prefix,
    secretHash: hashApiKey(key),
    namespace: "default",
    scopes: ["admin"],
    description: "AIKI_ADMIN_KEY",
    expireTime: null,
  });
  if (row.secret_hash !== hashApiKey(key)) throw new AdminKeyError("AIKI_ADMIN_KEY: its prefix belongs to another key; choose another key");
  return row;
}
