import type { Violations } from "./validation.js";

/**
 * Page tokens are opaque to clients: the position plus a fingerprint of the filters, so a token
 * reused with other filters is refused instead of returning a wrong page.
 */
export function encodePageToken(position: string | undefined, filterKey: string): string {
  if (position === undefined) return "";
  return Buffer.from(JSON.stringify({ p: position, f: filterKey })).toString("base64url");
}

const positionShapes = {
  id: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  revision: /^\d{1,15}$/,
  // A purge's cursor: a time as Postgres writes it, then a run id.
  purge: /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d)?\|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
};

/**
 * The position a token holds, or a violation. The token is only base64 JSON, so a forged one is
 * checked like any input: its position must have the shape this server writes (an id, a revision).
 */
export function decodePageToken(v: Violations, field: string, token: string, filterKey: string, shape: keyof typeof positionShapes = "id"): string | undefined {
  if (token === "") return undefined;
  try {
    if (token.length > 4096) throw new Error("too long");
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { p?: unknown; f?: unknown };
    if (typeof parsed.p !== "string" || !positionShapes[shape].test(parsed.p)) throw new Error("no position");
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
