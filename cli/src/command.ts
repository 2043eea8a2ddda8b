import type { ParseArgsConfig } from "node:util";
import type { Clients } from "./clients.js";
import { UsageError } from "./cli-error.js";
import type { Output } from "./output.js";

export type OptionSpecs = NonNullable<ParseArgsConfig["options"]>;

/** What a command gets: its parsed arguments, where to write, and the server's clients. */
export interface CommandContext {
  /** Positional arguments after the command's words, in order. */
  args: readonly string[];
  values: Readonly<Record<string, string | boolean | Array<string | boolean> | undefined>>;
  /** The server's base URL (--url, AIKI_URL, or the default). */
  url: string;
  /** --json: print one JSON document (the RPC's response message) instead of text. */
  json: boolean;
  out: Output;
  env: NodeJS.ProcessEnv;
  /** --api-key or AIKI_API_KEY, when given. */
  apiKey: string | undefined;
  clients(): Clients;
}

export interface Command {
  /** The words that name it, e.g. ["runs", "list"]. */
  words: readonly string[];
  summary: string;
  /** Positional arguments for the usage line; a trailing "?" marks an optional one. */
  args: readonly string[];
  options: OptionSpecs;
  /** [flag with its value, what it does], for --help. */
  optionHelp: ReadonlyArray<readonly [string, string]>;
  /** Extra help text (exit codes, examples). */
  notes?: string;
  /** Resolves with the exit code (default 0). */
  // biome-ignore lint/suspicious/noConfusingVoidType: a command that returns nothing exits 0
  run(ctx: CommandContext): Promise<number | void>;
}

export function stringOption(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === "string" ? v : undefined;
}

export function stringsOption(ctx: CommandContext, name: string): string[] {
  const v = ctx.values[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : typeof v === "string" ? [v] : [];
}

/** A positive integer option, or `fallback` when absent. */
export function intOption(ctx: CommandContext, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = stringOption(ctx, name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`--${name} must be a whole number from 1 to ${max} (got "${v}")`);
  return n;
}

/** JSON text given on the command line, parsed. */
export function jsonOption(ctx: CommandContext, name: string): unknown {
  const v = stringOption(ctx, name);
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v) as unknown;
  } catch (error) {
    throw new UsageError(`--${name} is not valid JSON: ${(error as Error).message}`);
  }
}
