import { createHash } from "node:crypto";
import type { Transaction } from "kysely";
import { ScheduleConflictError } from "../domain/schedule-errors.js";
import { nextOccurrenceAfter, type OverlapPolicy, type ScheduleSpec } from "../domain/schedule-spec.js";
import type { Database } from "../store/database.js";
import { type JsonValue, jsonb, jsonbOrNull } from "../store/json.js";
import { isUniqueViolation } from "../store/pg-errors.js";
import { databaseNow, findScheduleForUpdate, insertSchedule } from "../store/schedule-repository.js";
import type { ScheduleRow } from "../store/schedules.table.js";
import type { EngineDeps } from "./engine-deps.js";
import { publishScheduleDue } from "./publish-schedule-due.js";
import { canonicalHash } from "./canonical-json.js";
import { storeTransaction } from "../tracing/store-spans.js";

export interface ActivateScheduleCommand {
  namespace: string;
  /** "" for an unnamed schedule, identified by its definition. */
  name: string;
  workflowName: string;
  workflowVersionId: string;
  spec: ScheduleSpec;
  overlapPolicy: OverlapPolicy;
  input?: JsonValue | undefined;
  shard: string;
  /** The tags of every run it starts; undefined or empty: none. */
  tags?: Readonly<Record<string, string>> | undefined;
}

export interface ActivateScheduleResult {
  schedule: ScheduleRow;
  existing: boolean;
}

/** What makes two activations "the same schedule": everything but the name. */
export function scheduleDefinitionHash(cmd: ActivateScheduleCommand): string {
  return canonicalHash({
    workflowName: cmd.workflowName,
    workflowVersionId: cmd.workflowVersionId,
    spec: cmd.spec,
    overlapPolicy: cmd.overlapPolicy,
    input: cmd.input === undefined ? { absent: true } : { value: cmd.input },
    shard: cmd.shard,
    // Only when set: a definition without tags hashes (and so derives its id) as before tags existed.
    ...(cmd.tags && Object.keys(cmd.tags).length > 0 ? { tags: cmd.tags } : {}),
  } as unknown as JsonValue);
}

/**
 * The schedule id: a name-based UUID (version 8, from SHA-256 as RFC 9562 suggests) of the
 * namespace and the name, or of the definition when unnamed. Deterministic, so activating again
 * (from any replica, after any restart) finds the same row, and the ids of the runs it starts
 * (reference "schedule:{id}:{time}") stay the same too.
 */
export function scheduleIdFor(namespace: string, name: string, definitionHash: string): string {
  const key = name ? `name\u0000${namespace}\u0000${name}` : `definition\u0000${namespace}\u0000${definitionHash}`;
  const bytes = createHash("sha256").update(key).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Activates a schedule, idempotently: the same name (or, unnamed, the same definition) with the
 * same definition returns the existing schedule as it is (even paused); the same name with
 * another definition is a ScheduleConflictError. Two concurrent activations race on the primary
 * key; the loser retries once and finds the winner's row.
 */
export async function activateSchedule(deps: EngineDeps, cmd: ActivateScheduleCommand): Promise<ActivateScheduleResult> {
  const definitionHash = scheduleDefinitionHash(cmd);
  const id = scheduleIdFor(cmd.namespace, cmd.name, definitionHash);
  const once = () => storeTransaction(deps.db, "activateSchedule", undefined, (trx) => activateIn(trx, cmd, id, definitionHash));
  let result: ActivateScheduleResult;
  try {
    result = await once();
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    result = await once();
  }
  if (!result.existing) publishScheduleDue(deps.notifier, result.schedule);
  return result;
}

async function activateIn(trx: Transaction<Database>, cmd: ActivateScheduleCommand, id: string, definitionHash: string): Promise<ActivateScheduleResult> {
  const prior = await findScheduleForUpdate(trx, cmd.namespace, id);
  if (prior) {
    if (prior.definition_hash !== definitionHash) throw new ScheduleConflictError(id, cmd.name);
    return { schedule: prior, existing: true };
  }
  const now = await databaseNow(trx);
  const schedule = await insertSchedule(trx, {
    namespace: cmd.namespace,
    id,
    name: cmd.name,
    workflow_name: cmd.workflowName,
    workflow_version_id: cmd.workflowVersionId,
    spec: jsonb(cmd.spec as unknown as JsonValue),
    overlap_policy: cmd.overlapPolicy,
    input: jsonbOrNull(cmd.input),
    shard: cmd.shard,
    tags: jsonb((cmd.tags ?? {}) as JsonValue),
    status: "active",
    // The first occurrence after activation; activation itself starts nothing.
    next_time: nextOccurrenceAfter(cmd.spec, now) ?? null,
    definition_hash: definitionHash,
  });
  return { schedule, existing: false };
}
