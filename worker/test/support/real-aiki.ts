// What the real-server rule tests share: a server on a fresh database and the shared Redis, a
// client, workers stopped after each test, gates a test opens, a logger that keeps what it is
// told, and the run's history (tasks and transitions) as the server has it.
import { RunStatus as PbRunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { type Client, client, type Logger, type LogFields, silentLogger } from "@aiki/sdk";
import { clientInternals } from "@aiki/sdk/internal";
import { type WorkerHandle, type WorkerOptions, worker } from "@aiki/worker";
import { afterAll, afterEach, beforeAll } from "vitest";
import { startTestAiki, type TestAiki } from "../../../test/support/aiki-server.js";

export interface RealAiki {
  readonly aiki: TestAiki;
  readonly client: Client;
  // biome-ignore lint/suspicious/noExplicitAny: any versions
  spawn(workflows: any[], options?: Partial<Omit<WorkerOptions, "workflows">>): Promise<WorkerHandle>;
}

/** Registers the hooks of a test file on one real server; the getters work inside tests. */
export function useRealAiki(): RealAiki {
  let aiki: TestAiki | undefined;
  let aikiClient: Client | undefined;
  const spawned: WorkerHandle[] = [];
  beforeAll(async () => {
    aiki = await startTestAiki();
    aikiClient = client({ url: aiki.url, logger: silentLogger });
  });
  afterEach(async () => {
    await Promise.all(spawned.splice(0).map((w) => w.stop()));
  });
  afterAll(async () => {
    await aikiClient?.close();
    await aiki?.close();
  });
  return {
    get aiki() {
      if (!aiki) throw new Error("the server is not started");
      return aiki;
    },
    get client() {
      if (!aikiClient) throw new Error("the server is not started");
      return aikiClient;
    },
    async spawn(workflows, options = {}) {
      if (!aikiClient) throw new Error("the server is not started");
      const handle = await worker({
        name: "rules-worker",
        ...options,
        workflows,
        opts: { pollWaitMs: 5_000, gracefulShutdownTimeoutMs: 2_000, ...options.opts },
      }).spawn(aikiClient);
      spawned.push(handle);
      return handle;
    },
  };
}

let seq = 0;
/** A name no other test uses, so no other test's worker leases this test's runs. */
export const uniq = (name: string) => `${name}-${++seq}-${process.pid}-${Date.now().toString(36)}`;

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
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The run's transitions as "from>to" (creation as ">queued"), oldest first. */
export async function transitionsOf(c: Client, runId: string): Promise<{ path: string[]; raw: Awaited<ReturnType<ClientInternals["runs"]["listRunTransitions"]>>["transitions"] }> {
  const { transitions } = await clientInternals(c).runs.listRunTransitions({ runId, pageSize: 1000 });
  const name = (s: PbRunStatus) => (s === PbRunStatus.UNSPECIFIED ? "" : PbRunStatus[s]!.toLowerCase());
  return { path: transitions.map((t) => `${name(t.fromStatus)}>${name(t.toStatus)}`), raw: transitions };
}

type ClientInternals = ReturnType<typeof clientInternals>;

/** The run's task records as the server has them. */
export async function tasksOf(c: Client, runId: string) {
  return (await clientInternals(c).tasks.listTasks({ runId })).tasks;
}
