// npx tsx bench/rpc-overhead.ts: what one worker write costs in transport, unary RPC against a
// call on a WorkerLeaseService.Session stream, each over gRPC and over the Connect protocol
// (binary, the same HTTP/2 server; what @aiki/sdk speaks). All make the same server call (a
// Heartbeat with no leases: one UPDATE of the worker's row) on the same server, durable Postgres
// and Redis as the other workloads, client and server in this one process so CPU
// (process.cpuUsage) counts both sides. Sequential calls; N [2000] per kind after 500 warm-ups;
// prints JSON lines: unary_*/session_* over gRPC, unary_connect_*/session_connect_* over Connect.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { type SessionRequestSchema, type SessionResponse, WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { createServer, openDependencies } from "@aiki/server";
import { startBenchEnv } from "./lib/bench-env.js";
import { emit, envInt, percentile } from "./lib/emit.js";

const n = envInt("RPC_N", 2000);
const warmup = 500;
const env = await startBenchEnv();
const logger = pino({ level: "silent" });
const deps = await openDependencies({ databaseUrl: env.databaseUrl, redisUrl: env.redisUrl, dataDir: "", logger });
const server = createServer({ db: deps.db, notifier: deps.notifier, logger });
try {
  const { url } = await server.listen(0, "127.0.0.1");
  const heartbeat = { workerId: "rpc-overhead", leases: [] };

  const measure = async (call: () => Promise<unknown>) => {
    for (let i = 0; i < warmup; i++) await call();
    const ms: number[] = [];
    const cpu = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await call();
      ms.push(performance.now() - t0);
    }
    const used = process.cpuUsage(cpu);
    return { ms: ms.sort((a, b) => a - b), cpuUsPerCall: (used.user + used.system) / n };
  };

  const both = async (leases: Client<typeof WorkerLeaseService>) => {
    const unary = await measure(() => leases.heartbeat(heartbeat));

    // One session; calls answered by call_id, one at a time.
    const outbox: MessageInitShape<typeof SessionRequestSchema>[] = [
      { kind: { case: "open", value: { workerId: "rpc-overhead", workflows: [{ workflowName: "none", workflowVersionId: "1" }], credits: 0 } } },
    ];
    let wakeOut: (() => void) | undefined;
    let done = false;
    async function* requests() {
      while (!done) {
        const next = outbox.shift();
        if (next) yield next;
        else await new Promise<void>((r) => (wakeOut = r));
      }
    }
    const answers = new Map<number, () => void>();
    const reading = (async () => {
      for await (const r of leases.session(requests()) as AsyncIterable<SessionResponse>) {
        if (r.kind.case === "result") answers.get(r.kind.value.callId)?.();
      }
    })();
    let id = 0;
    const session = await measure(
      () =>
        new Promise<void>((resolve) => {
          const callId = ++id;
          answers.set(callId, () => {
            answers.delete(callId);
            resolve();
          });
          outbox.push({ kind: { case: "call", value: { callId, request: { case: "heartbeat", value: heartbeat } } } });
          wakeOut?.();
        }),
    );
    done = true;
    wakeOut?.();
    await reading;
    return { unary, session };
  };

  const grpc = await both(createClient(WorkerLeaseService, createGrpcTransport({ baseUrl: url })));
  const connect = await both(createClient(WorkerLeaseService, createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true })));

  const params = { n, warmup, call: "Heartbeat without leases (one UPDATE)", same_process: "client and server" };
  for (const [kind, r] of [
    ["unary", grpc.unary],
    ["session", grpc.session],
    ["unary_connect", connect.unary],
    ["session_connect", connect.session],
  ] as const) {
    emit("RPC", `${kind}_p50_ms`, percentile(r.ms, 50), params);
    emit("RPC", `${kind}_p99_ms`, percentile(r.ms, 99), params);
    emit("RPC", `${kind}_cpu_us_per_call`, Math.round(r.cpuUsPerCall), params);
  }
} finally {
  await server.close();
  await deps.close();
  await env.close();
}
