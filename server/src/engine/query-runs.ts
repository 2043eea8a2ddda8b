import { RunNotFoundError } from "../domain/errors.js";
import type { RunStatus } from "../domain/run-status.js";
import {
  countRuns as countRunRows,
  findRunsByIds,
  findRunByReference,
  listRunTransitions,
  listRuns,
  type RunFilter,
  type RunReferenceLookup,
} from "../store/run-repository.js";
import type { RunTransitionRow } from "../store/run-transitions.table.js";
import { batcherFor } from "../store/statement-batcher.js";
import type { RunRow } from "../store/runs.table.js";
import type { EngineDeps } from "./engine-deps.js";

export async function getRun(deps: EngineDeps, namespace: string, runId: string): Promise<RunRow> {
  // Reads of many runs at once (held waits, GetRun) share one statement.
  const run = await batcherFor(deps.db, findRunsByIds).submit({ namespace, id: runId });
  if (!run) throw new RunNotFoundError({ runId });
  return run;
}

export async function getRunByReference(deps: EngineDeps, namespace: string, ref: RunReferenceLookup): Promise<RunRow> {
  const run = await findRunByReference(deps.db, namespace, ref);
  if (!run) throw new RunNotFoundError({ reference: ref });
  return run;
}

export interface Page<T> {
  items: T[];
  /** Undefined on the last page. */
  after: string | undefined;
}

/** One page of runs; fetches one extra row to know whether another page exists. */
export async function queryRuns(
  deps: EngineDeps,
  namespace: string,
  filter: RunFilter,
  page: { size: number; afterId?: string | undefined; order: "newest_first" | "oldest_first" },
): Promise<Page<RunRow>> {
  const rows = await listRuns(deps.db, namespace, filter, { limit: page.size + 1, afterId: page.afterId, order: page.order });
  const items = rows.slice(0, page.size);
  return { items, after: rows.length > page.size ? items[items.length - 1]?.id : undefined };
}

/** Matching runs per status. */
export async function countRuns(deps: EngineDeps, namespace: string, filter: RunFilter): Promise<Array<{ status: RunStatus; count: number }>> {
  return countRunRows(deps.db, namespace, filter);
}

export async function queryRunTransitions(
  deps: EngineDeps,
  namespace: string,
  runId: string,
  page: { size: number; afterRevision?: number | undefined },
): Promise<Page<RunTransitionRow>> {
  // NOT_FOUND for an unknown run rather than an empty list.
  await getRun(deps, namespace, runId);
  const rows = await listRunTransitions(deps.db, namespace, runId, { limit: page.size + 1, afterRevision: page.afterRevision });
  const items = rows.slice(0, page.size);
  return { items, after: rows.length > page.size ? String(items[items.length - 1]?.revision) : undefined };
}

export type { RunFilter, RunStatus };
