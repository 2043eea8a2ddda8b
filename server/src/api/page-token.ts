import type { Violations } from "./validation.js";

/**
 * Page tokens are opaque to clients: the position plus a fingerprint of the filters, so a token
 * reused with other filters is refused instead of returning a wrong page.
 */
export function encodePageToken(position: string | undefined, filterKey: string): string {
  if (position === undefined) return "";
  return Buffer.from(JSON.stringify({ p: position, f: filterKey })).toString("base64url");
}

export function decodePageToken(v: Violations, field: string, token: string, filterKey: string): string | undefined {
  if (token === "") return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { p?: unknown; f?: unknown };
    if (typeof parsed.p !== "string") throw new Error("no position");
    if (parsed.f !== filterKey) {
      v.add(field, "was issued for different filters");
      return undefined;
    }
    return parsed.p;
  } catch {
    v.add(field, "is not a token this server issued");
    return undefined;
  }
}
