// The `aiki` CLI as users run it: bin/aiki.js in a child process, its output and exit status.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "./server-process.js";

export const aikiBin = join(repoRoot, "bin/aiki.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `aiki ...args` to completion (killed after timeoutMs). `env` adds to a minimal environment. */
export function runCli(args: readonly string[], opts: { env?: Record<string, string | undefined>; timeoutMs?: number; cwd?: string } = {}): Promise<CliResult> {
  return runCommand(process.execPath, [aikiBin, ...args], opts);
}

/** Runs any program to completion with a minimal environment (PATH, HOME) plus `env`. */
export function runCommand(
  file: string,
  args: readonly string[],
  opts: { env?: Record<string, string | undefined>; timeoutMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd ?? repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: "1", ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
