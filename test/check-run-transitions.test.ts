// The harness's state-machine check: a test database whose run history holds a move the table
// (server/src/domain/run-status.ts) forbids fails its teardown, naming the moves and the runs.
import type { Kysely } from "kysely";
import pg from "pg";
import { describe, expect, inject, test } from "vitest";
import type { Database } from "../server/src/store/database.js";
import { transitionRun } from "../server/src/store/run-repository.js";
import { ForbiddenRunTransitionsError } from "./support/check-run-transitions.js";
import { checkLiveDatabases, createTestDatabase, startPrivatePostgres, testKysely } from "./support/database.js";

const runA = "00000000-0000-0000-0000-00000000000a";
const runB = "00000000-0000-0000-0000-00000000000b";

/** Inserts a run in `status` with the history rows `moves` (revision 1, 2, ...). */
async function runWithHistory(url: string, id: string, status: string, moves: Array<[string | null, string]>): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`insert into runs (id, workflow_name, workflow_version_id, status, revision) values ($1, 'wf', 'v1', $2, $3)`, [id, status, moves.length]);
    for (const [i, [from, to]] of moves.entries()) {
      await c.query(`insert into run_transitions (run_id, revision, from_status, to_status, actor, reason) values ($1, $2, $3, $4, 'test', 'by hand')`, [
        id,
        i + 1,
        from,
        to,
      ]);
    }
  } finally {
    await c.end();
  }
}

async function databaseExists(name: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: inject("pgAdminUrl") });
  await c.connect();
  try {
    return ((await c.query("select 1 from pg_database where datname = $1", [name])).rowCount ?? 0) > 0;
  } finally {
    await c.end();
  }
}

describe("the run transition check at teardown", () => {
  test("a history the table allows passes, and the database is dropped", async () => {
    const db = await createTestDatabase();
    await runWithHistory(db.url, runA, "completed", [
      [null, "scheduled"],
      ["scheduled", "queued"],
      ["queued", "running"],
      ["running", "sleeping"],
      ["sleeping", "queued"],
      ["queued", "running"],
      ["running", "completed"],
    ]);
    await db.destroy();
    expect(await databaseExists(db.name)).toBe(false);
  });

  test("a forbidden move fails destroy, naming each forbidden pair and its runs; the database is dropped all the same", async () => {
    const db = await createTestDatabase();
    await runWithHistory(db.url, runA, "running", [
      [null, "queued"],
      ["queued", "running"],
      ["running", "sleeping"],
      ["sleeping", "running"],
    ]);
    await runWithHistory(db.url, runB, "running", [[null, "running"]]);
    const error = await db.destroy().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ForbiddenRunTransitionsError);
    expect((error as ForbiddenRunTransitionsError).moves).toEqual([
      { from: "sleeping", to: "running", runIds: [runA], actors: ["test"], reasons: ["by hand"] },
      { from: null, to: "running", runIds: [runB], actors: ["test"], reasons: ["by hand"] },
    ]);
    expect((error as Error).message).toContain(`sleeping → running: runs ${runA}`);
    expect((error as Error).message).toContain(`(created) → running: runs ${runB}`);
    expect(await databaseExists(db.name)).toBe(false);
  });

  test("a database the file did not destroy is checked after the file (checkLiveDatabases)", async () => {
    const db = await createTestDatabase();
    await runWithHistory(db.url, runA, "queued", [
      [null, "queued"],
      ["queued", "completed"],
    ]);
    await expect(checkLiveDatabases()).rejects.toThrow(`queued → completed: runs ${runA}`);
    await expect(db.destroy()).rejects.toBeInstanceOf(ForbiddenRunTransitionsError);
    // Destroyed: no longer the file's to check.
    await expect(checkLiveDatabases()).resolves.toBeUndefined();
  });

  test("an unmigrated database has nothing to check", async () => {
    const db = await createTestDatabase({ empty: true });
    await db.destroy();
    expect(await databaseExists(db.name)).toBe(false);
  });

  test("a private Postgres is checked when destroyed, even one a test left stopped", { timeout: 60_000 }, async () => {
    const pgp = await startPrivatePostgres();
    await runWithHistory(pgp.url, runA, "failed", [
      [null, "queued"],
      ["queued", "failed"],
    ]);
    await pgp.stop();
    await expect(pgp.destroy()).rejects.toThrow(`queued → failed: runs ${runA}`);
    expect(pgp.pid()).toBeNull();
  });
});

describe("transitionRun", () => {
  test("refuses a move the table forbids, writing nothing", async () => {
    const db = await createTestDatabase();
    const kysely: Kysely<Database> = testKysely(db.url, 1);
    try {
      await runWithHistory(db.url, runA, "completed", [
        [null, "queued"],
        ["queued", "running"],
        ["running", "completed"],
      ]);
      await expect(
        kysely
          .transaction()
          .execute((trx) => transitionRun(trx, { namespace: "default", id: runA, status: "completed", revision: 3 }, "queued", {}, { actor: "test" })),
      ).rejects.toThrow(`run ${runA}: completed → queued is not a transition of the state machine`);
      const run = await kysely.selectFrom("runs").select(["status", "revision"]).where("id", "=", runA).executeTakeFirstOrThrow();
      expect(run).toEqual({ status: "completed", revision: 3 });
      const { count } = await kysely
        .selectFrom("run_transitions")
        .select((eb) => eb.fn.countAll<string>().as("count"))
        .where("run_id", "=", runA)
        .executeTakeFirstOrThrow();
      expect(Number(count)).toBe(3);
    } finally {
      await kysely.destroy();
      await db.destroy();
    }
  });
});
