// Tracing's cost on W2 (docs/tracing.md): one three-task workflow at a time, start call to observed
// completion, with tracing off (no OTEL_* variables: the API's no-op tracer) and on (the server,
// the bench worker and this client each export every span over OTLP/HTTP to a local receiver on
// port 0 that discards them; each start runs under a span of this process, as a traced HTTP
// handler would). Server and worker in their own processes on durable Postgres and Redis.
//
//   TR_R=200 TR_WARMUP=20 TR_ROUNDS=1 npx tsx bench/tracing.ts
//   (JSON lines on stdout; a section prepended to bench/RESULTS.md)
import { cpus, totalmem } from "node:os";
import type { Client } from "@aiki/sdk";
import { context, propagation, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { BatchSpanProcessor, NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { startOtlpSink } from "../test/support/otlp-sink.js";
import { threeStepsV1 } from "./workflows.js";
import { startBenchEnv } from "./lib/bench-env.js";
import { expectReached, withAiki } from "./lib/aiki.js";
import { emit, envCount, envInt, type Figure, percentile } from "./lib/emit.js";
import { writeResults } from "./lib/results.js";

const r = envInt("TR_R", 200);
const warmup = envCount("TR_WARMUP", 20);
const rounds = envInt("TR_ROUNDS", 1);

const env = await startBenchEnv();
const sink = await startOtlpSink({ keep: false });
const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint, OTEL_SERVICE_NAME: "aiki-bench" };
const results: Figure[][] = [];
let failure: unknown;

async function w2(client: Client, traced: boolean): Promise<number[]> {
  const tracer = trace.getTracer("bench");
  const ms: number[] = [];
  for (let i = 0; i < warmup + r; i++) {
    const once = async () => {
      const t0 = performance.now();
      const handle = await threeStepsV1.start(client, { i });
      expectReached(await handle.waitForStatus("completed", { timeout: { seconds: 30 } }), `W2 run ${i}`);
      return performance.now() - t0;
    };
    const took = traced
      ? await tracer.startActiveSpan("request", async (span) => {
          try {
            return await once();
          } finally {
            span.end();
          }
        })
      : await once();
    if (i >= warmup) ms.push(took);
  }
  return ms.sort((a, b) => a - b);
}

try {
  for (let round = 0; round < rounds; round++) {
    const figures: Figure[] = [];
    const measureOff = () => withAiki(env, {}, ({ client }) => w2(client, false));
    // This process traces too while "on" (as an instrumented service would), and not at all while "off".
    const measureOn = async () => {
      const provider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${sink.endpoint}/v1/traces` }))] });
      provider.register();
      try {
        return await withAiki(env, { serverEnv: otel, workerEnv: otel }, ({ client }) => w2(client, true));
      } finally {
        await provider.shutdown();
        trace.disable();
        context.disable();
        propagation.disable();
      }
    };
    // Alternating which goes first, so a machine getting busier or quieter favours neither.
    let off: number[];
    let on: number[];
    if (round % 2 === 0) {
      off = await measureOff();
      on = await measureOn();
    } else {
      on = await measureOn();
      off = await measureOff();
    }
    const params = { r, warmup, tasks_per_workflow: 3, round: round + 1 };
    const p50Off = percentile(off, 50);
    const p50On = percentile(on, 50);
    figures.push(
      emit("TRACE", "w2_p50_ms_off", p50Off, params),
      emit("TRACE", "w2_p50_ms_on", p50On, params),
      emit("TRACE", "w2_p50_added_ms", p50On - p50Off, params),
      emit("TRACE", "w2_p99_ms_off", percentile(off, 99), params),
      emit("TRACE", "w2_p99_ms_on", percentile(on, 99), params),
      emit("TRACE", "otlp_exports_received", sink.requests, params, 0),
    );
    results.push(figures);
  }
} catch (error) {
  failure = error;
} finally {
  await sink.close();
  await env.close();
}
if (failure) throw failure;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const added = results.map((f) => f.find((x) => x.metric === "w2_p50_added_ms")!.value);
if (rounds > 1) emit("TRACE", "w2_p50_added_ms_median_of_rounds", median(added), { rounds, r, warmup });
writeResults({
  machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
  command: `TR_R=${r} TR_WARMUP=${warmup} TR_ROUNDS=${rounds} npx tsx bench/tracing.ts`,
  notes: [
    "deployment: server and bench worker in their own Node processes, durable Postgres and Redis: all on these cores",
    "off: no OTEL_* variables anywhere; on: server, worker and client export every span (batch processor, OTLP/HTTP JSON) to a local receiver that discards them, each start under a client span",
  ],
  rounds: results,
});
