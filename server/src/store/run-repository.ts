import { type Expression, type ExpressionBuilder, type Kysely, type SqlBool, type Transaction, sql, type Updateable } from "kysely";
import { canTransition, type InitialStatus, type RunStatus } from "../domain/run-status.js";
import type { Database } from "./database.js";
import type { JsonValue } from "./json.js";
import type { RunTransitionRow } from "./run-transitions.table.js";
import type { NewRunRow, RunRow, RunsTable } from "./runs.table.js";
import { uuidV7Floor } from "./uuid-v7.js";

type Reader = Kysely<Database>;
type Trx = Transaction<Database>;

export interface RunReferenceLookup {
  workflowName: string;
  workflowVersionId: string;
  referenceId: string;
}

export interface TransitionAudit {
  actor: string;
  reason?: string | null | undefined;
}

/** A new run's row: created SCHEDULED or QUEUED, as the state machine begins. */
export type NewRun = Omit<NewRunRow, "revision" | "status"> & { status: InitialStatus };

/**
 * The status and wake time of a new run whose start is due later (`delayMs` from now, or at
 * `startTime`), decided in the insert on the database clock, the one every replica's timers
 * share: SCHEDULED with that wake time while it lies ahead, QUEUED at once when it has passed.
 */
export function dueStart(due: { delayMs: number } | { startTime: Date }): Pick<NewRun, "status" | "wake_time"> {
  const wakeTime = "delayMs" in due ? sql<Date>`now() + make_interval(secs => ${due.delayMs / 1000})` : sql<Date>`${due.startTime.toISOString()}::timestamptz`;
  return {
    status: sql<"scheduled" | "queued">`case when ${wakeTime} > now() then 'scheduled' else 'queued' end` as never,
    wake_time: sql<Date | null>`case when ${wakeTime} > now() then ${wakeTime} else null end` as never,
  };
}

/** Inserts a new run and its creation transition (revision 1). */
export async function insertRun(trx: Trx, row: NewRun, audit: TransitionAudit): Promise<RunRow> {
  const run = await trx
    .insertInto("runs")
    .values({ ...row, revision: 1 })
    .returningAll()
    .executeTakeFirstOrThrow();
  await trx
    .insertInto("run_transitions")
    .values({
      namespace: run.namespace,
      run_id: run.id,
      revision: 1,
      from_status: null,
      to_status: run.status,
      actor: audit.actor,
      reason: audit.reason ?? null,
    })
    .execute();
  return run;
}

/**
 * insertRun in one statement that inserts nothing when any unique key is taken (the start
 * request id, the reference id): undefined then, and the caller looks up the holder. With
 * `lease`, the run is inserted already leased to that worker (revision 2, RUNNING, a fresh
 * token, the expiry on the database clock) with both transitions, created and leased, as if a
 * claim had followed at once.
 */
export async function insertRunUnlessTaken(
  db: Reader,
  row: NewRun,
  audit: TransitionAudit,
  lease?: { workerId: string; ttlMs: number },
): Promise<RunRow | undefined> {
  // Written as SQL rather than with the query builder: this is the statement of every start, and
  // building it (two CTEs, a union) took more of the server's CPU than the rest of the start.
  const values: Record<string, unknown> = { ...row, revision: lease ? 2 : 1 };
  if (lease) {
    values.status = "running";
    values.lease_token = sql`gen_random_uuid()`;
    values.lease_worker_id = lease.workerId;
    values.lease_expires_time = sql`now() + make_interval(secs => ${lease.ttlMs / 1000})`;
    values.start_time = sql`now()`;
  }
  const columns = Object.keys(values);
  // Created as the row says; or created QUEUED, then leased.
  const leased = lease ? sql`union all select namespace, id, 2, 'queued'::text, 'running'::text, ${`worker:${lease.workerId}`}, 'leased' from inserted` : sql``;
  const { rows } = await sql<RunRow>`
    with inserted as (
      insert into runs (${sql.join(columns.map((c) => sql.ref(c)))})
      values (${sql.join(columns.map((c) => values[c]))})
      on conflict do nothing
      returning *
    ),
    audit as (
      insert into run_transitions (namespace, run_id, revision, from_status, to_status, actor, reason)
      select namespace, id, 1, null::text, ${lease ? sql`'queued'::text` : sql`status::text`}, ${audit.actor}, ${audit.reason ?? null} from inserted
      ${leased}
    )
    select * from inserted
  `.execute(db);
  return rows[0];
}

