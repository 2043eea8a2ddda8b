import { type Kysely, sql, type Transaction } from "kysely";
import type { Database } from "./database.js";
import type { JsonValue } from "./json.js";
import { transitionRun } from "./run-repository.js";
import { completionsCtes, type StartedTask, startedRowsOf, startedTaskRows, type TaskCompletion } from "./task-repository.js";
import type { TaskRow } from "./tasks.table.js";
import type { RunRow } from "./runs.table.js";

export interface ClaimRequest {
  namespace: string;
  workerId: string;
  versions: ReadonlyArray<{ workflowName: string; workflowVersionId: string }>;
  /** [""] for unsharded runs only. */
  shards: readonly string[];
  limit: number;
  ttlMs: number;
}

/**
 * Leases up to `limit` queued runs, oldest first: claimed with SKIP LOCKED so concurrent pollers
 * never block on or double-lease a run; each gets a fresh fencing token; guarded on status and
 * revision; transition appended in the same statement.
 */
/**
 * A run just leased, with `queued_time`: when it became QUEUED (its update_time before the
 * claim), and `first_lease`: it was never leased before, so it has no history yet (a rerun
 * has: the records it copied from its source, docs/semantics.md, Rerun).
 */
export type ClaimedRun = RunRow & { queued_time: Date; first_lease: boolean };

export async function claimReadyRuns(db: Kysely<Database>, req: ClaimRequest): Promise<ClaimedRun[]> {
  const names = req.versions.map((v) => v.workflowName);
  const versions = req.versions.map((v) => v.workflowVersionId);
  const { rows } = await sql<ClaimedRun>`
    with ready as (
      select r.id, r.revision, r.update_time as queued_time, (r.start_time is null and r.rerun_of is null) as first_lease from runs r
      join unnest(${names}::text[], ${versions}::text[]) as v(name, version)
        on r.workflow_name = v.name and r.workflow_version_id = v.version
      where r.namespace = ${req.namespace} and r.status = 'queued' and r.shard = any(${req.shards as string[]}::text[])
      order by r.create_time
      limit ${req.limit}
      for update of r skip locked
    ),
    leased as (
      update runs set status = 'running', revision = runs.revision + 1, lease_token = gen_random_uuid(),
        lease_worker_id = ${req.workerId}, lease_expires_time = now() + make_interval(secs => ${req.ttlMs / 1000}),
        start_time = coalesce(runs.start_time, now()), update_time = now()
      from ready
      where runs.id = ready.id and runs.status = 'queued' and runs.revision = ready.revision
      returning runs.*, ready.queued_time, ready.first_lease
    ),
    audit as (
      insert into run_transitions (namespace, run_id, revision, from_status, to_status, actor, reason)
      select namespace, id, revision, 'queued', 'running', ${`worker:${req.workerId}`}, 'leased' from leased
    )
    select * from leased
  `.execute(db);
  return rows;
}

/**
 * The fence: the run, locked, if the caller still holds its lease. `update` for writes that
 * change the run's state, `share` for writes beside it (task records): either way a concurrent
 * pause/cancel waits for this transaction, and the worker's next write after it fails.
 * Undefined: the lease is lost.
 */
export async function lockLeasedRun(
  trx: Transaction<Database>,
  namespace: string,
  runId: string,
  leaseToken: string,
  mode: "update" | "share",
): Promise<RunRow | undefined> {
  const q = trx
    .selectFrom("runs")
    .selectAll()
    .where("namespace", "=", namespace)
    .where("id", "=", runId)
    .where("lease_token", "=", leaseToken)
    .where("status", "=", "running");
  return (mode === "update" ? q.forUpdate() : q.forShare()).executeTakeFirst();
}

/**
 * Leases one queued run to a worker through the guarded transition, writing what a claim writes
 * (claimReadyRuns): the token, the worker, the expiry, the first start time, and a queued →
 * running history row "leased". Undefined: the guard did not match and nothing was written.
 */
export async function leaseQueuedRun(
  trx: Transaction<Database>,
  queued: RunRow,
  lease: { leaseToken: string; workerId: string; ttlMs: number },
): Promise<RunRow | undefined> {
  return transitionRun(
    trx,
    queued,
    "running",
    {
      lease_token: lease.leaseToken,
      lease_worker_id: lease.workerId,
      lease_expires_time: sql<Date>`now() + make_interval(secs => ${lease.ttlMs / 1000})`,
      start_time: sql<Date>`coalesce(start_time, now())`,
    },
    { actor: `worker:${lease.workerId}`, reason: "leased" },
  );
}

