import { parseArgs } from "node:util";
import { CliError, UsageError } from "./cli-error.js";
import { type Clients, createClients } from "./clients.js";
import type { Command, OptionSpecs } from "./command.js";
import { commands } from "./commands/index.js";
import { type Output, println } from "./output.js";
import { rpcErrorToCliError } from "./rpc-errors.js";

export const defaultUrl = "http://127.0.0.1:9850";

const globalOptions: OptionSpecs = {
  url: { type: "string" },
  "api-key": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

export interface MainIo extends Output {
  env: NodeJS.ProcessEnv;
}

/** Runs one command line; resolves with the exit status. Never throws. */
export async function main(argv: readonly string[], io: MainIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  let command: Command | undefined;
  let url = io.env.AIKI_URL || defaultUrl;
  try {
    // The command is named by the leading words; options may come anywhere.
    const loose = parseArgs({ args: [...argv], options: allOptions(), strict: false, allowPositionals: true });
    command = findCommand(loose.positionals);
    if (!command) {
      const [first, second] = loose.positionals;
      // `aiki` or `aiki runs`: the list of commands (of that group).
      if (first === undefined || (second === undefined && commands.some((c) => c.words[0] === first))) {
        // Asked for: on stdout, exit 0; a command line with no command: on stderr, exit 2.
        const asked = loose.values.help === true;
        printHelp(asked ? io.stdout : io.stderr, first);
        return asked ? 0 : 2;
      }
      throw new UsageError(`unknown command "${loose.positionals.slice(0, 2).join(" ")}"`);
    }
    const parsed = parseArgs({ args: [...argv], options: { ...globalOptions, ...command.options }, strict: true, allowPositionals: true });
    if (parsed.values.help === true) {
      printCommandHelp(io, command);
      return 0;
    }
    const args = parsed.positionals.slice(command.words.length);
    checkArgs(command, args);
    if (typeof parsed.values.url === "string") url = parsed.values.url;
    if (!/^https?:\/\/[^/]/.test(url)) throw new UsageError(`--url must be an http:// or https:// URL (got "${url}")`);
    let clients: Clients | undefined;
    const baseUrl = url;
    const apiKey = typeof parsed.values["api-key"] === "string" ? parsed.values["api-key"] : io.env.AIKI_API_KEY || undefined;
    const code = await command.run({
      args,
      values: parsed.values,
      url,
      json: parsed.values.json === true,
      out: io,
      env: io.env,
      apiKey,
      clients: () => (clients ??= createClients(baseUrl, apiKey)),
    });
    return code ?? 0;
  } catch (error) {
    const cliError =
      error instanceof CliError ? error : (rpcErrorToCliError(error, url) ?? (isParseArgsError(error) ? new UsageError(parseArgsMessage(error)) : undefined));
    if (!cliError) {
      println(io.stderr, `aiki: unexpected error: ${(error as Error)?.stack ?? String(error)}`);
      return 1;
    }
    println(io.stderr, `aiki: ${cliError.message}`);
    if (cliError instanceof UsageError) println(io.stderr, `Run "aiki ${command ? `${command.words.join(" ")} ` : ""}--help" for usage.`);
    return cliError.exitCode;
  }
}

function allOptions(): OptionSpecs {
  return Object.assign({}, globalOptions, ...commands.map((c) => c.options)) as OptionSpecs;
}

function findCommand(positionals: readonly string[]): Command | undefined {
  return commands.find((c) => c.words.every((w, i) => positionals[i] === w));
}

function checkArgs(command: Command, args: readonly string[]): void {
  const required = command.args.filter((a) => !a.endsWith("?")).length;
  if (args.length < required) throw new UsageError(`missing ${command.args.slice(args.length, required).join(" ")}`);
  if (args.length > command.args.length) throw new UsageError(`unexpected argument "${args[command.args.length]}"`);
}

function isParseArgsError(error: unknown): error is Error {
  return error instanceof Error && String((error as { code?: unknown }).code ?? "").startsWith("ERR_PARSE_ARGS");
}

/** Node's message, first sentence only: "unknown option '--x'". */
function parseArgsMessage(error: Error): string {
  const first = error.message.split(". ")[0]!;
  return first.charAt(0).toLowerCase() + first.slice(1);
}

function usageLine(c: Command): string {
  const args = c.args.map((a) => (a.endsWith("?") ? `[${a.slice(0, -1)}]` : a));
  return ["aiki", ...c.words, ...args, ...(c.optionHelp.length ? ["[options]"] : [])].join(" ");
}

function printHelp(out: NodeJS.WritableStream, group?: string): void {
  const shown = commands.filter((c) => group === undefined || c.words[0] === group);
  const width = Math.max(...shown.map((c) => c.words.join(" ").length));
  println(out, "aiki: operate an Aiki server from the command line.");
  println(out);
  println(out, "Commands:");
  for (const c of shown) println(out, `  ${c.words.join(" ").padEnd(width)}  ${c.summary}`);
  println(out);
  printGlobalOptions(out);
  println(out);
  println(out, 'Run "aiki COMMAND --help" for a command\'s arguments and options.');
}

function printCommandHelp(io: MainIo, c: Command): void {
  println(io.stdout, `Usage: ${usageLine(c)}`);
  println(io.stdout);
  println(io.stdout, c.summary);
  if (c.optionHelp.length > 0) {
    println(io.stdout);
    println(io.stdout, "Options:");
    const width = Math.max(...c.optionHelp.map(([flag]) => flag.length));
    for (const [flag, text] of c.optionHelp) println(io.stdout, `  ${flag.padEnd(width)}  ${text}`);
  }
  println(io.stdout);
  printGlobalOptions(io.stdout);
  if (c.notes) {
    println(io.stdout);
    println(io.stdout, c.notes);
  }
}

function printGlobalOptions(out: NodeJS.WritableStream): void {
  println(out, "Global options:");
  println(out, `  --url URL      the server (default: AIKI_URL, else ${defaultUrl})`);
  println(out, "  --api-key KEY  sent as `authorization: Bearer KEY` (default: AIKI_API_KEY); needed when the server runs with AIKI_AUTH=on");
  println(out, "  --json         print one JSON document (the RPC's response, proto3 JSON) instead of text");
  println(out, "  -h, --help     show help");
}
