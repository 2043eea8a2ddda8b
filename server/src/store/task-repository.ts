import { type Kysely, type RawBuilder, sql, type Transaction, type Updateable } from "kysely";
import type { Database } from "./database.js";
import type { TaskRow, TasksTable, TaskStatus } from "./tasks.table.js";
import { type JsonValue, jsonbOrNull } from "./json.js";
import { uuidV7 } from "./uuid-v7.js";

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
 * The completions that calls carry, as CTEs for the call's statement: `completions` (idx, id,
 * attempt, output; idx is the call's index in the batch), `valid` (the rows of the CTE `source`,
 * one per call with its idx and run id, whose completions all match their tasks) and `completed`
 * (applies the valid calls' completions). The statement then writes only for `valid`: a stale
 * completion changes nothing of its call, and the caller's slow path says why.
 */
export function completionsCtes(source: "lease" | "leased" | "run", calls: ReadonlyArray<{ completions: readonly TaskCompletion[] }>): RawBuilder<unknown> {
  const completions = calls.flatMap((call, idx) => call.completions.map((c) => ({ idx, ...c })));
  const src = sql.raw(source);
  return sql`
    completions as (
      select * from unnest(
        ${completions.map((c) => c.idx)}::int[], ${completions.map((c) => c.taskId)}::uuid[], ${completions.map((c) => c.attempt)}::int[],
        ${completions.map((c) => (c.output === undefined ? null : JSON.stringify(c.output)))}::text[]
      ) as c(idx, id, attempt, output)
    ),
    valid as (
      select ${src}.* from ${src}
      where (select count(*) from completions c where c.idx = ${src}.idx) =
        (select count(*) from tasks join completions c on c.idx = ${src}.idx and ${completionMatches(sql`${src}.id`)})
    ),
    completed as (
      update tasks set status = 'completed', output = c.output::jsonb, update_time = now()
      from completions c join valid on valid.idx = c.idx
      where ${completionMatches(sql`valid.id`)}
      returning tasks.id
    )`;
}

/** One StartTask of a batch (see insertFirstAttemptsIfLeased). */
export interface FirstAttempt {
  lease: TaskLease;
  task: { name: string; address: string; sequence: number; input: JsonValue | undefined; maxAttempts: number; attemptId?: string | undefined };
  completions: readonly TaskCompletion[];
}

/**
 * The first attempt of a task, for many runs' StartTask calls in one statement and one commit,
 * each judged on its own: inserted only while the caller holds the run's lease (locked FOR SHARE,
 * in id order, so a concurrent pause or cancel waits for it), every completion it carries is
 * valid (and then recorded), and no record exists at its address and sequence. Undefined for a
 * call whose task was not inserted: nothing of it was written (but for completions, which are
 * idempotent), and the caller's transaction says why or handles the retry or replay.
 */
export async function insertFirstAttemptsIfLeased(db: Kysely<Database>, batch: readonly FirstAttempt[]): Promise<Array<TaskRow | undefined>> {
  const ids = batch.map(() => uuidV7());
  const { rows } = await sql<TaskRow>`
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
      select req.idx, runs.id, runs.attempt from runs
      join req on runs.namespace = req.namespace and runs.id = req.run_id and runs.lease_token = req.token
      where runs.status = 'running'
      order by runs.id
      for share of runs
    ),
    ${completionsCtes("lease", batch)}
    insert into tasks (namespace, id, run_id, name, address, sequence, status, attempts, max_attempts, input, workflow_attempt, attempt_id)
    select req.namespace, req.task_id, valid.id, req.name, req.address, req.sequence, 'running', 1, req.max_attempts, req.input::jsonb, valid.attempt, req.attempt_id
    from req join valid on valid.idx = req.idx
    on conflict (run_id, address, sequence) do nothing
    returning *
  `.execute(db);
  const byId = new Map(rows.map((r) => [r.id, r]));
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
