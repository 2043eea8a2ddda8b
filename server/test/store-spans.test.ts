// Store spans (docs/tracing.md) in this process with the in-memory exporter: a batch of many
// callers' statements is one span below the first traced caller, linking the others; work no
// traced call asked for gets none. Scheduling logic with a fake write, as statement-batcher.test.ts.
import { context, propagation, SpanStatusCode, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { afterAll, describe, expect, it } from "vitest";
import { StatementBatcher } from "../src/store/statement-batcher.js";
import { traceStore } from "../src/tracing/store-spans.js";

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();
const tracer = trace.getTracer("store-spans-test");
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

describe("store spans", () => {
  it("a batch is one span below its first traced caller, with the batch size and a link to each other traced caller", async () => {
    exporter.reset();
    const gates: Array<ReturnType<typeof gate>> = [];
    const b = new StatementBatcher<number, number>(
      async (batch) => {
        const g = gate();
        gates.push(g);
        await g.opened;
        return batch.map((n) => n * 10);
      },
      { maxBatch: 10, maxInFlight: 1, name: "insertThings" },
    );
    const call = (name: string, n: number) => tracer.startActiveSpan(name, (span) => b.submit(n).finally(() => span.end()));
    const first = call("call 1", 1);
    // Arriving while the first batch runs: one batch of three, one of them untraced.
    const rest = [call("call 2", 2), b.submit(3), call("call 4", 4)];
    gates[0]!.open();
    await first;
    await new Promise((r) => setImmediate(r));
    gates[1]!.open();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
    const spans = exporter.getFinishedSpans();
    const byName = (name: string) => spans.find((s) => s.name === name)!;
    const stores = spans.filter((s) => s.name === "store insertThings");
    expect(stores.map((s) => s.attributes["aiki.batch_size"])).toEqual([1, 3]);
    expect(stores[0]!.parentSpanContext?.spanId).toBe(byName("call 1").spanContext().spanId);
    expect(stores[1]!.parentSpanContext?.spanId).toBe(byName("call 2").spanContext().spanId);
    expect(stores[1]!.links.map((l) => l.context.spanId)).toEqual([byName("call 4").spanContext().spanId]);
    expect(stores[1]!.attributes).toMatchObject({ "db.system": "postgresql", "db.operation": "insertThings" });
  });

  it("no span for work outside a traced call, a failed one with status ERROR", async () => {
    exporter.reset();
    expect(await traceStore("untraced", async () => 1)).toBe(1);
    expect(exporter.getFinishedSpans()).toEqual([]);
    await tracer.startActiveSpan("call", async (span) => {
      await expect(
        traceStore("failing", async () => {
          throw new Error("deadlock");
        }),
      ).rejects.toThrow("deadlock");
      span.end();
    });
    const failing = exporter.getFinishedSpans().find((s) => s.name === "store failing")!;
    expect(failing.status).toMatchObject({ code: SpanStatusCode.ERROR, message: "deadlock" });
  });
});