/** One CompleteRun of a batch (see completeLeasedRunsWithoutParent). */
export interface LeasedCompletion {
  lease: { namespace: string; runId: string; leaseToken: string };
  output: JsonValue | undefined;
  completions: readonly TaskCompletion[];
  /** Tasks started and finished since the run's last write, recorded with its completion (completionsCtes). */
  started: readonly StartedTask[];
}

/**
 * CompleteRun of runs without a parent, many in one statement and one commit: each judged on its
 * own (its lease held, every completion it carries valid, every task it started and finished
 * new), each answered with its completed run (transition appended) and those tasks' records, or
 * undefined, with nothing of its own written (but started tasks, which the slow path finds as a
 * replay would), for the caller's slow path: the lease is not held, a completion is stale, a
 * started task was recorded before, or the run has a parent (whose wake-up the transaction does).
 * A run named twice is completed for the first only.
 */
export async function completeLeasedRunsWithoutParent(
  db: Kysely<Database>,
  batch: readonly LeasedCompletion[],
): Promise<Array<(RunRow & { previous_worker_id: string | null; started: TaskRow[] }) | undefined>> {
  const { rows } = await sql<RunRow & { previous_worker_id: string | null; idx: number; x_started: unknown }>`
    with req as (
      select * from unnest(
        ${batch.map((_, i) => i)}::int[], ${batch.map((b) => b.lease.namespace)}::text[], ${batch.map((b) => b.lease.runId)}::uuid[],
        ${batch.map((b) => b.lease.leaseToken)}::uuid[], ${batch.map((b) => (b.output === undefined ? null : JSON.stringify(b.output)))}::text[]
      ) as r(idx, namespace, run_id, token, output)
    ),
    locked as (
      select req.idx, runs.id, runs.namespace, runs.attempt, runs.lease_worker_id, req.output from runs
      join req on runs.namespace = req.namespace and runs.id = req.run_id and runs.lease_token = req.token
      where runs.status = 'running' and runs.parent_run_id is null
      order by runs.id
      for update of runs
    ),
    leased as (
      select distinct on (id) * from locked order by id, idx
    ),
    ${completionsCtes("leased", batch, { started: true })},
    done as (
      update runs set status = 'completed', revision = runs.revision + 1, output = valid.output::jsonb,
        end_time = now(), update_time = now(), lease_token = null, lease_worker_id = null, lease_expires_time = null, wake_time = null
      from valid
      where runs.id = valid.id
      returning runs.*, valid.lease_worker_id as previous_worker_id, valid.idx
    ),
    audit as (
      insert into run_transitions (namespace, run_id, revision, from_status, to_status, actor, reason)
      select namespace, id, revision, 'running', 'completed', 'worker:' || coalesce(previous_worker_id, 'null'), 'completed' from done
    )
    select done.*, ${startedRowsOf(sql`done.idx`)} as x_started from done
  `.execute(db);
  const byIdx = new Map(rows.map(({ idx, x_started, ...run }) => [idx, { ...run, started: startedTaskRows(x_started) }]));
  return batch.map((_, i) => byIdx.get(i));
}

/** One first sleep of a batch (see suspendOnNewSleepsIfLeased). */
export interface NewSleep {
  lease: { namespace: string; runId: string; leaseToken: string };
  sleep: { name: string; sequence: number; durationMs: number };
  completions: readonly TaskCompletion[];
  /** Tasks started and finished since the run's last write, recorded with its sleep (completionsCtes). */
  started: readonly StartedTask[];
}

/**
 * SuspendRun's common case, a sleep met for the first time, for many runs in one statement and one
 * commit: each judged on its own (its lease held, every completion it carries valid, every task
 * it started and finished new, no wait recorded at its name and sequence), each answered with its
 * run, now SLEEPING until the deadline with the lease cleared and the transition appended, and
 * those tasks' records; or undefined, with nothing of its own written (but completions and
 * started tasks, which the slow path finds as a replay would), for the caller's transaction,
 * which tells why (or handles a replay). A run named twice is suspended for the first only.
 */