/** One start of a batch (see insertRunsUnlessTaken): a run that is QUEUED at once. */
export interface QueuedRunStart {
  row: Omit<NewRunRow, "revision" | "status" | "wake_time" | "input" | "retry_policy"> & { id: string };
  input: JsonValue | undefined;
  retryPolicy: JsonValue | undefined;
  tags?: Readonly<Record<string, string>> | undefined;
  audit: { actor: string; reason: string | null };
}

/**
 * insertRunUnlessTaken for many starts in one statement and one commit: each run that takes no
 * unique key already held (nor one an earlier start of the batch takes) is inserted QUEUED with
 * its creation transition; the others get undefined and take the caller's slow path.
 */
export async function insertRunsUnlessTaken(db: Reader, batch: readonly QueuedRunStart[]): Promise<Array<RunRow | undefined>> {
  // As jsonbOrNull: undefined is SQL NULL, a JSON null is stored as JSON.
  const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
  const { rows } = await sql<RunRow>`
    with req as (
      select * from unnest(
        ${batch.map((_, i) => i)}::int[], ${batch.map((b) => b.row.namespace ?? "default")}::text[], ${batch.map((b) => b.row.id)}::uuid[],
        ${batch.map((b) => b.row.workflow_name)}::text[], ${batch.map((b) => b.row.workflow_version_id)}::text[], ${batch.map((b) => json(b.input))}::text[],
        ${batch.map((b) => b.row.shard ?? "")}::text[], ${batch.map((b) => b.row.reference_id ?? null)}::text[], ${batch.map((b) => b.row.parent_run_id ?? null)}::uuid[],
        ${batch.map((b) => json(b.retryPolicy))}::text[], ${batch.map((b) => b.row.start_request_id ?? null)}::text[],
        ${batch.map((b) => b.row.start_request_hash ?? null)}::text[], ${batch.map((b) => b.audit.actor)}::text[], ${batch.map((b) => b.audit.reason)}::text[],
        ${batch.map((b) => JSON.stringify(b.tags ?? {}))}::text[],
        ${batch.map((b) => b.row.traceparent ?? null)}::text[], ${batch.map((b) => b.row.tracestate ?? null)}::text[]
      ) as r(idx, namespace, id, workflow_name, workflow_version_id, input, shard, reference_id, parent_run_id, retry_policy, start_request_id, start_request_hash, actor, reason, tags, traceparent, tracestate)
    ),
    inserted as (
      insert into runs (namespace, id, workflow_name, workflow_version_id, status, revision, input, shard, reference_id, parent_run_id, retry_policy, start_request_id, start_request_hash, tags, traceparent, tracestate)
      select namespace, id, workflow_name, workflow_version_id, 'queued', 1, input::jsonb, shard, reference_id, parent_run_id, retry_policy::jsonb, start_request_id, start_request_hash, tags::jsonb, traceparent, tracestate
      from req order by idx
      on conflict do nothing
      returning *
    ),
    audit as (
      insert into run_transitions (namespace, run_id, revision, from_status, to_status, actor, reason)
      select inserted.namespace, inserted.id, 1, null, 'queued', req.actor, req.reason from inserted join req on req.id = inserted.id
    )
    select * from inserted
  `.execute(db);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return batch.map((b) => byId.get(b.row.id));
}

export async function findRunById(db: Reader, namespace: string, id: string): Promise<RunRow | undefined> {
  return db.selectFrom("runs").selectAll().where("namespace", "=", namespace).where("id", "=", id).executeTakeFirst();
}

/** Runs by id, for many readers at once (each keeps its namespace: ids are unique across them). */
export async function findRunsByIds(db: Reader, keys: ReadonlyArray<{ namespace: string; id: string }>): Promise<Array<RunRow | undefined>> {
  const { rows } = await sql<RunRow>`select * from runs where id = any(${keys.map((k) => k.id)}::uuid[])`.execute(db);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return keys.map((k) => {
    const run = byId.get(k.id);
    return run && run.namespace === k.namespace ? run : undefined;
  });
}

/**
 * Runs of a namespace, locked for the caller's transaction in id order, so that two writers
 * locking overlapping sets cannot deadlock. `ids` must be sorted and without repeats.
 */
export async function lockRunsInIdOrder(trx: Trx, namespace: string, ids: string[]): Promise<RunRow[]> {
  return trx.selectFrom("runs").selectAll().where("namespace", "=", namespace).where("id", "in", ids).orderBy("id").forUpdate().execute();
}

