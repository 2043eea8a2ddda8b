import { create } from "@bufbuild/protobuf";
import { durationFromMs, type Timestamp, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type ActivateScheduleRequest,
  OverlapPolicy as PbOverlapPolicy,
  type Schedule,
  ScheduleSchema,
  type ScheduleSpec as PbScheduleSpec,
  ScheduleSpecSchema,
  ScheduleStatus as PbScheduleStatus,
} from "@aiki/gen/aiki/v1/schedule_service_pb";
import type { FieldViolation } from "../domain/errors.js";
import { cronViolations, minIntervalMs, type OverlapPolicy, type ScheduleSpec } from "../domain/schedule-spec.js";
import type { ActivateScheduleCommand } from "../engine/activate-schedule.js";
import type { ScheduleRow } from "../store/schedules.table.js";
import { jsonToValue } from "./run-mapping.js";
import type { Violations } from "./validation.js";

const overlapToPb: Record<OverlapPolicy, PbOverlapPolicy> = {
  allow: PbOverlapPolicy.ALLOW,
  skip: PbOverlapPolicy.SKIP,
  cancel_previous: PbOverlapPolicy.CANCEL_PREVIOUS,
};
const overlapFromPb = new Map<PbOverlapPolicy, OverlapPolicy>([
  // The contract's default.
  [PbOverlapPolicy.UNSPECIFIED, "allow"],
  ...Object.entries(overlapToPb).map(([k, v]) => [v, k as OverlapPolicy] as const),
]);

/** The request as an engine command; every problem is added to `v`, each naming its field. */
export function parseActivateSchedule(v: Violations, req: ActivateScheduleRequest, namespace: string): ActivateScheduleCommand {
  v.identifier("name", req.name, false);
  v.identifier("workflow_name", req.workflowName, true);
  v.identifier("workflow_version_id", req.workflowVersionId, true);
  v.identifier("shard", req.shard, false);
  const input = v.payload("input", req.input);
  const overlapPolicy = overlapFromPb.get(req.overlapPolicy);
  if (!overlapPolicy) v.add("overlap_policy", `unknown policy ${req.overlapPolicy}`);
  return {
    namespace,
    name: req.name,
    workflowName: req.workflowName,
    workflowVersionId: req.workflowVersionId,
    spec: specFromPb(v, req.spec) as ScheduleSpec,
    overlapPolicy: overlapPolicy ?? "allow",
    input,
    shard: req.shard,
    tags: v.tags("tags", req.tags),
  };
}

function specFromPb(v: Violations, pb: PbScheduleSpec | undefined): ScheduleSpec | undefined {
  const s = pb?.spec;
  if (!pb) {
    v.add("spec", "is required");
    return undefined;
  }
  switch (s?.case) {
    case "cron": {
      const { expression, timezone } = s.value;
      const spec = { type: "cron" as const, expression, timezone };
      const textProblem = cronTextProblem(expression, timezone, v.limits.maxNameLength);
      if (textProblem) v.add(textProblem.field, textProblem.description);
      else for (const problem of cronViolations(spec, "spec.cron", new Date())) v.add(problem.field, problem.description);
      return spec;
    }
    case "interval": {
      if (!s.value.every) {
        v.add("spec.interval.every", "is required");
        return undefined;
      }
      const everyMs = v.durationMs("spec.interval.every", s.value.every);
      if (everyMs !== undefined && everyMs >= 0 && everyMs < minIntervalMs) v.add("spec.interval.every", "must be at least 1 second");
      return { type: "interval", everyMs: Math.round(everyMs ?? 0) };
    }
    default:
      v.add("spec", "must be cron or interval");
      return undefined;
  }
}

/** Checks before parsing: present, bounded, no control characters (a zone with any is unknown anyway). */
function cronTextProblem(expression: string, timezone: string, maxIdentifierLength: number): FieldViolation | undefined {
  const field = "spec.cron.expression";
  if (expression === "") return { field, description: "is required" };
  if (expression.length > maxIdentifierLength) return { field, description: `must be at most ${maxIdentifierLength} characters` };
  if (timezone.length > maxIdentifierLength) return { field: "spec.cron.timezone", description: `must be at most ${maxIdentifierLength} characters` };
  // biome-ignore lint: control characters are exactly what we reject
  if (/[\u0000-\u001f\u007f]/.test(expression)) return { field, description: "must not contain control characters" };
  return undefined;
}

function specToPb(spec: ScheduleSpec): PbScheduleSpec {
  return create(ScheduleSpecSchema, {
    spec:
      spec.type === "cron"
        ? { case: "cron", value: { expression: spec.expression, timezone: spec.timezone } }
        : { case: "interval", value: { every: durationFromMs(spec.everyMs) } },
  });
}

const ts = (d: Date | null): Timestamp | undefined => (d ? timestampFromDate(d) : undefined);

export function scheduleToPb(row: ScheduleRow): Schedule {
  return create(ScheduleSchema, {
    id: row.id,
    name: row.name,
    workflowName: row.workflow_name,
    workflowVersionId: row.workflow_version_id,
    spec: specToPb(row.spec),
    overlapPolicy: overlapToPb[row.overlap_policy],
    input: jsonToValue(row.input),
    status: row.status === "active" ? PbScheduleStatus.ACTIVE : PbScheduleStatus.PAUSED,
    nextTime: ts(row.next_time),
    lastTime: ts(row.last_time),
    lastRunId: row.last_run_id ?? "",
    createTime: ts(row.create_time),
    shard: row.shard,
    tags: row.tags ?? {},
  });
}
