// Finished runs for retention tests: brought to their status through legal moves (so the
// teardown's state-machine check accepts their history), with a task record and a child link.
import type { RunStatus } from "../../server/src/domain/run-status.js";
import type { Db } from "../../server/src/store/database.js";
import { insertRun, transitionRun } from "../../server/src/store/run-repository.js";
import { uuidV7 } from "../../server/src/store/uuid-v7.js";

export const daysAgo = (n: number) => new Date(Date.now() - n * 24 * 3600_000);

/** A run brought to `path`'s last status through legal moves, so its history is one the state table allows. */
export async function seedRun(db: Db, path: RunStatus[], parentRunId?: string, workflowName = "retained"): Promise<string> {
  return db.transaction().execute(async (trx) => {
    let run = await insertRun(
      trx,
      { id: uuidV7(), workflow_name: workflowName, workflow_version_id: "1", status: "queued", parent_run_id: parentRunId ?? null },
      { actor: "test" },
    );
    for (const to of path) run = (await transitionRun(trx, run, to, {}, { actor: "test" }))!;
    if (parentRunId) {
      await trx
        .insertInto("child_runs")
        .values({ parent_run_id: parentRunId, key: `k-${run.id}`, sequence: 0, child_run_id: run.id, workflow_name: workflowName, workflow_version_id: "1" })
        .execute();
    }
    await trx
      .insertInto("tasks")
      .values({
        id: uuidV7(),
        run_id: run.id,
        name: "t",
        address: `t:${run.id}`,
        sequence: 0,
        status: "completed",
        attempts: 1,
        max_attempts: 1,
        workflow_attempt: 1,
      })
      .execute();
    return run.id;
  });
}

/** Ages a run as if it had ended `days` ago: end_time only, never its status or revision. */
export async function age(db: Db, id: string, days: number): Promise<void> {
  await db
    .updateTable("runs")
    .set({ end_time: daysAgo(days) })
    .where("id", "=", id)
    .execute();
}