export async function suspendOnNewSleepsIfLeased(
  db: Kysely<Database>,
  batch: readonly NewSleep[],
): Promise<Array<(RunRow & { previous_worker_id: string | null; started: TaskRow[] }) | undefined>> {
  const { rows } = await sql<RunRow & { previous_worker_id: string | null; idx: number; sleep_name: string; x_started: unknown }>`
    with req as (
      select * from unnest(
        ${batch.map((_, i) => i)}::int[], ${batch.map((b) => b.lease.namespace)}::text[], ${batch.map((b) => b.lease.runId)}::uuid[],
        ${batch.map((b) => b.lease.leaseToken)}::uuid[], ${batch.map((b) => b.sleep.name)}::text[], ${batch.map((b) => b.sleep.sequence)}::int[],
        ${batch.map((b) => b.sleep.durationMs)}::float8[]
      ) as r(idx, namespace, run_id, token, name, sequence, duration_ms)
    ),
    locked as (
      select req.idx, runs.id, runs.namespace, runs.attempt, runs.lease_worker_id from runs
      join req on runs.namespace = req.namespace and runs.id = req.run_id and runs.lease_token = req.token
      where runs.status = 'running'
      order by runs.id
      for update of runs
    ),
    leased as (
      select distinct on (id) * from locked order by id, idx
    ),
    ${completionsCtes("leased", batch, { started: true })},
    slept as (
      insert into run_waits (namespace, run_id, kind, key, sequence, status, duration_ms, deadline)
      select valid.namespace, valid.id, 'sleep', req.name, req.sequence, 'waiting', req.duration_ms, now() + make_interval(secs => req.duration_ms / 1000)
      from valid join req on req.idx = valid.idx
      on conflict (run_id, kind, key, sequence) do nothing
      returning run_id, key, deadline
    ),
    moved as (
      update runs set status = 'sleeping', revision = runs.revision + 1, wake_time = slept.deadline, update_time = now(),
        lease_token = null, lease_worker_id = null, lease_expires_time = null
      from valid join slept on slept.run_id = valid.id
      where runs.id = valid.id
      returning runs.*, valid.lease_worker_id as previous_worker_id, valid.idx, slept.key as sleep_name
    ),
    audit as (
      insert into run_transitions (namespace, run_id, revision, from_status, to_status, actor, reason)
      select namespace, id, revision, 'running', 'sleeping', 'worker:' || coalesce(previous_worker_id, 'null'), 'sleep ' || sleep_name from moved
    )
    select moved.*, ${startedRowsOf(sql`moved.idx`)} as x_started from moved
  `.execute(db);
  const byIdx = new Map(rows.map(({ idx, sleep_name: _name, x_started, ...run }) => [idx, { ...run, started: startedTaskRows(x_started) }]));
  return batch.map((_, i) => byIdx.get(i));
}

/**
 * Extends the leases still held; returns those, with their new expiry. Rows a write of the run
 * holds locked right now are skipped in a first pass and extended in a second: one statement
 * that waited on each such lock in turn held the rows it had already updated meanwhile, stalling
 * the writes of those runs too (a heartbeat of 100 leases under load waited 200 ms on average).
 */
export async function extendLeases(
  db: Kysely<Database>,
  namespace: string,
  leases: ReadonlyArray<{ runId: string; leaseToken: string }>,
  ttlMs: number,
): Promise<Array<{ id: string; lease_expires_time: Date }>> {
  if (leases.length === 0) return [];
  const free = await extendLeasesOnce(db, namespace, leases, ttlMs, true);
  if (free.length === leases.length) return free;
  const done = new Set(free.map((r) => r.id));
  const busy = await extendLeasesOnce(
    db,
    namespace,
    leases.filter((l) => !done.has(l.runId)),
    ttlMs,
    false,
  );
  return [...free, ...busy];
}

async function extendLeasesOnce(
  db: Kysely<Database>,
  namespace: string,
  leases: ReadonlyArray<{ runId: string; leaseToken: string }>,
  ttlMs: number,
  skipLocked: boolean,
): Promise<Array<{ id: string; lease_expires_time: Date }>> {
  const { rows } = await sql<{ id: string; lease_expires_time: Date }>`
    with held as (
      select runs.id from runs
      join unnest(${leases.map((l) => l.runId)}::uuid[], ${leases.map((l) => l.leaseToken)}::uuid[]) as held(id, token)
        on runs.id = held.id and runs.lease_token = held.token
      where runs.namespace = ${namespace} and runs.status = 'running'
      order by runs.id
      for no key update of runs ${skipLocked ? sql`skip locked` : sql``}
    )
    update runs set lease_expires_time = now() + make_interval(secs => ${ttlMs / 1000})
    from held
    where runs.id = held.id
    returning runs.id, runs.lease_expires_time
  `.execute(db);
  return rows;
}

/** Of the given leases, the run ids whose lease is still held. */
export async function heldLeases(db: Kysely<Database>, leases: ReadonlyArray<{ runId: string; leaseToken: string }>): Promise<Set<string>> {
  if (leases.length === 0) return new Set();
  const { rows } = await sql<{ id: string }>`
    select runs.id from runs
    join unnest(${leases.map((l) => l.runId)}::uuid[], ${leases.map((l) => l.leaseToken)}::uuid[]) as held(id, token)
      on runs.id = held.id and runs.lease_token = held.token
    where runs.status = 'running'
  `.execute(db);
  return new Set(rows.map((r) => r.id));
}