/** A run, locked for the caller's transaction (any namespace: ids are unique). */
export async function lockRunById(trx: Trx, id: string): Promise<RunRow | undefined> {
  return trx.selectFrom("runs").selectAll().where("id", "=", id).forUpdate().executeTakeFirst();
}

/** The current status of each of these runs (any namespace: ids are unique). */
export async function runStatuses(db: Reader, ids: readonly string[]): Promise<Array<{ id: string; status: RunStatus }>> {
  if (ids.length === 0) return [];
  const { rows } = await sql<{ id: string; status: RunStatus }>`select id, status from runs where id = any(${ids as string[]}::uuid[])`.execute(db);
  return rows;
}

export async function findRunByReference(db: Reader, namespace: string, ref: RunReferenceLookup): Promise<RunRow | undefined> {
  return db
    .selectFrom("runs")
    .selectAll()
    .where("namespace", "=", namespace)
    .where("workflow_name", "=", ref.workflowName)
    .where("workflow_version_id", "=", ref.workflowVersionId)
    .where("reference_id", "=", ref.referenceId)
    .executeTakeFirst();
}

export async function findRunByStartRequestId(db: Reader, namespace: string, requestId: string): Promise<RunRow | undefined> {
  return db.selectFrom("runs").selectAll().where("namespace", "=", namespace).where("start_request_id", "=", requestId).executeTakeFirst();
}

/**
 * Which runs a list, a count or a watch covers: every set field must hold. The one filter of
 * ListRuns, CountRuns and WatchRuns, so the three agree on what matches.
 */
export interface RunFilter {
  workflowName?: string | undefined;
  workflowVersionId?: string | undefined;
  statuses?: readonly RunStatus[] | undefined;
  shard?: string | undefined;
  parentRunId?: string | undefined;
  referenceId?: string | undefined;
  runIds?: readonly string[] | undefined;
  scheduleId?: string | undefined;
  /** Created at or after. */
  createTimeFrom?: Date | undefined;
  /** Created before. */
  createTimeTo?: Date | undefined;
  /** Reruns of this run. */
  rerunOf?: string | undefined;
  /** Carrying every one of these tags (the GIN index on tags serves `@>`). */
  tags?: Readonly<Record<string, string>> | undefined;
}

function matching(eb: ExpressionBuilder<Database, "runs">, namespace: string, f: RunFilter): Expression<SqlBool> {
  const where: Array<Expression<SqlBool>> = [eb("namespace", "=", namespace)];
  if (f.workflowName) where.push(eb("workflow_name", "=", f.workflowName));
  if (f.workflowVersionId) where.push(eb("workflow_version_id", "=", f.workflowVersionId));
  if (f.statuses && f.statuses.length > 0) where.push(eb("status", "in", f.statuses));
  if (f.shard !== undefined) where.push(eb("shard", "=", f.shard));
  if (f.parentRunId) where.push(eb("parent_run_id", "=", f.parentRunId));
  if (f.referenceId) where.push(eb("reference_id", "=", f.referenceId));
  if (f.runIds && f.runIds.length > 0) where.push(eb("id", "in", f.runIds));
  if (f.scheduleId) where.push(eb("schedule_id", "=", f.scheduleId));
  if (f.rerunOf) where.push(eb("rerun_of", "=", f.rerunOf));
  if (f.tags && Object.keys(f.tags).length > 0) where.push(sql<SqlBool>`runs.tags @> ${JSON.stringify(f.tags)}::jsonb`);
  // create_time decides; the id bound (UUIDv7 ids carry their creation time, on the server's
  // clock rather than the database's, hence the slack) lets the primary key find the range
  // without an index of its own on create_time, which every insert and transition would pay for.
  if (f.createTimeFrom) {
    where.push(eb("create_time", ">=", f.createTimeFrom));
    where.push(eb("id", ">=", uuidV7Floor(f.createTimeFrom.getTime() - idClockSlackMs)));
  }
  if (f.createTimeTo) {
    where.push(eb("create_time", "<", f.createTimeTo));
    where.push(eb("id", "<", uuidV7Floor(f.createTimeTo.getTime() + idClockSlackMs)));
  }
  return eb.and(where);
}

// How far a server's clock (in run ids) may stray from the database's (in create_time).
const idClockSlackMs = 5 * 60_000;

/**
 * Runs matching the filter, ordered by id. Ids are UUIDv7, so id order is creation order and a
 * page token is just the last id seen.
 */
