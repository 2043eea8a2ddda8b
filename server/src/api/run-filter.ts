import { RunStatus as PbRunStatus } from "@aiki/gen/aiki/v1/run_pb";
import type { RunFilter as PbRunFilter } from "@aiki/gen/aiki/v1/run_service_pb";
import type { RunFilter } from "../engine/query-runs.js";
import { canonicalJson } from "../engine/canonical-json.js";
import type { JsonValue } from "../store/json.js";
import { runStatusFromPb } from "./run-mapping.js";
import type { Violations } from "./validation.js";

/** The filter fields ListRunsRequest and RunFilter share, under the same names. */
export type RunFilterFields = Omit<PbRunFilter, "$typeName" | "$unknown">;

export const maxFilterRunIds = 100;

/** Validates a run filter; `prefix` ("" or "filter.") makes violations name the request's field. */
export function parseRunFilter(v: Violations, prefix: string, f: RunFilterFields | undefined): RunFilter {
  if (!f) return {};
  v.identifier(`${prefix}workflow_name`, f.workflowName, false);
  v.identifier(`${prefix}workflow_version_id`, f.workflowVersionId, false);
  const parentRunId = v.uuid(`${prefix}parent_run_id`, f.parentRunId, false);
  v.identifier(`${prefix}reference_id`, f.referenceId, false);
  if (f.shard !== undefined) v.identifier(`${prefix}shard`, f.shard, false);
  const statuses = f.statuses.map((s, i) => runStatusFromPb(v, `${prefix}statuses[${i}]`, s));
  // As ListRuns always allowed: only UNSPECIFIED means any status.
  const unspecified = f.statuses.filter((s) => s === PbRunStatus.UNSPECIFIED).length;
  if (unspecified > 0 && unspecified < f.statuses.length) {
    v.add(`${prefix}statuses`, "must not contain RUN_STATUS_UNSPECIFIED");
  }
  if (f.runIds.length > maxFilterRunIds) v.add(`${prefix}run_ids`, `must hold at most ${maxFilterRunIds} ids`);
  const runIds = f.runIds.length > maxFilterRunIds ? [] : f.runIds.map((id, i) => v.uuid(`${prefix}run_ids[${i}]`, id));
  // Schedule ids are UUIDs too (derived from the schedule's name or definition).
  const scheduleId = v.uuid(`${prefix}schedule_id`, f.scheduleId, false);
  const rerunOf = v.uuid(`${prefix}rerun_of`, f.rerunOf, false);
  const createTimeFrom = v.timestamp(`${prefix}create_time_from`, f.createTimeFrom);
  const createTimeTo = v.timestamp(`${prefix}create_time_to`, f.createTimeTo);
  if (createTimeFrom && createTimeTo && createTimeTo.getTime() <= createTimeFrom.getTime()) {
    v.add(`${prefix}create_time_to`, "must be after create_time_from");
  }
  return {
    workflowName: f.workflowName || undefined,
    workflowVersionId: f.workflowVersionId || undefined,
    statuses: statuses.filter((s) => s !== undefined),
    shard: f.shard,
    parentRunId: parentRunId || undefined,
    referenceId: f.referenceId || undefined,
    runIds: runIds.length > 0 ? [...new Set(runIds)] : undefined,
    scheduleId: scheduleId || undefined,
    createTimeFrom,
    createTimeTo,
    rerunOf: rerunOf || undefined,
    tags: v.tags(`${prefix}tags`, f.tags),
  };
}

/** The filter's fingerprint in page tokens. */
export function runFilterKey(filter: RunFilter): string {
  return canonicalJson({
    ...filter,
    createTimeFrom: filter.createTimeFrom?.toISOString(),
    createTimeTo: filter.createTimeTo?.toISOString(),
  } as unknown as JsonValue);
}
