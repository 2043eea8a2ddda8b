import { toJson } from "@bufbuild/protobuf";
import type { Duration, Timestamp, Value } from "@bufbuild/protobuf/wkt";
import { pbValueToJson } from "@aiki/common/pb-json-value";
import type { Failure } from "@aiki/gen/aiki/v1/payload_pb";
import { FailureSchema } from "@aiki/gen/aiki/v1/payload_pb";
import { type AddressMismatch, type FieldViolation, InvalidArgumentError, type LimitBreach } from "../domain/errors.js";
import type { JsonValue } from "../store/json.js";
import { defaultLimits, type Limits, limitVariables } from "../limits.js";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const tagKeyPattern = /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/;
// biome-ignore lint: control characters are exactly what we reject
const controlCharacters = /[\u0000-\u001f\u007f]/;
// Postgres text and jsonb cannot hold U+0000, nor jsonb a lone surrogate: refused before anything is stored.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding U+0000 is the point
const unstorable = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
// Timestamps Postgres stores and every client's clock type reads back.
const earliestTimeMs = Date.UTC(1970, 0, 1);
const latestTimeMs = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * The canonical form of an id (run, schedule, task, lease token): lower case. Every RPC reads ids
 * through this, so an id means the same run whichever way a client spelled its hex digits.
 */
export function canonicalId(value: string): string {
  return value.toLowerCase();
}

/** Collects every problem of a request, so one answer names all the wrong fields. */
export class Violations {
  private readonly list: FieldViolation[] = [];
  private readonly limitsPassed: LimitBreach[] = [];
  private readonly mismatches: AddressMismatch[] = [];

  constructor(readonly limits: Limits = defaultLimits) {}

  add(field: string, description: string): void {
    this.list.push({ field, description });
  }

  /** `actual` passed the configured limit `name`: a violation of `field` naming the limit. */
  overLimit(field: string, name: keyof Limits, actual: number, unit: string): void {
    const max = this.limits[name];
    this.add(field, `must be at most ${max} ${unit} (${limitVariables[name]}), got ${actual}`);
    this.limitsPassed.push({ limit: limitVariables[name], max, actual, subject: field });
  }

  /** True while no problem was found: fields derived from others are checked only then. */
  get clean(): boolean {
    return this.list.length === 0;
  }

  /**
   * A replay key the worker computed (`got`) against the one the contract gives for the
   * request's other fields (`expected`): a violation naming both, and an AddressMismatchDetail.
   */
  derivedKey(field: string, expected: string, got: string, definition: string): void {
    if (expected === got) return;
    this.add(field, `must be ${definition} (Addresses, in proto/aiki/v1/history.proto): expected "${expected}", got "${printable(got)}"`);
    this.mismatches.push({ field, expected, got });
  }

  /** A name-like field: required or optional, at most AIKI_MAX_NAME_LENGTH characters, no control characters. */
  identifier(field: string, value: string, required: boolean): void {
    if (value === "") {
      if (required) this.add(field, "is required");
      return;
    }
    if (value.length > this.limits.maxNameLength) this.overLimit(field, "maxNameLength", value.length, "characters");
    else if (controlCharacters.test(value)) this.add(field, "must not contain control characters");
    else if (unstorable.test(value)) this.add(field, "must not contain lone UTF-16 surrogates");
  }

  /** Free text (a reason, a failure message): line breaks allowed, NUL and lone surrogates not. */
  text(field: string, value: string): void {
    if (value.length > this.limits.maxTextLength) this.overLimit(field, "maxTextLength", value.length, "characters");
    else if (value.includes("\u0000")) this.add(field, "must not contain NUL (U+0000) characters");
    else if (unstorable.test(value)) this.add(field, "must not contain lone UTF-16 surrogates");
  }

  /** Validates an id and returns its canonical form (what every handler must use from then on). */
  uuid(field: string, value: string, required = true): string {
    if (value === "") {
      if (required) this.add(field, "is required");
      return value;
    }
    const id = canonicalId(value);
    if (!uuidPattern.test(id)) this.add(field, `must be a UUID, got "${printable(value.slice(0, 64))}"`);
    return id;
  }

  pageSize(field: string, value: number): number {
    if (value < 0) this.add(field, "must not be negative");
    else if (value > this.limits.maxPageSize) this.overLimit(field, "maxPageSize", value, "items");
    return value === 0 ? Math.min(100, this.limits.maxPageSize) : value;
  }

