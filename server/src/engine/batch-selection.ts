import type { BatchOperationRow } from "../store/batch-operations.table.js";
import type { JsonValue } from "../store/json.js";
import type { RunFilter } from "../store/run-repository.js";

/** A RunFilter as a batch operation stores it (jsonb): times as ISO strings. */
export type StoredRunFilter = Omit<RunFilter, "createTimeFrom" | "createTimeTo"> & { createTimeFrom?: string; createTimeTo?: string };

export function storeFilter(filter: RunFilter): JsonValue {
  const { createTimeFrom, createTimeTo, ...rest } = filter;
  const stored: Record<string, unknown> = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  if (createTimeFrom) stored.createTimeFrom = createTimeFrom.toISOString();
  if (createTimeTo) stored.createTimeTo = createTimeTo.toISOString();
  return stored as JsonValue;
}

/** The filter as given at start (without the operation's own time bound). */
export function filterAsGiven(op: Pick<BatchOperationRow, "filter">): RunFilter {
  const s = (op.filter ?? {}) as unknown as StoredRunFilter;
  return {
    ...s,
    createTimeFrom: s.createTimeFrom ? new Date(s.createTimeFrom) : undefined,
    createTimeTo: s.createTimeTo ? new Date(s.createTimeTo) : undefined,
  };
}

/**
 * The filter the operation's pages read: as given, and only runs created before the operation
 * started, so runs started meanwhile (a schedule, a retrying client) are not swept up.
 */
export function storedFilterOf(op: Pick<BatchOperationRow, "filter" | "create_time">): RunFilter {
  const f = filterAsGiven(op);
  const bound = op.create_time;
  return { ...f, createTimeTo: f.createTimeTo && f.createTimeTo < bound ? f.createTimeTo : bound };
}
