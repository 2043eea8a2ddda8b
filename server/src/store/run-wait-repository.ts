import { type Kysely, sql, type Transaction, type Updateable } from "kysely";
import type { Database } from "./database.js";
import type { RunWaitRow, RunWaitsTable, WaitKind, WaitStatus } from "./run-waits.table.js";

type Trx = Transaction<Database>;

export interface WaitKey {
  runId: string;
  kind: WaitKind;
  key: string;
  sequence: number;
}

/** A wait row, locked, plus whether its deadline has passed (on the database clock). */
export async function findWaitForUpdate(trx: Trx, k: WaitKey): Promise<(RunWaitRow & { due: boolean }) | undefined> {
  return trx
    .selectFrom("run_waits")
    .selectAll()
    .select(sql<boolean>`deadline is not null and deadline <= now()`.as("due"))
    .where("run_id", "=", k.runId)
    .where("kind", "=", k.kind)
    .where("key", "=", k.key)
    .where("sequence", "=", k.sequence)
    .forUpdate()
    .executeTakeFirst();
}

/** Inserts an open wait whose deadline is `afterMs` from now (none when undefined). */
export async function insertWait(
  trx: Trx,
  k: WaitKey & { namespace: string; durationMs?: number | undefined; timeoutMs?: number | undefined; awaitedStatus?: RunWaitRow["awaited_status"] },
  afterMs: number | undefined,
): Promise<RunWaitRow & { due: boolean }> {
  return trx
    .insertInto("run_waits")
    .values({
      namespace: k.namespace,
      run_id: k.runId,
      kind: k.kind,
      key: k.key,
      sequence: k.sequence,
      status: "waiting",
      duration_ms: k.durationMs ?? null,
      timeout_ms: k.timeoutMs ?? null,
      awaited_status: k.awaitedStatus ?? null,
      deadline: afterMs === undefined ? null : sql<Date>`now() + make_interval(secs => ${afterMs / 1000})`,
    })
    .returningAll()
    .returning(sql<boolean>`deadline is not null and deadline <= now()`.as("due"))
    .executeTakeFirstOrThrow();
}

/** Guarded on the wait still being open; undefined when it was resolved meanwhile. */
export async function resolveWait(
  trx: Trx,
  k: WaitKey,
  status: Exclude<WaitStatus, "waiting">,
  changes: Omit<Updateable<RunWaitsTable>, "status" | "end_time"> = {},
): Promise<RunWaitRow | undefined> {
  return trx
    .updateTable("run_waits")
    .set({ ...changes, status, end_time: sql<Date>`now()` })
    .where("run_id", "=", k.runId)
    .where("kind", "=", k.kind)
    .where("key", "=", k.key)
    .where("sequence", "=", k.sequence)
    .where("status", "=", "waiting")
    .returningAll()
    .executeTakeFirst();
}

/** A sleep replayed with another duration: its deadline moves to start + the new duration. */
export async function resizeSleep(trx: Trx, k: WaitKey, durationMs: number): Promise<RunWaitRow & { due: boolean }> {
  return trx
    .updateTable("run_waits")
    .set({ duration_ms: durationMs, deadline: sql<Date>`start_time + make_interval(secs => ${durationMs / 1000})` })
    .where("run_id", "=", k.runId)
    .where("kind", "=", k.kind)
    .where("key", "=", k.key)
    .where("sequence", "=", k.sequence)
    .returningAll()
    .returning(sql<boolean>`deadline is not null and deadline <= now()`.as("due"))
    .executeTakeFirstOrThrow();
}

/** The open waits of a run of one kind (at most one while it is suspended). */
export async function openWaits(trx: Trx, runId: string, kind: WaitKind, key?: string): Promise<RunWaitRow[]> {
  let q = trx.selectFrom("run_waits").selectAll().where("run_id", "=", runId).where("kind", "=", kind).where("status", "=", "waiting");
  if (key !== undefined) q = q.where("key", "=", key);
  return q.forUpdate().execute();
}

export async function listWaits(db: Kysely<Database>, runIds: readonly string[]): Promise<RunWaitRow[]> {
  if (runIds.length === 0) return [];
  return db.selectFrom("run_waits").selectAll().where("run_id", "in", runIds).orderBy("start_time").orderBy("sequence").execute();
}
