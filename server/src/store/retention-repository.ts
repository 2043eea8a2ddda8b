import { type Kysely, sql } from "kysely";
import { terminalStatuses } from "../domain/run-status.js";
import type { Database } from "./database.js";
import type { RunRow } from "./runs.table.js";

type Reader = Kysely<Database>;

/** Where a sweep of one namespace stands: the last top-level run a batch looked at. */
export interface PurgeCursor {
  /** As Postgres writes it: a Date would drop the microseconds and re-read the same run. */
  endTime: string;
  id: string;
}

export interface PurgeBatch {
  /** Runs deleted (or, dry, that would be), descendants included. */
  runs: number;
  /** Top-level runs among them. */
  trees: number;
  /** Top-level runs the batch looked at (purged or kept for a descendant); 0 when none is left. */
  examined: number;
  /** The last top-level run examined: the next batch starts after it. */
  cursor: PurgeCursor | undefined;
}

export interface PurgeBatchOptions {
  namespace: string;
  /** Runs that ended before this time go (the whole tree must have). */
  before: Date;
  /** Top-level runs per batch. */
  limit: number;
  /** Count, delete nothing. */
  dryRun?: boolean;
  after?: PurgeCursor | undefined;
}

const finished = sql.join(terminalStatuses.map((s) => sql.lit(s)));

/**
 * One purge batch in one statement (so one short transaction): up to `limit` finished top-level
 * runs of the namespace that ended before `before`, oldest first, each with its descendants,
 * skipping a tree that holds a run still live, ended later, kept (SetRunRetention), or named as a
 * child by a run outside the tree (a rerun's copied child start). The
 * top-level rows are locked with SKIP LOCKED, so a replica's concurrent batch or a write to one
 * of them is never waited on. History rows go with their run (ON DELETE CASCADE); the child
 * links that name a deleted child go with its parent in the same statement, so the foreign key
 * checked at its end holds.
 */
export async function purgeFinishedRuns(db: Reader, options: PurgeBatchOptions): Promise<PurgeBatch> {
  const after = options.after ? sql`and (r.end_time, r.id) > (${options.after.endTime}::timestamptz, ${options.after.id}::uuid)` : sql``;
  const keptByRetention = (alias: string) => sql`(${sql.ref(`${alias}.retain_forever`)} or coalesce(${sql.ref(`${alias}.retain_until`)} > now(), false))`;
  const candidates = sql`
    roots as (
      select r.id, r.end_time from runs r
      where r.namespace = ${options.namespace} and r.parent_run_id is null and r.end_time is not null
        and r.end_time < ${options.before} and r.status in (${finished}) and not ${keptByRetention("r")} ${after}
      order by r.end_time, r.id
      limit ${options.limit}
      ${options.dryRun ? sql`` : sql`for update skip locked`}
    ),
    tree as (
      select id as root, id from roots
      union all
      select tree.root, r.id from runs r join tree on r.parent_run_id = tree.id
    ),
    kept as (
      select distinct tree.root from tree join runs r on r.id = tree.id
      where r.status not in (${finished}) or r.end_time >= ${options.before} or ${keptByRetention("r")}
        -- A child another tree's history names (a rerun's copied child start) stays while that
        -- history does: deleting it would take the link out of a run that replays it.
        or exists (
          select 1 from child_runs c
          where c.child_run_id = r.id and c.parent_run_id not in (select t2.id from tree t2 where t2.root = tree.root)
        )
    ),
    doomed as (
      select tree.id, tree.root from tree where tree.root not in (select root from kept)
    ),
    last_root as (
      select end_time::text as end_time, id from roots order by roots.end_time desc, id desc limit 1
    )`;
  const counted = options.dryRun
    ? sql`with recursive ${candidates}
        select (select count(*) from doomed)::int as runs,
               (select count(*) from doomed where id = root)::int as trees,
               (select count(*) from roots)::int as examined,
               (select end_time from last_root) as cursor_time, (select id from last_root) as cursor_id`
    : sql`with recursive ${candidates},
        gone as (delete from runs where id in (select id from doomed) returning id, parent_run_id)
        select (select count(*) from gone)::int as runs,
               (select count(*) from gone where parent_run_id is null)::int as trees,
               (select count(*) from roots)::int as examined,
               (select end_time from last_root) as cursor_time, (select id from last_root) as cursor_id`;
  const row = (await counted.execute(db as Kysely<unknown>)).rows[0] as {
    runs: number;
    trees: number;
    examined: number;
    cursor_time: string | null;
    cursor_id: string | null;
  };
  return {
    runs: row.runs,
    trees: row.trees,
    examined: row.examined,
    cursor: row.cursor_time && row.cursor_id ? { endTime: row.cursor_time, id: row.cursor_id } : undefined,
  };
}

export type RetentionChange = { until: Date } | { forever: true } | { policy: true };

/**
 * Marks how long a run is kept. Not a transition: status and revision stay as they are, so no
 * guarded write of a worker or a client is disturbed by it.
 */
export async function updateRunRetention(db: Reader, namespace: string, id: string, change: RetentionChange): Promise<RunRow | undefined> {
  return db
    .updateTable("runs")
    .set("forever" in change ? { retain_forever: true, retain_until: null } : { retain_forever: false, retain_until: "until" in change ? change.until : null })
    .where("namespace", "=", namespace)
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirst();
}
