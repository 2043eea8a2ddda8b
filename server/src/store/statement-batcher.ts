/**
 * Group commit for one kind of single statement (a write, or a read by key): one submitted while
 * fewer than `maxInFlight` batches run goes out at once, alone (no added latency when idle); those
 * that arrive while the batches are busy wait and go out together in the next one, as one
 * statement (and for writes one commit). A failed batch (a deadlock, a lost connection) fails each
 * of its requests with that error; callers treat it as they would the failure of their own
 * statement.
 */
export class StatementBatcher<Req, Res> {
  private queue: Array<{ req: Req; resolve: (res: Res) => void; reject: (error: unknown) => void }> = [];
  private inFlight = 0;

  /** `write` runs a batch's statement and answers each request, in order. */
  constructor(
    private readonly write: (batch: readonly Req[]) => Promise<Res[]>,
    private readonly opts: { maxBatch: number; maxInFlight: number },
  ) {}

  submit(req: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      if (this.inFlight < this.opts.maxInFlight) this.flush();
    });
  }

  private flush(): void {
    const batch = this.queue.splice(0, this.opts.maxBatch);
    if (batch.length === 0) return;
    this.inFlight++;
    this.write(batch.map((b) => b.req)).then(
      (results) => {
        if (results.length !== batch.length) {
          const error = new Error(`a batch of ${batch.length} requests was answered with ${results.length} results`);
          for (const b of batch) b.reject(error);
          return;
        }
        batch.forEach((b, i) => b.resolve(results[i]!));
      },
      (error: unknown) => {
        for (const b of batch) b.reject(error);
      },
    ).finally(() => {
      this.inFlight--;
      if (this.queue.length > 0) this.flush();
    });
  }
}

const shared = new WeakMap<object, Map<string, StatementBatcher<never, unknown>>>();

/** The one batcher named `name` for this database handle (made on first use), so every caller of a statement shares its batches. */
export function batcherFor<Req, Res>(
  db: object,
  name: string,
  write: (batch: readonly Req[]) => Promise<Res[]>,
  opts: { maxBatch: number; maxInFlight: number } = { maxBatch: 200, maxInFlight: 2 },
): StatementBatcher<Req, Res> {
  let byName = shared.get(db);
  if (!byName) shared.set(db, (byName = new Map()));
  let batcher = byName.get(name) as StatementBatcher<Req, Res> | undefined;
  if (!batcher) {
    batcher = new StatementBatcher(write, opts);
    byName.set(name, batcher as unknown as StatementBatcher<never, unknown>);
  }
  return batcher;
}
