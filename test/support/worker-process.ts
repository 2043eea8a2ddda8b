// A worker in its own process (the normal deployment), for tests that kill it.
import { type ChildProcess, spawn } from "node:child_process";
import { repoRoot } from "./server-process.js";

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves with the first stdout line matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/worker-main.ts"], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const l of [...listeners]) l();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const waitForLine = (pattern: RegExp, timeoutMs = 30_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = new RegExp(pattern.source, pattern.flags.replace("g", "")).exec(output);
        if (!match) return;
        clearTimeout(timer);
        listeners.delete(check);
        resolve(match);
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`worker printed no line matching ${pattern} within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  await waitForLine(/WORKER_READY/);
  return {
    child,
    pid: child.pid!,
    waitForLine,
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