  /**
   * Run tags: at most AIKI_MAX_RUN_TAGS pairs; a key starts with a letter or digit and holds
   * letters, digits and `_.:/-` (so `k=v` on a command line and in URLs needs no quoting), a
   * value is any text without control characters. Undefined when there are none.
   */
  tags(field: string, tags: { [key: string]: string }): Record<string, string> | undefined {
    const entries = Object.entries(tags);
    if (entries.length === 0) return undefined;
    if (entries.length > this.limits.maxRunTags) {
      this.overLimit(field, "maxRunTags", entries.length, "tags");
      return undefined;
    }
    for (const [key, value] of entries) {
      const at = `${field}[${JSON.stringify(printable(key.slice(0, 64)))}]`;
      if (key.length > this.limits.maxTagKeyLength) this.overLimit(`${at}.key`, "maxTagKeyLength", key.length, "characters");
      else if (!tagKeyPattern.test(key)) this.add(`${at}.key`, "must start with a letter or digit and hold only letters, digits and _ . : / -");
      if (value.length > this.limits.maxTagValueLength) this.overLimit(`${at}.value`, "maxTagValueLength", value.length, "characters");
      else if (controlCharacters.test(value)) this.add(`${at}.value`, "must not contain control characters");
      else if (unstorable.test(value)) this.add(`${at}.value`, "must not contain lone UTF-16 surrogates");
    }
    return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** A count of repeated items (leases in a heartbeat) against its limit. */
  count(field: string, name: keyof Limits, actual: number): void {
    if (actual > this.limits[name]) this.overLimit(field, name, actual, "items");
  }

  /** A non-negative Duration in milliseconds, or undefined when unset. */
  durationMs(field: string, value: Duration | undefined, opts: { positive?: boolean } = {}): number | undefined {
    if (!value) return undefined;
    const ms = Number(value.seconds) * 1000 + value.nanos / 1e6;
    const mixedSigns = (value.seconds > 0n && value.nanos < 0) || (value.seconds < 0n && value.nanos > 0);
    if (!Number.isFinite(ms) || mixedSigns || Math.abs(value.nanos) >= 1e9) this.add(field, "is not a valid duration");
    else if (ms < 0) this.add(field, "must not be negative");
    else if (opts.positive && ms === 0) this.add(field, "must be greater than zero");
    else if (ms > 100 * 365 * 24 * 3600_000) this.add(field, "must be at most 100 years");
    return ms;
  }

  timestamp(field: string, value: Timestamp | undefined): Date | undefined {
    if (!value) return undefined;
    const ms = Number(value.seconds) * 1000 + value.nanos / 1e6;
    if (!Number.isFinite(ms) || value.nanos < 0 || value.nanos >= 1e9) {
      this.add(field, "is not a valid timestamp");
      return undefined;
    }
    if (ms < earliestTimeMs || ms > latestTimeMs) {
      this.add(field, "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z");
      return undefined;
    }
    return new Date(ms);
  }

  /**
   * A user payload as plain JSON: nested at most AIKI_MAX_JSON_DEPTH, at most
   * AIKI_MAX_PAYLOAD_BYTES as JSON text, and storable (no U+0000, no lone surrogate, in values or
   * keys). The nesting is checked without recursion before anything recurses over the value.
   */
  payload(field: string, value: Value | undefined): JsonValue | undefined {
    if (!value) return undefined;
    const before = this.list.length;
    const stack: Array<{ value: Value; depth: number }> = [{ value, depth: 0 }];
    while (stack.length > 0) {
      const { value: item, depth } = stack.pop()!;
      const kind = item.kind;
      if (kind.case === "stringValue") this.storable(field, kind.value);
      else if (kind.case === "numberValue" && !Number.isFinite(kind.value)) this.add(field, "must not contain NaN or Infinity");
      else if (kind.case === "structValue" || kind.case === "listValue") {
        if (depth + 1 > this.limits.maxJsonDepth) {
          this.overLimit(field, "maxJsonDepth", depth + 1, "levels of nesting");
          return undefined;
        }
        if (kind.case === "structValue") {
          for (const [key, child] of Object.entries(kind.value.fields)) {
            this.storable(field, key);
            stack.push({ value: child, depth: depth + 1 });
          }
        } else for (const child of kind.value.values) stack.push({ value: child, depth: depth + 1 });
      } else if (kind.case === undefined) this.add(field, "is not a valid JSON value (no kind set)");
      if (this.list.length > before) return undefined;
    }
    return this.sized(field, pbValueToJson(value) as JsonValue);
  }

  /** A Failure as stored: its texts storable, its cause chain and details bounded like a payload. */
  failure(field: string, failure: Failure): JsonValue | undefined {
    const before = this.list.length;
    let depth = 0;
    for (let f: Failure | undefined = failure, at = field; f; f = f.cause, at = `${at}.cause`) {
      if (++depth > this.limits.maxJsonDepth) {
        this.overLimit(field, "maxJsonDepth", depth, "levels of nested causes");
        return undefined;
      }
      this.text(`${at}.message`, f.message);
      this.text(`${at}.type`, f.type);
      if (f.stack.includes("\u0000") || unstorable.test(f.stack)) this.add(`${at}.stack`, "must not contain NUL (U+0000) characters or lone UTF-16 surrogates");
      if (f.details) this.payload(`${at}.details`, f.details);
      if (this.list.length > before) return undefined;
    }
    return this.sized(field, toJson(FailureSchema, failure) as JsonValue);
  }

  throwIfAny(): void {
    if (this.list.length > 0) throw new InvalidArgumentError(this.list, this.limitsPassed, this.mismatches);
  }

  private storable(field: string, s: string): void {
    if (s.includes("\u0000")) this.add(field, "must not contain NUL (U+0000) characters, which cannot be stored; encode binary data (e.g. base64)");
    else if (unstorable.test(s)) this.add(field, "must not contain lone UTF-16 surrogates");
  }

  private sized(field: string, json: JsonValue): JsonValue | undefined {
    const bytes = Buffer.byteLength(JSON.stringify(json));
    if (bytes > this.limits.maxPayloadBytes) {
      this.overLimit(field, "maxPayloadBytes", bytes, "bytes of JSON");
      return undefined;
    }
    return json;
  }
}

/** A client's text quoted in a message, with control characters shown as escapes. */
function printable(s: string): string {
  // biome-ignore lint: control characters are exactly what we escape
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