export async function listRuns(
  db: Reader,
  namespace: string,
  filter: RunFilter,
  page: { limit: number; afterId?: string | undefined; order: "newest_first" | "oldest_first" },
): Promise<RunRow[]> {
  let q = db
    .selectFrom("runs")
    .selectAll()
    .where((eb) => matching(eb, namespace, filter));
  const newestFirst = page.order === "newest_first";
  if (page.afterId) q = q.where("id", newestFirst ? "<" : ">", page.afterId);
  return q
    .orderBy("id", newestFirst ? "desc" : "asc")
    .limit(page.limit)
    .execute();
}

/**
 * The next runs matching the filter after `afterId` in id order, locked for the caller's
 * transaction (in id order, as lockRunsInIdOrder). A run a concurrent writer changes is read
 * as that writer committed it, and left out when it no longer matches: fewer rows than `limit`
 * does not mean the end, none does.
 */
export async function lockMatchingRunsAfter(trx: Trx, namespace: string, filter: RunFilter, afterId: string | undefined, limit: number): Promise<RunRow[]> {
  let q = trx
    .selectFrom("runs")
    .selectAll()
    .where((eb) => matching(eb, namespace, filter));
  if (afterId) q = q.where("id", ">", afterId);
  return q.orderBy("id", "asc").limit(limit).forUpdate().execute();
}

/** How many runs match the filter, per status (statuses without runs left out). */
export async function countRuns(db: Reader, namespace: string, filter: RunFilter): Promise<Array<{ status: RunStatus; count: number }>> {
  const rows = await db
    .selectFrom("runs")
    .select((eb) => ["status", eb.fn.countAll<string>().as("count")])
    .where((eb) => matching(eb, namespace, filter))
    .groupBy("status")
    .execute();
  return rows.map((r) => ({ status: r.status, count: Number(r.count) }));
}

/** Which of these runs (a watcher's changed ids) match the filter, as they are now. */
export async function findMatchingRuns(db: Reader, namespace: string, ids: readonly string[], filter: RunFilter): Promise<RunRow[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom("runs")
    .selectAll()
    .where((eb) => matching(eb, namespace, filter))
    .where("id", "in", ids)
    .orderBy("id")
    .execute();
}

export interface RunGuard {
  namespace: string;
  id: string;
  status: RunStatus;
  revision: number;
}

/**
 * Moves one run, as the caller read it, to `to`: a guarded update (status and revision must still
 * be what the caller read) that bumps the revision and appends the transition, in the caller's
 * transaction. Returns undefined when the guard did not match: someone else changed the run since
 * it was read, and nothing was written. Not the only statement that moves runs: the set-based
 * ones (claims, batched starts, completions and first sleeps, timers, lease expiry, cascading
 * cancels) write their own, and domain/run-transition-statements.ts lists them all beside the
 * table they keep to. A move the table forbids is a bug in the caller: it throws, writing nothing.
 */
export async function transitionRun(
  trx: Trx,
  guard: RunGuard,
  to: RunStatus,
  changes: Omit<Updateable<RunsTable>, "status" | "revision" | "update_time">,
  audit: TransitionAudit,
): Promise<RunRow | undefined> {
  if (!canTransition(guard.status, to)) throw new Error(`run ${guard.id}: ${guard.status} → ${to} is not a transition of the state machine`);
  // The update and its history row in one statement: one round trip per transition.
  return trx
    .with("moved", (q) =>
      q
        .updateTable("runs")
        .set({ ...changes, status: to, revision: guard.revision + 1, update_time: sql<Date>`now()` })
        .where("namespace", "=", guard.namespace)
        .where("id", "=", guard.id)
        .where("status", "=", guard.status)
        .where("revision", "=", guard.revision)
        .returningAll(),
    )
    .with("audit", (q) =>
      q
        .insertInto("run_transitions")
        .columns(["namespace", "run_id", "revision", "from_status", "to_status", "actor", "reason"])
        .expression((eb) =>
          eb
            .selectFrom("moved")
            .select((sb) => [
              "moved.namespace",
              "moved.id",
              "moved.revision",
              sb.val(guard.status).as("from_status"),
              "moved.status",
              sb.val(audit.actor).as("actor"),
              sb.val(audit.reason ?? null).as("reason"),
            ]),
        ),
    )
    .selectFrom("moved")
    .selectAll()
    .executeTakeFirst() as Promise<RunRow | undefined>;
}

