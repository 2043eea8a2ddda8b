import { type Kysely, type RawBuilder, sql, type Transaction, type Updateable } from "kysely";
import type { Database } from "./database.js";
import type { TaskRow, TasksTable, TaskStatus } from "./tasks.table.js";
import { type JsonValue, jsonbOrNull } from "./json.js";
import { uuidV7 } from "./uuid-v7.js";
import { rowFromJson } from "./history-json.js";

type Trx = Transaction<Database>;

/** The task record at (run, address, sequence), locked for the caller's decision. */
export async function findTaskForUpdate(trx: Trx, runId: string, address: string, sequence: number): Promise<TaskRow | undefined> {
  return trx
    .selectFrom("tasks")
    .selectAll()
    .where("run_id", "=", runId)
    .where("address", "=", address)
    .where("sequence", "=", sequence)
    .forUpdate()
    .executeTakeFirst();
}

export async function findTaskById(db: Kysely<Database>, runId: string, taskId: string): Promise<TaskRow | undefined> {
  return db.selectFrom("tasks").selectAll().where("run_id", "=", runId).where("id", "=", taskId).executeTakeFirst();
}

export async function insertTask(
  trx: Trx,
  task: {
    namespace: string;
    runId: string;
    name: string;
    address: string;
    sequence: number;
    input: JsonValue | undefined;
    maxAttempts: number;
    workflowAttempt: number;
    attemptId?: string | undefined;
  },
): Promise<TaskRow> {
  return trx
    .insertInto("tasks")
    .values({
      namespace: task.namespace,
      id: uuidV7(),
      run_id: task.runId,
      name: task.name,
      address: task.address,
      sequence: task.sequence,
      status: "running",
      attempts: 1,
      max_attempts: task.maxAttempts,
      input: jsonbOrNull(task.input),
      workflow_attempt: task.workflowAttempt,
      attempt_id: task.attemptId ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** Whose lease a task write is made under: the write lands only while the run is RUNNING with this token. */
export interface TaskLease {
  namespace: string;
  runId: string;
  leaseToken: string;
}

/** A carried completion `c` matches its task row: the run's, at that attempt, RUNNING or already COMPLETED by it. */
function completionMatches(runId: string | RawBuilder<unknown>) {
  return sql`tasks.id = c.id and tasks.run_id = ${runId} and tasks.attempts = c.attempt and tasks.status in ('running', 'completed')`;
}

/**
 * A task started and finished within one write (a session's pipelined StartTask that a later
 * write of the run took over, with the result that write carries): inserted as its completed
 * first attempt, beside the write's own changes.
 */
export interface StartedTask {
  name: string;
  address: string;
  sequence: number;
  input: JsonValue | undefined;
  maxAttempts: number;
  attemptId: string;
  output: JsonValue | undefined;
}

/**
 * The completions that calls carry, as CTEs for the call's statement: `completions` (idx, id,
 * attempt, output; idx is the call's index in the batch), `valid` (the rows of the CTE `source`,
 * one per call with its idx and run id, whose completions all match their tasks) and `completed`
 * (applies the valid calls' completions). The statement then writes only for `valid`: a stale
 * completion changes nothing of its call, and the caller's slow path says why.
 *
 * With `started`, the calls' started tasks too (StartedTask; `source` then has the run's
 * namespace and attempt): `started` inserts them, completed, for the calls whose completions
 * match, and `valid` keeps only the calls all of whose started tasks were inserted (none was
 * recorded before at its address and sequence). A call left out may then have some of its
 * started tasks written; the slow path finds them as a replay would.
 */
export function completionsCtes(
  source: "lease" | "leased" | "run",
  calls: ReadonlyArray<{ completions: readonly TaskCompletion[]; started?: readonly StartedTask[] }>,
  options: { started?: boolean } = {},
): RawBuilder<unknown> {
  const completions = calls.flatMap((call, idx) => call.completions.map((c) => ({ idx, ...c })));
  const src = sql.raw(source);
  const checked = sql.raw(options.started ? "checked" : "valid");
  const json = (value: JsonValue | undefined) => (value === undefined ? null : JSON.stringify(value));
  const matching = sql`
    completions as (
      select * from unnest(
        ${completions.map((c) => c.idx)}::int[], ${completions.map((c) => c.taskId)}::uuid[], ${completions.map((c) => c.attempt)}::int[],
        ${completions.map((c) => json(c.output))}::text[]
      ) as c(idx, id, attempt, output)
    ),
    ${checked} as (
      select ${src}.* from ${src}
      where (select count(*) from completions c where c.idx = ${src}.idx) =
        (select count(*) from tasks join completions c on c.idx = ${src}.idx and ${completionMatches(sql`${src}.id`)})
    ),`;
  const completed = sql`
    completed as (
      update tasks set status = 'completed', output = c.output::jsonb, update_time = now()
      from completions c join valid on valid.idx = c.idx
      where ${completionMatches(sql`valid.id`)}
      returning tasks.id
    )`;
  if (!options.started) return sql`${matching}${completed}`;
  const started = calls.flatMap((call, idx) => (call.started ?? []).map((s) => ({ idx, id: uuidV7(), ...s })));
  return sql`${matching}
    started_req as (
      select * from unnest(
        ${started.map((s) => s.idx)}::int[], ${started.map((s) => s.id)}::uuid[], ${started.map((s) => s.name)}::text[],
        ${started.map((s) => s.address)}::text[], ${started.map((s) => s.sequence)}::int[], ${started.map((s) => json(s.input))}::text[],
        ${started.map((s) => s.maxAttempts)}::int[], ${started.map((s) => s.attemptId)}::text[], ${started.map((s) => json(s.output))}::text[]
      ) as s(idx, id, name, address, sequence, input, max_attempts, attempt_id, output)
    ),
    started as (
      insert into tasks (namespace, id, run_id, name, address, sequence, status, attempts, max_attempts, input, output, workflow_attempt, attempt_id)
      select checked.namespace, s.id, checked.id, s.name, s.address, s.sequence, 'completed', 1, s.max_attempts, s.input::jsonb, s.output::jsonb,
        checked.attempt, s.attempt_id
      from started_req s join checked on checked.idx = s.idx
      on conflict (run_id, address, sequence) do nothing
      returning tasks.*
    ),
    valid as (
      select checked.* from checked
      where (select count(*) from started_req s where s.idx = checked.idx) =
        (select count(*) from started join started_req s on s.id = started.id where s.idx = checked.idx)
    ),${completed}`;
}

/** The started tasks a call of the batch inserted (completionsCtes with started), as to_jsonb rows. */
export function startedRowsOf(idx: RawBuilder<unknown>): RawBuilder<unknown> {
  return sql`(select coalesce(jsonb_agg(to_jsonb(started)), '[]'::jsonb)
    from started join started_req s on s.id = started.id where s.idx = ${idx})`;
}

/** StartedTask rows as startedRowsOf gives them. */
export function startedTaskRows(json: unknown): TaskRow[] {
  return ((json ?? []) as Array<Record<string, unknown>>).map((r) => rowFromJson<TaskRow>(r));
}

/** One StartTask of a batch (see insertFirstAttemptsIfLeased). */
export interface FirstAttempt {
  lease: TaskLease;
  task: { name: string; address: string; sequence: number; input: JsonValue | undefined; maxAttempts: number; attemptId?: string | undefined };
  completions: readonly TaskCompletion[];
  /** Tasks started and finished before this one, recorded with it (completionsCtes). */
  started: readonly StartedTask[];
}

/**
 * The first attempt of a task, for many runs' StartTask calls in one statement and one commit,
 * each judged on its own: inserted only while the caller holds the run's lease (locked FOR SHARE,
 * in id order, so a concurrent pause or cancel waits for it), every completion it carries is
 * valid (and then recorded), every task it started and finished is new (and then recorded), and
 * no record exists at its address and sequence. Undefined for a call whose task was not
 * inserted: nothing of it was written (but for completions and started tasks, which a retry or
 * replay finds as written), and the caller's transaction says why or handles the retry or replay.
 */
export async function insertFirstAttemptsIfLeased(
  db: Kysely<Database>,
  batch: readonly FirstAttempt[],
): Promise<Array<{ task: TaskRow; started: TaskRow[] } | undefined>> {
  // The started tasks' ids first: they started before the call's own task, and ids list in creation order.
  const withStarted = completionsCtes("lease", batch, { started: true });
  const ids = batch.map(() => uuidV7());
  const { rows } = await sql<TaskRow & { x_started: unknown }>`
    with req as (
      select * from unnest(
        ${batch.map((_, i) => i)}::int[], ${batch.map((b) => b.lease.namespace)}::text[], ${batch.map((b) => b.lease.runId)}::uuid[],
        ${batch.map((b) => b.lease.leaseToken)}::uuid[], ${ids}::uuid[], ${batch.map((b) => b.task.name)}::text[],
        ${batch.map((b) => b.task.address)}::text[], ${batch.map((b) => b.task.sequence)}::int[],
        ${batch.map((b) => (b.task.input === undefined ? null : JSON.stringify(b.task.input)))}::text[],
        ${batch.map((b) => b.task.maxAttempts)}::int[], ${batch.map((b) => b.task.attemptId ?? null)}::text[]
      ) as r(idx, namespace, run_id, token, task_id, name, address, sequence, input, max_attempts, attempt_id)
    ),
    lease as (
      select req.idx, runs.id, runs.namespace, runs.attempt from runs
      join req on runs.namespace = req.namespace and runs.id = req.run_id and runs.lease_token = req.token
      where runs.status = 'running'
      order by runs.id
      for share of runs
    ),
    ${withStarted},
    inserted as (
      insert into tasks (namespace, id, run_id, name, address, sequence, status, attempts, max_attempts, input, workflow_attempt, attempt_id)
      select req.namespace, req.task_id, valid.id, req.name, req.address, req.sequence, 'running', 1, req.max_attempts, req.input::jsonb, valid.attempt, req.attempt_id
      from req join valid on valid.idx = req.idx
      on conflict (run_id, address, sequence) do nothing
      returning *
    )
    select inserted.*, ${startedRowsOf(sql`req.idx`)} as x_started from inserted join req on req.task_id = inserted.id
  `.execute(db);
  const byId = new Map(rows.map(({ x_started, ...task }) => [task.id, { task, started: startedTaskRows(x_started) }]));
  return ids.map((id) => byId.get(id));
}

/**
 * updateTask fused with the fence, in one statement: applies only while the caller holds the
 * run's lease and the task is still at the attempt it names. Undefined: nothing was written
 * (lease lost, or a stale attempt); the caller reads what happened.
 */
export async function updateTaskIfLeased(
  db: Kysely<Database>,
  lease: TaskLease,
  guard: { id: string; status: TaskStatus; attempts: number },
  changes: Omit<Updateable<TasksTable>, "update_time">,
): Promise<TaskRow | undefined> {
  return db
    .with("lease", (q) =>
      q
        .selectFrom("runs")
        .select("id")
        .where("namespace", "=", lease.namespace)
        .where("id", "=", lease.runId)
        .where("lease_token", "=", lease.leaseToken)
        .where("status", "=", "running")
        .forShare(),
    )
    .updateTable("tasks")
    .set({ ...changes, update_time: sql<Date>`now()` })
    .where("id", "=", guard.id)
    .where("run_id", "=", lease.runId)
    .where("status", "=", guard.status)
    .where("attempts", "=", guard.attempts)
    .where((eb) => eb.exists(eb.selectFrom("lease").select("lease.id")))
    .returningAll()
    .executeTakeFirst();
}

/** A task attempt's success, reported with a later write of the run (TaskCompletion). */
export interface TaskCompletion {
  taskId: string;
  attempt: number;
  output: JsonValue | undefined;
}

/**
 * Records completions in the caller's transaction (which holds the run's lease), in one
 * statement, when every one matches its task (idempotent per attempt: one already COMPLETED by
 * that attempt is rewritten with the same output). Returns the ids of those that did not match
 * (a stale attempt, or not a task of this run); then nothing was recorded and the caller fails
 * the whole call.
 */
export async function recordCompletions(trx: Trx, runId: string, completions: readonly TaskCompletion[]): Promise<string[]> {
  if (completions.length === 0) return [];
  const { rows } = await sql<{ id: string }>`
    with run as (select 0 as idx, ${runId}::uuid as id),
    ${completionsCtes("run", [{ completions }])}
    select c.id from completions c where not exists (select 1 from tasks where ${completionMatches(runId)})
  `.execute(trx);
  return rows.map((r) => r.id);
}

/**
 * Guarded update of a task record: applies only while its status and attempt count are still
 * what the caller saw. Undefined: a stale attempt (another attempt started since), nothing written.
 */
export async function updateTask(
  trx: Trx,
  guard: { id: string; status: TaskStatus; attempts: number },
  changes: Omit<Updateable<TasksTable>, "update_time">,
): Promise<TaskRow | undefined> {
  return trx
    .updateTable("tasks")
    .set({ ...changes, update_time: sql<Date>`now()` })
    .where("id", "=", guard.id)
    .where("status", "=", guard.status)
    .where("attempts", "=", guard.attempts)
    .returningAll()
    .executeTakeFirst();
}

export async function listTasks(db: Kysely<Database>, runIds: readonly string[]): Promise<TaskRow[]> {
  if (runIds.length === 0) return [];
  return db.selectFrom("tasks").selectAll().where("run_id", "in", runIds).orderBy("id").execute();
}

/**
 * Attempts cut short by a deliberate stop (a pause, a worker releasing the run) do not count
 * against the task's budget: the next StartTask is the same attempt number again. Attempts lost
 * to a worker dying (lease expiry) still count (docs/semantics.md, Tasks and retries).
 */
export async function uncountInterruptedAttempts(trx: Trx, runId: string): Promise<void> {
  await trx
    .updateTable("tasks")
    .set({
      status: "awaiting_retry",
      attempts: sql<number>`attempts - 1`,
      next_attempt_time: sql<Date>`now()`,
      attempt_id: null,
      update_time: sql<Date>`now()`,
    })
    .where("run_id", "=", runId)
    .where("status", "=", "running")
    .execute();
}

/** The task whose current attempt a StartTask with this attempt id started, if recorded. */
export async function findTaskByAttemptId(
  db: Kysely<Database>,
  namespace: string,
  runId: string,
  attemptId: string,
): Promise<Pick<TaskRow, "id" | "attempts"> | undefined> {
  return db
    .selectFrom("tasks")
    .select(["id", "attempts"])
    .where("namespace", "=", namespace)
    .where("run_id", "=", runId)
    .where("attempt_id", "=", attemptId)
    .executeTakeFirst();
}
