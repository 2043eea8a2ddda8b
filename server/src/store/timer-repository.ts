import { type Kysely, sql } from "kysely";
import type { RunStatus } from "../domain/run-status.js";
import type { Database } from "./database.js";
import type { RunRow } from "./runs.table.js";

/** `due_time`: the wake time (or lease expiry) it fired for; `update_time` is the firing. */
export type FiredRun = RunRow & { from_status: RunStatus; due_time: Date };

/**
 * Fires due timers in one statement: delayed starts, sleeps (the open sleep completes), event
 * and child waits (the open wait times out) and retry delays all move to QUEUED. Claimed with
 * SKIP LOCKED so replicas split the work; guarded on revision; transitions appended.
 */
export async function fireDueTimers(db: Kysely<Database>, limit: number): Promise<FiredRun[]> {
  const { rows } = await sql<FiredRun>`
    with due as (
      select id, revision, status, wake_time as due_time from runs
      where status in ('scheduled', 'sleeping', 'awaiting_event', 'awaiting_child_workflow', 'awaiting_retry')
        and wake_time <= now()
      order by wake_time
      limit ${limit}
      for update skip locked
    ),
    resolved as (
      update run_waits w set status = case w.kind when 'sleep' then 'completed' else 'timed_out' end, end_time = now()
      from due
      where w.run_id = due.id and w.status = 'waiting'
        and w.kind = case due.status when 'sleeping' then 'sleep' when 'awaiting_event' then 'event'
                                     when 'awaiting_child_workflow' then 'child' end
      returning w.run_id
    ),
    woken as (
      update runs set status = 'queued', revision = runs.revision + 1, wake_time = null, update_time = now()
      from due
      where runs.id = due.id and runs.revision = due.revision
      returning runs.*, due.status as from_status, due.due_time
    ),
    audit as (
      insert into run_transitions (namespace, run_id, revision, from_status, to_status, actor, reason)
      select namespace, id, revision, from_status, 'queued', 'timer',
        case from_status when 'scheduled' then 'trigger time reached' when 'sleeping' then 'sleep ended'
          when 'awaiting_retry' then 'retry due' else 'wait timed out' end
      from woken
    )
    select * from woken
  `.execute(db);
  return rows;
}

/**
 * Leases whose worker stopped heartbeating: the run goes back to QUEUED for another worker and
 * the old token is void, so the dead worker's late writes are refused.
 */
export async function expireLeases(db: Kysely<Database>, limit: number): Promise<FiredRun[]> {
  const { rows } = await sql<FiredRun>`
    with expired as (
      select id, revision, lease_expires_time as due_time from runs
      where status = 'running' and lease_expires_time <= now()
      order by lease_expires_time
      limit ${limit}
      for update skip locked
    ),
    requeued as (
      update runs set status = 'queued', revision = runs.revision + 1, lease_token = null, lease_worker_id = null,
        lease_expires_time = null, update_time = now()
      from expired
      where runs.id = expired.id and runs.revision = expired.revision and runs.status = 'running'
      returning runs.*, 'running'::text as from_status, expired.due_time
    ),
    audit as (
      insert into run_transitions (namespace, run_id, revision, from_status, to_status, actor, reason)
      select namespace, id, revision, 'running', 'queued', 'timer', 'lease expired' from requeued
    )
    select * from requeued
  `.execute(db);
  return rows;
}

/** The earliest pending timer, lease expiry or schedule occurrence, if any. */
export async function nextWakeTime(db: Kysely<Database>): Promise<Date | undefined> {
  const { rows } = await sql<{ next: Date | null }>`
    select least(
      (select min(wake_time) from runs where wake_time is not null
         and status in ('scheduled', 'sleeping', 'awaiting_event', 'awaiting_child_workflow', 'awaiting_retry')),
      (select min(lease_expires_time) from runs where lease_expires_time is not null and status = 'running'),
      (select min(next_time) from schedules where status = 'active')
    ) as next
  `.execute(db);
  return rows[0]?.next ?? undefined;
}
