import { type Kysely, sql } from "kysely";
import type { ApiKeyScope } from "../domain/api-key-format.js";
import type { ApiKeyRow } from "./api-keys.table.js";
import type { Database } from "./database.js";
import { isForeignKeyViolation, isUniqueViolation } from "./pg-errors.js";

type Reader = Kysely<Database>;

export interface NewApiKey {
  id: string;
  prefix: string;
  secretHash: string;
  namespace: string;
  scopes: ApiKeyScope[];
  description: string;
  expireTime: Date | null;
}

/** The row a new key is stored as. */
function apiKeyValues(key: NewApiKey) {
  return {
    id: key.id,
    prefix: key.prefix,
    secret_hash: key.secretHash,
    namespace: key.namespace,
    scopes: sql<ApiKeyScope[]>`${key.scopes}::text[]`,
    description: key.description,
    expire_time: key.expireTime,
  };
}

/**
 * Inserts a key; "prefix_taken" when its prefix is taken (the caller draws another key),
 * "no_namespace" when its namespace is gone (deleted since the caller looked).
 */
export async function insertApiKey(db: Reader, key: NewApiKey): Promise<ApiKeyRow | "prefix_taken" | "no_namespace"> {
  try {
    return await db.insertInto("api_keys").values(apiKeyValues(key)).returningAll().executeTakeFirstOrThrow();
  } catch (error) {
    if (isUniqueViolation(error, "api_keys_prefix_key")) return "prefix_taken";
    if (isForeignKeyViolation(error)) return "no_namespace";
    throw error;
  }
}

/** Inserts a key unless its prefix exists; returns the row holding the prefix either way. */
export async function insertApiKeyUnlessPresent(db: Reader, key: NewApiKey): Promise<ApiKeyRow> {
  await db
    .insertInto("api_keys")
    .values(apiKeyValues(key))
    .onConflict((oc) => oc.column("prefix").doNothing())
    .execute();
  return db.selectFrom("api_keys").selectAll().where("prefix", "=", key.prefix).executeTakeFirstOrThrow();
}

export async function findApiKeyByPrefix(db: Reader, prefix: string): Promise<ApiKeyRow | undefined> {
  return db.selectFrom("api_keys").selectAll().where("prefix", "=", prefix).executeTakeFirst();
}

/** Keys, newest first; `active` only: neither revoked nor expired. */
export async function listApiKeys(db: Reader, filter: { namespace?: string | undefined; active: boolean }): Promise<ApiKeyRow[]> {
  let q = db.selectFrom("api_keys").selectAll();
  if (filter.namespace !== undefined) q = q.where("namespace", "=", filter.namespace);
  if (filter.active) {
    q = q.where("revoke_time", "is", null).where((eb) => eb.or([eb("expire_time", "is", null), eb("expire_time", ">", sql<Date>`now()`)]));
  }
  return q.orderBy("create_time", "desc").orderBy("id", "desc").execute();
}

/**
 * Revokes a key. Returns the key as it is now (already revoked: unchanged, its first revocation
 * time kept), or undefined when no key has this id.
 */
export async function revokeApiKeyRow(db: Reader, id: string): Promise<ApiKeyRow | undefined> {
  const revoked = await db
    .updateTable("api_keys")
    .set({ revoke_time: sql<Date>`now()` })
    .where("id", "=", id)
    .where("revoke_time", "is", null)
    .returningAll()
    .executeTakeFirst();
  return revoked ?? db.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirst();
}

/** Records a use; skipped (false) when one was recorded within the last minute. */
export async function touchApiKey(db: Reader, id: string): Promise<boolean> {
  const result = await db
    .updateTable("api_keys")
    .set({ last_used_time: sql<Date>`now()` })
    .where("id", "=", id)
    .where((eb) => eb.or([eb("last_used_time", "is", null), eb("last_used_time", "<", sql<Date>`now() - interval '1 minute'`)]))
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
