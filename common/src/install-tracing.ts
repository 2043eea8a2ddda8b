import { trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider, type SpanExporter } from "@opentelemetry/sdk-trace-node";

/**
 * What installTracingFromEnv installed: the server stops it at shutdown; a stopping worker only
 * flushes it, since the other workers of its process may still trace.
 */
export interface InstalledTracing {
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Whether the standard OTEL_* variables ask for traces: an OTLP endpoint, or OTEL_TRACES_EXPORTER
 * naming otlp or console. OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off.
 */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return false;
  const exporters = exportersNamed(env);
  if (exporters.includes("none")) return false;
  return exporters.length > 0 || Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/**
 * Installs a tracer provider exporting over OTLP/HTTP (or to the console) as the OTEL_*
 * variables say: endpoint, headers, service name (OTEL_SERVICE_NAME wins over `serviceName`),
 * resource attributes, sampler. Nothing when they ask for nothing, or when the process already
 * installed a provider of its own (then its provider gets our spans). Registers the W3C
 * propagator with it and the AsyncLocalStorage context manager, which carries a call's span down
 * to the spans made under it (the server's store spans, a worker's RPCs). Only then: with tracing
 * off no context manager taxes the promises of a call.
 */
export function installTracingFromEnv(env: NodeJS.ProcessEnv, serviceName: string): InstalledTracing | undefined {
  if (!tracingRequested(env)) return undefined;
  const exporters: SpanExporter[] = exportersNamed(env).includes("console") ? [new ConsoleSpanExporter()] : [];
  if (exporters.length === 0 || exportersNamed(env).includes("otlp")) exporters.push(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({
    resource: defaultResource()
      .merge(resourceFromAttributes({ "service.name": serviceName }))
      .merge(detectResources({ detectors: [envDetector] })),
    spanProcessors: exporters.map((e) => new BatchSpanProcessor(e)),
  });
  // False when a provider is already registered: the process's own setup wins.
  if (!trace.setGlobalTracerProvider(provider)) {
    void provider.shutdown();
    return undefined;
  }
  // NodeTracerProvider's default context manager: AsyncLocalStorage.
  provider.register();
  return { forceFlush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}

function exportersNamed(env: NodeJS.ProcessEnv): string[] {
  return (env.OTEL_TRACES_EXPORTER ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}
