import { type Kysely, sql, type Transaction } from "kysely";
import { type BatchFailure, type BatchOperationStatus, maxKeptBatchFailures } from "../domain/batch-operation.js";
import type { BatchOperationRow, NewBatchOperationRow } from "./batch-operations.table.js";
import type { Database } from "./database.js";

type Reader = Kysely<Database>;
type Trx = Transaction<Database>;

export async function insertBatchOperation(db: Reader, row: NewBatchOperationRow): Promise<BatchOperationRow> {
  return db.insertInto("batch_operations").values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findBatchOperation(db: Reader, namespace: string, id: string): Promise<BatchOperationRow | undefined> {
  return db.selectFrom("batch_operations").selectAll().where("namespace", "=", namespace).where("id", "=", id).executeTakeFirst();
}

export async function findBatchOperationByRequestId(db: Reader, namespace: string, requestId: string): Promise<BatchOperationRow | undefined> {
  return db.selectFrom("batch_operations").selectAll().where("namespace", "=", namespace).where("request_id", "=", requestId).executeTakeFirst();
}

/** Newest first (ids are UUIDv7); a page token is the last id seen. */
export async function listBatchOperations(
  db: Reader,
  namespace: string,
  page: { status?: BatchOperationStatus | undefined; afterId?: string | undefined; limit: number },
): Promise<BatchOperationRow[]> {
  let q = db.selectFrom("batch_operations").selectAll().where("namespace", "=", namespace);
  if (page.status) q = q.where("status", "=", page.status);
  if (page.afterId) q = q.where("id", "<", page.afterId);
  return q.orderBy("id", "desc").limit(page.limit).execute();
}

export async function countRunningBatchOperations(db: Reader, namespace: string): Promise<number> {
  const row = await db
    .selectFrom("batch_operations")
    .select((eb) => eb.fn.countAll<string>().as("n"))
    .where("namespace", "=", namespace)
    .where("status", "=", "running")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Takes one running operation that no replica holds (never held, or its lease passed: that
 * replica stopped or was killed), oldest first, for `ttlMs`. SKIP LOCKED: replicas claiming at
 * once take different operations.
 */
export async function claimBatchOperation(db: Reader, owner: string, ttlMs: number, exceptIds: readonly string[]): Promise<BatchOperationRow | undefined> {
  const except = exceptIds.length > 0 ? sql`and id <> all(${exceptIds as string[]}::uuid[])` : sql``;
  const { rows } = await sql<BatchOperationRow>`
    update batch_operations set lease_owner = ${owner}, lease_expires_time = now() + make_interval(secs => ${ttlMs / 1000})
    where id = (
      select id from batch_operations
      where status = 'running' and (lease_expires_time is null or lease_expires_time < now()) ${except}
      order by id limit 1
      for update skip locked
    )
    returning *
  `.execute(db);
  return rows[0];
}

/** When the next lease of a running operation passes (a replica's loop wakes then to take it over). */
export async function nextBatchLeaseExpiry(db: Reader): Promise<Date | undefined> {
  const row = await db
    .selectFrom("batch_operations")
    .select((eb) => eb.fn.min("lease_expires_time").as("t"))
    .where("status", "=", "running")
    .executeTakeFirst();
  return (row?.t as Date | null) ?? undefined;
}

export interface BatchPageProgress {
  cursor: string;
  done: number;
  skipped: number;
  failed: number;
  failures: readonly BatchFailure[];
}

/**
 * A page's progress, in the transaction that made its transitions, guarded by the lease: when
 * this replica no longer holds a running operation (another took it over, or it was cancelled)
 * nothing is written and false is returned, and the caller rolls the page back. Renews the lease.
 */
export async function commitBatchPage(trx: Trx, id: string, owner: string, ttlMs: number, p: BatchPageProgress): Promise<boolean> {
  const { rows } = await sql<{ id: string }>`
    update batch_operations set
      cursor = ${p.cursor}::uuid,
      done = done + ${p.done}, skipped = skipped + ${p.skipped}, failed = failed + ${p.failed},
      failures = case when ${p.failures.length} = 0 then failures else (
        select coalesce(jsonb_agg(f), '[]'::jsonb) from (
          select f from jsonb_array_elements(failures || ${JSON.stringify(p.failures)}::jsonb) as f limit ${maxKeptBatchFailures}
        ) kept
      ) end,
      lease_expires_time = now() + make_interval(secs => ${ttlMs / 1000}),
      update_time = now()
    where id = ${id} and lease_owner = ${owner} and status = 'running'
    returning id
  `.execute(trx);
  return rows.length === 1;
}

/** Extends this replica's lease while a page is in progress; false when it no longer holds it. */
export async function renewBatchLease(db: Reader, id: string, owner: string, ttlMs: number): Promise<boolean> {
  const result = await db
    .updateTable("batch_operations")
    .set({ lease_expires_time: sql<Date>`now() + make_interval(secs => ${ttlMs / 1000})` })
    .where("id", "=", id)
    .where("lease_owner", "=", owner)
    .where("status", "=", "running")
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

/** Ends an operation this replica holds (completed, or failed with a reason). */
export async function finishBatchOperation(
  db: Reader,
  id: string,
  owner: string,
  status: "completed" | "failed",
  reason: string | null,
): Promise<BatchOperationRow | undefined> {
  return db
    .updateTable("batch_operations")
    .set({ status, status_reason: reason, end_time: sql<Date>`now()`, update_time: sql<Date>`now()`, lease_owner: null, lease_expires_time: null })
    .where("id", "=", id)
    .where("lease_owner", "=", owner)
    .where("status", "=", "running")
    .returningAll()
    .executeTakeFirst();
}

/** Gives an operation back (this replica stops): another replica takes it at once. */
export async function releaseBatchOperation(db: Reader, id: string, owner: string): Promise<void> {
  await db.updateTable("batch_operations").set({ lease_owner: null, lease_expires_time: null }).where("id", "=", id).where("lease_owner", "=", owner).execute();
}

/**
 * Cancels a running operation; waits for the page in progress (its commit holds the row), whose
 * own guarded commit then finds it cancelled. Undefined when it was not running (or unknown).
 */
export async function cancelBatchOperation(db: Reader, namespace: string, id: string, reason: string | null): Promise<BatchOperationRow | undefined> {
  return db
    .updateTable("batch_operations")
    .set({
      status: "cancelled",
      status_reason: reason ?? "cancelled",
      end_time: sql<Date>`now()`,
      update_time: sql<Date>`now()`,
      lease_owner: null,
      lease_expires_time: null,
    })
    .where("namespace", "=", namespace)
    .where("id", "=", id)
    .where("status", "=", "running")
    .returningAll()
    .executeTakeFirst();
}
