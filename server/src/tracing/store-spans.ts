import { type Attributes, type Context, context, createContextKey, type Link, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Transaction } from "kysely";
import type { Database, Db } from "../store/database.js";
import { serverTracer } from "./server-tracer.js";

/** Set in the context of a store span: the statements it runs get no spans of their own (traced-dialect.ts). */
export const inStoreSpan = createContextKey("aiki store span");

/** What a store span says beyond its operation. */
export interface StoreSpanOptions {
  runId?: string | undefined;
  /** The parent, when it is not the active context (a batch runs in its first caller's). */
  parent?: Context | undefined;
  attributes?: Attributes | undefined;
  links?: Link[] | undefined;
}

/**
 * A CLIENT span `store <operation>` around one store transaction or statement, a child of the
 * span it runs for (an RPC's SERVER span, made active by rpc-tracing.ts). Only below a recording
 * span: with tracing off the server installs no context manager, the active context is always the
 * root and this is one map lookup; work no call asked for (timers, sweeps) gets no root spans.
 */
export function traceStore<T>(operation: string, fn: () => Promise<T>, opts: StoreSpanOptions = {}): Promise<T> {
  const parent = opts.parent ?? context.active();
  if (!trace.getSpan(parent)?.isRecording()) return fn();
  const span = serverTracer().startSpan(
    `store ${operation}`,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        "db.system": "postgresql",
        "db.operation": operation,
        ...(opts.runId ? { "aiki.run_id": opts.runId } : {}),
        ...opts.attributes,
      },
      links: opts.links,
    },
    parent,
  );
  return context.with(trace.setSpan(parent, span).setValue(inStoreSpan, true), fn).then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      span.end();
      throw error;
    },
  );
}

/** `db.transaction().execute(fn)` as one store span named after what the transaction does. */
export function storeTransaction<T>(db: Db, operation: string, runId: string | undefined, fn: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return traceStore(operation, () => db.transaction().execute(fn), { runId });
}
