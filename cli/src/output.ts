import { type DescMessage, type MessageShape, toJson } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate, type Value, ValueSchema } from "@bufbuild/protobuf/wkt";
import { formatDuration } from "./durations.js";

/** Where a command writes: results on stdout, progress and errors on stderr. */
export interface Output {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export function println(out: NodeJS.WritableStream, line = ""): void {
  out.write(`${line}\n`);
}

/** A response message as one JSON document (proto3 JSON, as buf curl and grpcurl print it). */
export function printJson<Desc extends DescMessage>(out: Output, schema: Desc, message: MessageShape<Desc>): void {
  println(out.stdout, JSON.stringify(toJson(schema, message), null, 2));
}

/** Columns padded to their widest cell; the last column is not padded. */
export function printTable(out: Output, headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  println(out.stdout, line(headers));
  for (const row of rows) println(out.stdout, line(row));
}

/** "key   value" lines, skipping empty values. */
export function printFields(out: Output, fields: ReadonlyArray<readonly [string, string | undefined]>): void {
  const shown = fields.filter((f): f is readonly [string, string] => f[1] !== undefined && f[1] !== "");
  const width = Math.max(...shown.map(([k]) => k.length));
  for (const [k, v] of shown) println(out.stdout, `${k.padEnd(width)}  ${v.replaceAll("\n", `\n${" ".repeat(width + 2)}`)}`);
}

/** "2026-05-01 12:00:00Z" (UTC, to the second); "" when unset. */
export function formatTime(ts: Timestamp | undefined): string {
  if (!ts) return "";
  return timestampDate(ts)
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d+Z$/, "Z");
}

/** "12s ago", "in 3m"; "" when unset. */
export function formatAge(ts: Timestamp | undefined, now = Date.now()): string {
  if (!ts) return "";
  const delta = now - timestampDate(ts).getTime();
  if (Math.abs(delta) < 1_000) return "now";
  return delta >= 0 ? `${formatDuration(delta)} ago` : `in ${formatDuration(-delta)}`;
}

export function formatTimeAndAge(ts: Timestamp | undefined): string | undefined {
  return ts ? `${formatTime(ts)} (${formatAge(ts)})` : undefined;
}

/** A protobuf Value as compact JSON; undefined when unset. */
export function formatValue(value: Value | undefined): string | undefined {
  return value ? JSON.stringify(toJson(ValueSchema, value)) : undefined;
}
