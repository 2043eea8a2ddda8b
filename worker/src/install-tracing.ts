import { type InstalledTracing, installTracingFromEnv } from "@aiki/common/install-tracing";

let installed: InstalledTracing | undefined | null = null;

/**
 * installTracingFromEnv once per process, for every worker it spawns (null until the first
 * spawn): the workers of one process share its provider, so a stopping worker flushes it and
 * leaves it running for the others.
 */
export function workerTracing(): InstalledTracing | undefined {
  if (installed === null) installed = installTracingFromEnv(process.env, "aiki-worker");
  return installed;
}
