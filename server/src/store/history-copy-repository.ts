import { sql, type Transaction } from "kysely";
import type { ChildRunRow } from "./child-runs.table.js";
import type { Database, Db } from "./database.js";
import type { EventRow } from "./events.table.js";
import type { RunWaitRow } from "./run-waits.table.js";
import type { TaskRow } from "./tasks.table.js";
import { uuidV7 } from "./uuid-v7.js";

type Trx = Transaction<Database>;

/** A history record's key in a timeline: `task:<id>`, `wait:<kind>:<key>:<sequence>`, `child:<key>:<sequence>`. */
export function timelineKey(record: { kind: "task"; id: string } | { kind: "wait"; row: RunWaitRow } | { kind: "child"; row: ChildRunRow }): string {
  switch (record.kind) {
    case "task":
      return `task:${record.id}`;
    case "wait":
      return `wait:${record.row.kind}:${record.row.key}:${record.row.sequence}`;
    case "child":
      return `child:${record.row.key}:${record.row.sequence}`;
  }
}

/**
 * When each record of a run's history was created, in microseconds on the database clock (a
 * task's first call, a wait's start, a child's start), by timelineKey. Dates in JavaScript keep
 * milliseconds only, too coarse to order the steps of a fast run.
 */
export async function historyTimeline(db: Db | Trx, runId: string): Promise<Map<string, bigint>> {
  const micros = (column: string) => sql.raw(`(extract(epoch from ${column}) * 1000000)::bigint::text`);
  const { rows } = await sql<{ key: string; micros: string }>`
    select 'task:' || id::text as key, ${micros("create_time")} as micros from tasks where run_id = ${runId}
    union all
    select 'wait:' || kind || ':' || key || ':' || sequence::text, ${micros("start_time")} from run_waits where run_id = ${runId}
    union all
    select 'child:' || key || ':' || sequence::text, ${micros("create_time")} from child_runs where parent_run_id = ${runId}
  `.execute(db);
  return new Map(rows.map((r) => [r.key, BigInt(r.micros)]));
}

/** Fresh ids for copies, ascending, so the copies keep the originals' order (UUIDv7 within one millisecond is not). */
function ascendingIds(count: number): string[] {
  return Array.from({ length: count }, () => uuidV7()).sort();
}

/**
 * Copies history records of one run into another (a rerun, in the transaction that creates it),
 * as new rows of the target with the originals' contents and times: what a replay reads is the
 * same, and the copies order among themselves as the originals did. Copied tasks belong to the
 * target's first workflow attempt. The originals are only read. Each kind is one statement.
 */
export async function copyHistoryRecords(
  trx: Trx,
  targetRunId: string,
  records: { tasks: readonly TaskRow[]; waits: readonly RunWaitRow[]; children: readonly ChildRunRow[]; events: readonly EventRow[] },
): Promise<void> {
  if (records.tasks.length > 0) {
    const newIds = ascendingIds(records.tasks.length);
    await sql`
      insert into tasks (namespace, id, run_id, name, address, sequence, status, attempts, max_attempts, input, output, failure,
        next_attempt_time, workflow_attempt, attempt_id, create_time, update_time)
      select t.namespace, m.new_id, ${targetRunId}::uuid, t.name, t.address, t.sequence, t.status, t.attempts, t.max_attempts, t.input, t.output, t.failure,
        null, 1, null, t.create_time, t.update_time
      from unnest(${records.tasks.map((t) => t.id)}::uuid[], ${newIds}::uuid[]) as m(old_id, new_id) join tasks t on t.id = m.old_id
    `.execute(trx);
  }
  const eventIds = new Map<string, string>();
  if (records.events.length > 0) {
    const newIds = ascendingIds(records.events.length);
    for (const [i, e] of records.events.entries()) eventIds.set(e.id, newIds[i]!);
    await sql`
      insert into events (namespace, id, run_id, name, data, reference_id, consume_time, create_time)
      select e.namespace, m.new_id, ${targetRunId}::uuid, e.name, e.data, e.reference_id, e.consume_time, e.create_time
      from unnest(${records.events.map((e) => e.id)}::uuid[], ${newIds}::uuid[]) as m(old_id, new_id) join events e on e.id = m.old_id
    `.execute(trx);
  }
  if (records.waits.length > 0) {
    const { waits } = records;
    await sql`
      insert into run_waits (namespace, run_id, kind, key, sequence, status, duration_ms, timeout_ms, start_time, deadline, end_time,
        event_id, awaited_status, child_status, output, failure)
      select w.namespace, ${targetRunId}::uuid, w.kind, w.key, w.sequence, w.status, w.duration_ms, w.timeout_ms, w.start_time, w.deadline, w.end_time,
        m.event_id, w.awaited_status, w.child_status, w.output, w.failure
      from unnest(${waits.map((w) => w.kind)}::text[], ${waits.map((w) => w.key)}::text[], ${waits.map((w) => w.sequence)}::int[],
        ${waits.map((w) => (w.event_id ? (eventIds.get(w.event_id) ?? null) : null))}::uuid[]) as m(kind, key, sequence, event_id)
      join run_waits w on w.run_id = ${waits[0]!.run_id}::uuid and w.kind = m.kind and w.key = m.key and w.sequence = m.sequence
    `.execute(trx);
  }
  if (records.children.length > 0) {
    const { children } = records;
    await sql`
      insert into child_runs (namespace, parent_run_id, key, sequence, child_run_id, workflow_name, workflow_version_id, create_time)
      select c.namespace, ${targetRunId}::uuid, c.key, c.sequence, c.child_run_id, c.workflow_name, c.workflow_version_id, c.create_time
      from unnest(${children.map((c) => c.key)}::text[], ${children.map((c) => c.sequence)}::int[]) as m(key, sequence)
      join child_runs c on c.parent_run_id = ${children[0]!.parent_run_id}::uuid and c.key = m.key and c.sequence = m.sequence
    `.execute(trx);
  }
}
