// Pipelined tasks (worker option eagerTasks, on by default; docs/worker-protocol.md rule 7): on a
// session a task with no record runs once its StartTask is sent, and after a success the workflow
// goes on without the answer; the completion rides on the next write, which the server applies
// after that StartTask. Real server and worker; Postgres holds every insert into `tasks` back
// (a table lock the test takes) so that no StartTask can commit while the workflow runs.
import pg from "pg";
import { describe, expect, it } from "vitest";
import { TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { task, workflow } from "@aiki/sdk";
import { tasksOf, uniq, until, useRealAiki } from "./support/real-aiki.js";

const real = useRealAiki();

/** A three-task chain whose tasks note each run. */
function chain(ran: string[]) {
  const step = (name: string) =>
    task({
      name,
      async handler(n: number) {
        ran.push(name);
        return n + 1;
      },
    });
  const [a, b, c] = [step("a"), step("b"), step("c")];
  return workflow({ name: uniq("pipelined") }).v("1", {
    async handler(run) {
      const x = await a.start(run, 1);
      const y = await b.start(run, x);
      return c.start(run, y);
    },
  });
}

/** Holds back every insert into `tasks` (StartTask's) until release(); reads go on. */
async function holdTaskInserts(): Promise<{ release(): Promise<void> }> {
  const conn = new pg.Client({ connectionString: real.aiki.database.url });
  await conn.connect();
  await conn.query("begin");
  await conn.query("lock table tasks in share row exclusive mode");
  return {
    async release() {
      await conn.query("rollback");
      await conn.end();
    },
  };
}

describe("pipelined tasks", () => {
  it("a workflow runs all its fresh tasks while no StartTask has committed; the records land in order, one attempt each", async () => {
    const ran: string[] = [];
    const v = chain(ran);
    await real.spawn([v]);
    const held = await holdTaskInserts();
    let handle: Awaited<ReturnType<typeof v.start>> | undefined;
    try {
      handle = await v.start(real.client, undefined);
      // Without pipelining only "a" could run: "b" waits for a's StartTask answer.
      await until(() => ran.length === 3, 10_000, "all three tasks to run while StartTask is held");
      expect(await tasksOf(real.client, handle.run.id)).toEqual([]);
    } finally {
      await held.release();
    }
    const done = await handle.waitForStatus("completed", { timeout: 10_000 });
    expect(done.success && done.state.output).toBe(4);
    const tasks = await tasksOf(real.client, handle.run.id);
    expect(tasks.map((t) => [t.name, t.status, t.attempts])).toEqual([
      ["a", TaskStatus.COMPLETED, 1],
      ["b", TaskStatus.COMPLETED, 1],
      ["c", TaskStatus.COMPLETED, 1],
    ]);
    expect(ran).toEqual(["a", "b", "c"]);
  });
});
