import { NamespaceNotFoundError } from "../domain/auth-errors.js";
import type { AikiMetrics } from "../metrics/aiki-metrics.js";
import type { Db } from "../store/database.js";
import { findNamespace } from "../store/namespace-repository.js";
import { type PurgeCursor, purgeFinishedRuns } from "../store/retention-repository.js";

/** Top-level runs per statement: each batch is one short transaction. */
export const purgeBatchSize = 200;

export interface PurgeRunsRequest {
  namespace: string;
  /** Runs whose whole tree ended before this go. */
  before: Date;
  dryRun: boolean;
  /** Top-level runs this call looks at, at most. */
  maxTrees: number;
  after?: PurgeCursor | undefined;
}

export interface PurgeRunsResult {
  runs: number;
  trees: number;
  /** Set when the call stopped at maxTrees: where the next call goes on. */
  next: PurgeCursor | undefined;
}

/**
 * Purges (or counts) a namespace's finished runs in batches of one statement each, so no
 * transaction is long and live runs are never locked (docs/retention.md). `pause` runs between
 * batches: the retention sweep yields there to live traffic.
 */
export async function purgeRuns(
  deps: { db: Db; metrics?: AikiMetrics | undefined },
  req: PurgeRunsRequest,
  options: { origin: "retention" | "rpc"; batchSize?: number; pause?: () => Promise<boolean> } = { origin: "rpc" },
): Promise<PurgeRunsResult> {
  if (!(await findNamespace(deps.db, req.namespace))) throw new NamespaceNotFoundError(req.namespace);
  const batchSize = options.batchSize ?? purgeBatchSize;
  let runs = 0;
  let trees = 0;
  let examined = 0;
  let cursor = req.after;
  while (examined < req.maxTrees) {
    const limit = Math.min(batchSize, req.maxTrees - examined);
    const batch = await purgeFinishedRuns(deps.db, { namespace: req.namespace, before: req.before, limit, dryRun: req.dryRun, after: cursor });
    runs += batch.runs;
    trees += batch.trees;
    examined += batch.examined;
    if (!req.dryRun) deps.metrics?.runsPurged(options.origin, batch.runs);
    cursor = batch.cursor ?? cursor;
    if (batch.examined < limit) return { runs, trees, next: undefined };
    if (options.pause && !(await options.pause())) break;
  }
  return { runs, trees, next: cursor };
}
