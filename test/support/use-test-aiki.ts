// The one setup of a test file (or describe) on a real server: registers its own hooks, hands out
// clients, unique names and waiting helpers, stops the workers it spawned, and at teardown fails
// the file on anything left behind (leak-checks.ts) or on a run transition the state machine
// forbids (check-run-transitions.ts). Modelled on connect-node's useNodeServer.
import type { DescService } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { Client as RpcClient } from "@connectrpc/connect";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import { type Client, client as sdkClient, silentLogger } from "@aiki/sdk";
import { type WorkerHandle, type WorkerOptions, worker } from "@aiki/worker";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { startTestAiki, type TestAiki, type TestAikiOptions } from "./aiki-server.js";
import { assertNoLeaks, closeChecked, openSockets, openSocketsProbe, throwAll } from "./leak-checks.js";

export interface UseTestAikiOptions extends TestAikiOptions {
  /** "file" (default): one server for every test of the scope (beforeAll/afterAll); "each": a fresh one per test. */
  per?: "file" | "each";
  /** false: no server of the harness's own (a test starts its servers with startServer, e.g. on a private Postgres). */
  server?: boolean;
}

export interface TestAikiHarness {
  /** The server (valid inside tests and hooks registered after useTestAiki). */
  readonly aiki: TestAiki;
  readonly url: string;
  /** An SDK client on the server, made on first use and closed at teardown. */
  readonly client: Client;
  /** A gRPC client for one of the server's services (aiki.client), closed at teardown. */
  rpc<S extends DescService>(service: S, apiKey?: string): RpcClient<S>;
  /** `${prefix}-${n}-${pid}`: no other test of this run uses it, so no other test's worker serves it. */
  uniqueName(prefix: string): string;
  /** Resolves once the run has `status`; throws naming the run, the status and the one it has instead. */
  waitForStatus(runId: string, status: RunStatus, timeoutMs?: number): Promise<void>;
  /** Polls an awaited condition (for state nobody announces); throws `${what} not met within …`. */
  until(check: () => boolean | Promise<boolean>, options?: { timeoutMs?: number; what?: string }): Promise<void>;
  /** Spawns a worker on `onClient` (default: the harness's client); stopped after the test. */
  // biome-ignore lint/suspicious/noExplicitAny: any workflow versions
  spawn(workflows: any[], options?: Partial<Omit<WorkerOptions, "workflows">>, onClient?: Client): Promise<WorkerHandle>;
  /** Cleanup run at teardown, with the servers of startServer, last registered first; before the harness's own server closes. */
  defer(fn: () => unknown): void;
  /** Another server (a replica: pass `{ database: h.aiki.database }`), closed and checked at teardown. */
  startServer(options?: TestAikiOptions): Promise<TestAiki>;
}

let seq = 0;
// Harnesses set up and not torn down yet (a file's and a describe's may overlap).
let active = 0;

/** `${prefix}-${n}-${pid}`: no other test of this run uses it, so no other test's worker serves it. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${++seq}-${process.pid}`;
}

/** Polls an awaited condition (for state nobody announces); throws `${what} not met within …`. */
export async function until(check: () => boolean | Promise<boolean>, { timeoutMs = 10_000, what = "condition" } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function useTestAiki(options: UseTestAikiOptions = {}): TestAikiHarness {
  const { per = "file", server = true, ...serverOptions } = options;
  let aiki: TestAiki | undefined;
  let client: Client | undefined;
  // defer()'s and startServer()'s, undone last first: a server closes before the Postgres it was given.
  const cleanups: Array<() => unknown> = [];
  const workers: WorkerHandle[] = [];

  const stopWorkers = async () => {
    const stopping = workers.splice(0).map((w) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`worker ${w.name} (${w.id}) did not stop within 10 s`)), 10_000);
      });
      return Promise.race([w.stop(), late]).finally(() => clearTimeout(timer));
    });
    const results = await Promise.allSettled(stopping);
    throwAll(results.flatMap((r) => (r.status === "rejected" ? [r.reason] : [])));
  };

  // Sockets open before this harness's setup, when it is the outermost one; else undefined.
  let socketBaseline: number | undefined;
  const setUp = async () => {
    socketBaseline = active++ === 0 ? openSockets() : undefined;
    if (server) aiki = await startTestAiki(serverOptions);
  };
  const tearDown = async () => {
    const failures: unknown[] = [];
    await stopWorkers().catch((e: unknown) => failures.push(e));
    await client?.close().catch((e: unknown) => failures.push(e));
    client = undefined;
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        failures.push(e);
      }
    }
    if (aiki) await closeChecked(aiki).catch((e: unknown) => failures.push(e));
    aiki = undefined;
    active--;
    if (socketBaseline !== undefined && failures.length === 0) await assertNoLeaks([openSocketsProbe(socketBaseline)]).catch((e: unknown) => failures.push(e));
    throwAll(failures);
  };

  if (per === "each") {
    beforeEach(setUp);
    afterEach(tearDown);
  } else {
    beforeAll(setUp);
    // Workers serve one test: the next one starts without them.
    afterEach(stopWorkers);
    afterAll(tearDown);
  }

  const started = () => {
    if (!aiki) throw new Error("the test server is not started (use the harness inside tests and hooks)");
    return aiki;
  };
  const harness: TestAikiHarness = {
    get aiki() {
      return started();
    },
    get url() {
      return started().url;
    },
    get client() {
      client ??= sdkClient({ url: started().url, logger: silentLogger });
      return client;
    },
    rpc: (service, apiKey) => started().client(service, apiKey),
    uniqueName,
    async waitForStatus(runId, status, timeoutMs = 10_000) {
      const res = await started()
        .client(RunService)
        .waitForRunStatus({ runId, status, timeout: durationFromMs(timeoutMs) }, { timeoutMs: timeoutMs + 5_000 });
      if (res.outcome !== WaitForRunStatusResponse_Outcome.REACHED) {
        const now = res.run ? RunStatus[res.run.status] : "unknown";
        throw new Error(
          `run ${runId} did not reach ${RunStatus[status]} within ${timeoutMs} ms (outcome ${WaitForRunStatusResponse_Outcome[res.outcome]}; it is ${now})`,
        );
      }
    },
    until,
    async spawn(workflows, workerOptions = {}, onClient) {
      const handle = await worker({
        name: "test-worker",
        ...workerOptions,
        workflows,
        opts: { pollWaitMs: 5_000, gracefulShutdownTimeoutMs: 2_000, ...workerOptions.opts },
      }).spawn(onClient ?? harness.client);
      workers.push(handle);
      return handle;
    },
    defer(fn) {
      cleanups.push(fn);
    },
    async startServer(more = {}) {
      const s = await startTestAiki(more);
      cleanups.push(() => closeChecked(s));
      return s;
    },
  };
  return harness;
}