/**
 * transitionRun for many runs of a namespace in one statement, all to `to` with the same changes
 * and audit: each row is moved only when its status and revision are still what the caller read
 * (a run changed since is left out of the answer, as transitionRun answers undefined). For batch
 * operations' pages. A move the table forbids throws before anything is written.
 */
export async function transitionRunsGuarded(
  trx: Trx,
  namespace: string,
  guards: readonly RunGuard[],
  to: RunStatus,
  changes: { clearLease: boolean; clearWake: boolean; end: boolean; statusReason: string | null },
  audit: TransitionAudit,
): Promise<RunRow[]> {
  if (guards.length === 0) return [];
  for (const g of guards) {
    if (!canTransition(g.status, to)) throw new Error(`run ${g.id}: ${g.status} → ${to} is not a transition of the state machine`);
  }
  const lease = changes.clearLease ? sql`, lease_token = null, lease_worker_id = null, lease_expires_time = null` : sql``;
  const wake = changes.clearWake ? sql`, wake_time = null` : sql``;
  const end = changes.end ? sql`, end_time = now()` : sql``;
  const { rows } = await sql<RunRow & { from_status: RunStatus }>`
    with req as (
      select * from unnest(${guards.map((g) => g.id)}::uuid[], ${guards.map((g) => g.status)}::text[], ${guards.map((g) => g.revision)}::int[])
        as r(id, status, revision)
    ),
    moved as (
      update runs set status = ${to}, revision = runs.revision + 1, update_time = now(), status_reason = ${changes.statusReason}
        ${lease} ${wake} ${end}
      from req
      where runs.namespace = ${namespace} and runs.id = req.id and runs.status = req.status and runs.revision = req.revision
      returning runs.*, req.status as from_status
    ),
    audit as (
      insert into run_transitions (namespace, run_id, revision, from_status, to_status, actor, reason)
      select namespace, id, revision, from_status, status, ${audit.actor}, ${audit.reason ?? null} from moved
    )
    select * from moved
  `.execute(trx);
  return rows.map(({ from_status: _from, ...run }) => run);
}

/** Which of these runs have children (a cancel of those cascades, one run at a time). */
export async function runsWithChildren(trx: Trx, namespace: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await sql<{ id: string }>`
    select distinct parent_run_id as id from runs where namespace = ${namespace} and parent_run_id = any(${ids as string[]}::uuid[])
  `.execute(trx);
  return new Set(rows.map((r) => r.id));
}

/**
 * Cancels every non-terminal descendant of a run, as one set-based guarded update (rows already
 * terminal are left alone), appending a transition for each. Returns the cancelled runs.
 */
export async function cancelDescendants(
  trx: Trx,
  namespace: string,
  rootId: string,
  audit: TransitionAudit,
): Promise<Array<{ id: string; revision: number; from_status: RunStatus }>> {
  const result = await sql<{ id: string; revision: number; from_status: RunStatus }>`
    with recursive descendants(id) as (
      select id from runs where namespace = ${namespace} and parent_run_id = ${rootId}
      union
      select r.id from runs r join descendants d on r.parent_run_id = d.id where r.namespace = ${namespace}
    ),
    locked as (
      select r.id, r.status from runs r join descendants d on r.id = d.id
      where r.status not in ('completed', 'failed', 'cancelled')
      for update of r
    )
    update runs set status = 'cancelled', revision = runs.revision + 1, update_time = now(),
      end_time = now(), wake_time = null, lease_token = null, lease_worker_id = null,
      lease_expires_time = null, status_reason = ${audit.reason ?? null}
    from locked
    where runs.id = locked.id and runs.status = locked.status
    returning runs.id, runs.revision, locked.status as from_status
  `.execute(trx);
  const rows = result.rows;
  if (rows.length > 0) {
    await trx
      .insertInto("run_transitions")
      .values(
        rows.map((r) => ({
          namespace,
          run_id: r.id,
          revision: r.revision,
          from_status: r.from_status,
          to_status: "cancelled" as const,
          actor: audit.actor,
          reason: audit.reason ?? null,
        })),
      )
      .execute();
  }
  return rows;
}

export async function listRunTransitions(
  db: Reader,
  namespace: string,
  runId: string,
  page: { limit: number; afterRevision?: number | undefined },
): Promise<RunTransitionRow[]> {
  let q = db.selectFrom("run_transitions").selectAll().where("namespace", "=", namespace).where("run_id", "=", runId);
  if (page.afterRevision !== undefined) q = q.where("revision", ">", page.afterRevision);
  return q.orderBy("revision", "asc").limit(page.limit).execute();
}
