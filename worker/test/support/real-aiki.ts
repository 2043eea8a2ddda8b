// What the real-server rule tests share: a server on a fresh database and the shared Redis, a
// client, workers stopped after each test, gates a test opens, a logger that keeps what it is
// told, and the run's history (tasks and transitions) as the server has it.
import { RunStatus as PbRunStatus } from "@aiki/gen/aiki/v1/run_pb";
import type { Client, Logger, LogFields } from "@aiki/sdk";
import { clientInternals } from "@aiki/sdk/internal";
import { type TestAikiHarness, uniqueName, until as pollUntil, useTestAiki } from "../../../test/support/use-test-aiki.js";

export type RealAiki = Pick<TestAikiHarness, "aiki" | "client" | "spawn">;

/** The file's server (test/support/use-test-aiki.ts): workers stopped after each test, leaks checked at the end. */
export function useRealAiki(): RealAiki {
  return useTestAiki();
}

/** A name no other test uses, so no other test's worker leases this test's runs. */
export const uniq = uniqueName;

/** A promise the test settles from outside. */
export function gate<T = void>(): { promise: Promise<T>; open(value: T): void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

export interface RecordedLine {
  level: string;
  message: string;
  fields?: LogFields;
}

/** A logger that keeps every line, with a way to await one. */
export function recordingLogger(): Logger & { lines: RecordedLine[]; waitFor(match: RegExp, timeoutMs?: number): Promise<RecordedLine> } {
  const lines: RecordedLine[] = [];
  const listeners = new Set<() => void>();
  const push = (line: RecordedLine) => {
    lines.push(line);
    for (const l of listeners) l();
  };
  const make = (): Logger => ({
    trace: (message, fields) => push({ level: "trace", message, fields }),
    debug: (message, fields) => push({ level: "debug", message, fields }),
    info: (message, fields) => push({ level: "info", message, fields }),
    warn: (message, fields) => push({ level: "warn", message, fields }),
    error: (message, fields) => push({ level: "error", message, fields }),
    child: () => make(),
  });
  const waitFor = (match: RegExp, timeoutMs = 10_000) =>
    new Promise<RecordedLine>((resolve, reject) => {
      const check = () => {
        const found = lines.find((l) => match.test(l.message));
        if (!found) return false;
        listeners.delete(check);
        clearTimeout(timer);
        resolve(found);
        return true;
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no log line matching ${match} within ${timeoutMs} ms; got: ${lines.map((l) => l.message).join(" | ")}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  return Object.assign(make(), { lines, waitFor });
}

/** Polls an awaited condition (for state another process changes and nobody announces). */
export const until = (check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> => pollUntil(check, { timeoutMs, what });

/** The run's transitions as "from>to" (creation as ">queued"), oldest first. */
export async function transitionsOf(
  c: Client,
  runId: string,
): Promise<{ path: string[]; raw: Awaited<ReturnType<ClientInternals["runs"]["listRunTransitions"]>>["transitions"] }> {
  const { transitions } = await clientInternals(c).runs.listRunTransitions({ runId, pageSize: 1000 });
  const name = (s: PbRunStatus) => (s === PbRunStatus.UNSPECIFIED ? "" : PbRunStatus[s]!.toLowerCase());
  return { path: transitions.map((t) => `${name(t.fromStatus)}>${name(t.toStatus)}`), raw: transitions };
}

type ClientInternals = ReturnType<typeof clientInternals>;

/** The run's task records as the server has them. */
export async function tasksOf(c: Client, runId: string) {
  return (await clientInternals(c).tasks.listTasks({ runId })).tasks;
}
