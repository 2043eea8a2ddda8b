import { channel } from "node:diagnostics_channel";

// Named points on the latency path (bench/trace.ts). Publishing costs one property read while
// nobody subscribes, so the points stay in the code that is deployed; the bench's hook
// (bench/lib/trace-hook.mjs, loaded with --import) subscribes and stamps each with the monotonic
// clock every process on the machine shares.
const points = channel("aiki:trace");

export interface TracePointMessage {
  name: string;
  detail?: string | undefined;
}

/** Publishes point `name` (with a short `detail`, e.g. a method or statement) when traced. */
export function tracePoint(name: string, detail?: string): void {
  if (points.hasSubscribers) points.publish({ name, detail } satisfies TracePointMessage);
}

/** Whether anyone traces: lets a caller skip building a point's detail. */
export function tracing(): boolean {
  return points.hasSubscribers;
}
