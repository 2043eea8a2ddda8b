import { type Context, context, type Link, trace } from "@opentelemetry/api";
import { traceStore } from "../tracing/store-spans.js";
import type { Db } from "./database.js";

/** `context`: the submitter's, so the batch's store span hangs below the RPC it runs for. */
type Pending<Req, Res> = { req: Req; context: Context; resolve: (res: Res) => void; reject: (error: unknown) => void };

/**
 * Group commit for one kind of statement (a write, or a read by key): one submitted while fewer
 * than `maxInFlight` batches run goes out at once, alone (no added latency when idle); those that
 * arrive while the batches are busy wait and go out together in the next one, as one statement
 * (and for writes one commit). A batch that fails can have failed for one request's sake (a
 * deadlock with another run's transaction): each of its requests is then tried again alone, so
 * the error a caller sees is its own statement's.
 *
 * Traced (store-spans.ts), a batch is one `store <name>` span below its first traced caller's
 * span, with `aiki.batch_size` and a link to each other traced caller's span: a span has one parent.
 */
export class StatementBatcher<Req, Res> {
  private queue: Array<Pending<Req, Res>> = [];
  private inFlight = 0;

  /** `write` runs a batch's statement and answers each request, in order. */
  constructor(
    private readonly write: (batch: readonly Req[]) => Promise<Res[]>,
    private readonly opts: { maxBatch: number; maxInFlight: number; name?: string },
  ) {}

  submit(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ req, context: context.active(), resolve, reject });
      if (this.inFlight < this.opts.maxInFlight) this.flush();
    });
  }

  private flush(): void {
    const batch = this.queue.splice(0, this.opts.maxBatch);
    if (batch.length === 0) return;
    this.inFlight++;
    this.run(batch)
      .catch((error: unknown) => {
        if (batch.length === 1) batch[0]!.reject(error);
        else for (const b of batch) this.run([b]).catch(b.reject);
      })
      .finally(() => {
        this.inFlight--;
        if (this.queue.length > 0) this.flush();
      });
  }

  /** Answers every request of `batch`, or rejects (answering none). */
  private async run(batch: Array<Pending<Req, Res>>): Promise<void> {
    const results = await this.traced(batch);
    if (results.length !== batch.length) throw new Error(`a batch of ${batch.length} requests was answered with ${results.length} results`);
    for (const [i, b] of batch.entries()) b.resolve(results[i]!);
  }

  private traced(batch: Array<Pending<Req, Res>>): Promise<Res[]> {
    const write = () => this.write(batch.map((b) => b.req));
    // Untraced (no caller below a recording span): no span, no links, as cheap as before.
    const traced = batch.filter((b) => trace.getSpan(b.context)?.isRecording());
    if (traced.length === 0) return write();
    const links: Link[] = traced.slice(1).map((b) => ({ context: trace.getSpan(b.context)!.spanContext() }));
    return traceStore(this.opts.name ?? "statement", write, { parent: traced[0]!.context, attributes: { "aiki.batch_size": batch.length }, links });
  }
}

const shared = new WeakMap<Db, Map<unknown, StatementBatcher<never, unknown>>>();

/**
 * The one batcher of `statement` on this database handle (made on first use), so every caller of
 * a statement shares its batches.
 */
export function batcherFor<Req, Res>(
  db: Db,
  statement: (db: Db, batch: readonly Req[]) => Promise<Res[]>,
  opts: { maxBatch: number; maxInFlight: number } = { maxBatch: 200, maxInFlight: 2 },
): StatementBatcher<Req, Res> {
  let byStatement = shared.get(db);
  if (!byStatement) {
    byStatement = new Map();
    shared.set(db, byStatement);
  }
  let batcher = byStatement.get(statement) as StatementBatcher<Req, Res> | undefined;
  if (!batcher) {
    batcher = new StatementBatcher((batch: readonly Req[]) => statement(db, batch), { ...opts, name: statement.name });
    byStatement.set(statement, batcher as unknown as StatementBatcher<never, unknown>);
  }
  return batcher;
}
