import { createHash, timingSafeEqual } from "node:crypto";

export type ApiKeyScope = "admin" | "client" | "worker" | "read";
export const apiKeyScopes: readonly ApiKeyScope[] = ["admin", "client", "worker", "read"];

/**
 * `aiki_<8 hex>_<43 base64url>`: the prefix (`aiki_<8 hex>`) is not secret and finds the key's
 * row; the whole string is the secret, of which the store keeps only the SHA-256.
 */
const keyPattern = /^(aiki_[0-9a-f]{8})_[A-Za-z0-9_-]{43}$/;

/** The key's prefix, or undefined when the string is no Aiki key. */
export function apiKeyPrefix(key: string): string | undefined {
  return keyPattern.exec(key)?.[1];
}

/** The hash kept for a key. SHA-256 suffices: keys carry 256 random bits, nothing to brute-force. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** Whether `key` hashes to `storedHash`, in time independent of where they differ. */
export function apiKeyMatches(key: string, storedHash: string): boolean {
  const a = Buffer.from(hashApiKey(key), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** What a namespace may be called: lower case only, so two names never differ by case alone. */
export const namespacePattern = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Whether a key holding `held` may make a call that needs `needed` (admin may do everything). */
export function scopeAllows(held: readonly ApiKeyScope[], needed: ApiKeyScope | "any"): boolean {
  return needed === "any" || held.includes("admin") || held.includes(needed);
}
