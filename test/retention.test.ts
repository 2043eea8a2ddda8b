// Retention (docs/retention.md) against a real server, Postgres and Redis: AdminService.PurgeRuns
// deletes finished trees with their whole history and nothing else; SetRunRetention keeps a run;
// the server's own sweep purges old runs while a real worker completes new ones, touching none.
import { Code } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { task, workflow } from "@aiki/sdk";
import { AdminService } from "@aiki/gen/aiki/v1/admin_service_pb";
import { BadRequestDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { sql } from "kysely";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunStatus } from "../server/src/domain/run-status.js";
import type { Db } from "../server/src/store/database.js";
import { uuidV7 } from "../server/src/store/uuid-v7.js";
import { age, daysAgo, seedRun } from "./support/seed-runs.js";
import { rpcError } from "./support/rpc-error.js";
import { useTestAiki } from "./support/use-test-aiki.js";

const day = 24 * 3600_000;

async function exists(db: Db, id: string): Promise<boolean> {
  return (await db.selectFrom("runs").select("id").where("id", "=", id).executeTakeFirst()) !== undefined;
}

/** Rows of every history table that still name one of `ids`. */
async function historyRows(db: Db, ids: string[]): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select (select count(*) from run_transitions where run_id = any(${ids}::uuid[]))
         + (select count(*) from tasks where run_id = any(${ids}::uuid[]))
         + (select count(*) from child_runs where parent_run_id = any(${ids}::uuid[]) or child_run_id = any(${ids}::uuid[])) as n`.execute(db);
  return Number(rows[0]!.n);
}

describe("PurgeRuns and SetRunRetention", () => {
  const h = useTestAiki();
  let db: Db;

  beforeAll(() => {
    db = h.aiki.deps.db;
  });

  const adminClient = () => h.rpc(AdminService);
  const runsClient = () => h.rpc(RunService);

  it("purges old finished trees with their history, and keeps live, recent, kept and unfinished trees", async () => {
    const done = ["running", "completed"] as RunStatus[];
    const parent = await seedRun(db, done);
    const child = await seedRun(db, done, parent);
    const failed = await seedRun(db, ["running", "failed"]);
    const withLiveChild = await seedRun(db, done);
    const liveChild = await seedRun(db, ["running", "sleeping"], withLiveChild);
    const keptForever = await seedRun(db, ["cancelled"]);
    const keptUntil = await seedRun(db, done);
    const recent = await seedRun(db, done);
    const live = await seedRun(db, ["running"]);
    for (const id of [parent, child, failed, withLiveChild, keptForever, keptUntil]) await age(db, id, 40);
    await age(db, recent, 2);

    const rc = runsClient();
    const forever = await rc.setRunRetention({ runId: keptForever, forever: true });
    expect(forever.run?.retainForever).toBe(true);
    const until = await rc.setRunRetention({ runId: keptUntil, until: timestampFromDate(new Date(Date.now() + day)) });
    expect(until.run?.retainUntil).toBeDefined();

    const ac = adminClient();
    const finishedBefore = timestampFromDate(daysAgo(30));
    const dry = await ac.purgeRuns({ finishedBefore, dryRun: true });
    expect({ runs: dry.purgedRuns, trees: dry.purgedTrees, token: dry.nextPageToken }).toEqual({ runs: 3n, trees: 2n, token: "" });
    expect(await exists(db, parent)).toBe(true);

    const purged = await ac.purgeRuns({ finishedBefore });
    expect({ runs: purged.purgedRuns, trees: purged.purgedTrees }).toEqual({ runs: dry.purgedRuns, trees: dry.purgedTrees });
    for (const id of [parent, child, failed]) expect(await exists(db, id)).toBe(false);
    expect(await historyRows(db, [parent, child, failed])).toBe(0);
    for (const id of [withLiveChild, liveChild, keptForever, keptUntil, recent, live]) expect(await exists(db, id)).toBe(true);
    expect((await rpcError(rc.getRun({ runId: parent }))).code).toBe(Code.NotFound);

    // Given back to the policy, a kept run goes with the next purge.
    await rc.setRunRetention({ runId: keptForever });
    expect((await ac.purgeRuns({ finishedBefore })).purgedRuns).toBe(1n);
    expect(await exists(db, keptForever)).toBe(false);
  });

  it("keeps a tree while another run's history names one of its runs as a child (a rerun's copied child start)", async () => {
    const source = await seedRun(db, ["running", "failed"]);
    const sourceChild = await seedRun(db, ["running", "completed"], source);
    const rerun = await seedRun(db, ["running", "completed"]);
    // The rerun's copied child start points at the source's child, as RerunRun copies it.
    await db
      .insertInto("child_runs")
      .values({ parent_run_id: rerun, key: "copied", sequence: 0, child_run_id: sourceChild, workflow_name: "retained", workflow_version_id: "1" })
      .execute();
    for (const id of [source, sourceChild]) await age(db, id, 40);
    const finishedBefore = timestampFromDate(daysAgo(30));
    await adminClient().purgeRuns({ finishedBefore });
    expect([await exists(db, source), await exists(db, sourceChild), await exists(db, rerun)]).toEqual([true, true, true]);
    // Once the rerun is gone (aged and purged itself), nothing names the source's child any more.
    await age(db, rerun, 40);
    await adminClient().purgeRuns({ finishedBefore });
    expect(await exists(db, rerun)).toBe(false);
    await adminClient().purgeRuns({ finishedBefore });
    expect([await exists(db, source), await exists(db, sourceChild)]).toEqual([false, false]);
  });

  it("pages with max_runs and a token that moves past trees it had to keep", async () => {
    const ns = `purge-${uuidV7().slice(-8)}`;
    await adminClient().createNamespace({ name: ns });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const id = await seedRun(db, ["running", "completed"]);
      await db
        .updateTable("runs")
        .set({ namespace: ns } as never)
        .where("id", "=", id)
        .execute();
      ids.push(id);
    }
    // The oldest tree holds a live child: kept, and the token must move past it.
    await seedRun(db, ["running"], ids[0]);
    await sql`update runs set namespace = ${ns} where parent_run_id = ${ids[0]}`.execute(db);
    for (const [i, id] of ids.entries()) await age(db, id, 50 - i);
    const finishedBefore = timestampFromDate(daysAgo(30));
    let pageToken = "";
    let total = 0n;
    let calls = 0;
    do {
      const page = await adminClient().purgeRuns({ namespace: ns, finishedBefore, maxRuns: 2, pageToken });
      total += page.purgedRuns;
      pageToken = page.nextPageToken;
      calls++;
    } while (pageToken !== "" && calls < 10);
    expect(total).toBe(4n);
    expect(calls).toBe(3);
    expect(await exists(db, ids[0]!)).toBe(true);
    const otherFilters = await rpcError(adminClient().purgeRuns({ namespace: ns, finishedBefore: timestampFromDate(daysAgo(31)), maxRuns: 2, pageToken: "x" }));
    expect(otherFilters.code).toBe(Code.InvalidArgument);
  });

  it("refuses bad requests, naming each field, and deletes nothing", async () => {
    const old = await seedRun(db, ["running", "completed"]);
    await age(db, old, 40);
    const ac = adminClient();
    const bad = await rpcError(ac.purgeRuns({ maxRuns: 100_001 }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(
      bad
        .findDetails(BadRequestDetailSchema)[0]
        ?.fieldViolations.map((v) => v.field)
        .sort(),
    ).toEqual(["finished_before", "max_runs"]);
    const future = await rpcError(ac.purgeRuns({ finishedBefore: timestampFromDate(new Date(Date.now() + day)) }));
    expect(future.rawMessage).toContain("finished_before: must not be in the future");
    expect((await rpcError(ac.purgeRuns({ namespace: "no-such-ns", finishedBefore: timestampFromDate(daysAgo(1)) }))).code).toBe(Code.NotFound);
    expect(await exists(db, old)).toBe(true);

    const rc = runsClient();
    const both = await rpcError(rc.setRunRetention({ runId: old, forever: true, until: timestampFromDate(new Date()) }));
    expect(both.code).toBe(Code.InvalidArgument);
    expect((await rpcError(rc.setRunRetention({ runId: uuidV7(), forever: true }))).code).toBe(Code.NotFound);
    expect((await rpcError(rc.setRunRetention({ runId: "nope" }))).code).toBe(Code.InvalidArgument);
  });
});

describe("the retention sweep", () => {
  const step = task({
    name: "retention-step",
    async handler(input: { n: number }) {
      return { n: input.n + 1 };
    },
  });
  const child = workflow({ name: "retention-child" }).v("1.0.0", {
    async handler(run, input: { n: number }) {
      return step.start(run, input);
    },
  });
  const parent = workflow({ name: "retention-parent" }).v("1.0.0", {
    async handler(run, input: { n: number }) {
      const first = await step.start(run, input);
      const handle = await child.startAsChild(run, first);
      await handle.waitForStatus("completed");
      return first;
    },
  });

  // A day's retention swept every 50 ms: the old runs are seeded as ended 40 days ago.
  const h = useTestAiki({ retention: { maxAgeMs: day, sweepMs: 50 } });

  it("purges old finished runs while new runs flow, and touches nothing live or new", async () => {
    await h.spawn([parent, child], { name: "retention-worker" });
    const aikiClient = h.client;
    const db = h.aiki.deps.db;
    const old: string[] = [];
    for (let i = 0; i < 300; i++) {
      const root = await seedRun(db, ["running", "completed"], undefined, "old");
      if (i % 3 === 0) old.push(await seedRun(db, ["running", "completed"], root, "old"));
      old.push(root);
    }
    // Aged in one statement, so the sweep starts on all of them while the new runs flow.
    await sql`update runs set end_time = now() - interval '40 days' where workflow_name = 'old'`.execute(db);
    const handles = await Promise.all(Array.from({ length: 40 }, (_, n) => parent.start(aikiClient, { n })));
    // One new run kept forever through the SDK: a later purge at any age must spare it.
    await handles[0]!.keep({ forever: true });
    const outputs = await Promise.all(handles.map((handle) => handle.waitForCompletion({ timeout: 30_000 })));
    expect(outputs.map((o) => o.n)).toEqual(Array.from({ length: 40 }, (_, n) => n + 1));
    await h.until(async () => (await db.selectFrom("runs").select("id").where("workflow_name", "=", "old").limit(1).execute()).length === 0, {
      timeoutMs: 20_000,
      what: "the sweep purging every old run",
    });
    expect(await historyRows(db, old)).toBe(0);
    // Every new run is there with its whole history: 40 parents, 40 children, each completed.
    const fresh = await db.selectFrom("runs").select(["id", "status"]).where("workflow_name", "in", ["retention-parent", "retention-child"]).execute();
    expect(fresh).toHaveLength(80);
    expect(fresh.every((r) => r.status === "completed")).toBe(true);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from run_transitions where run_id = any(${fresh.map((r) => r.id)}::uuid[])`.execute(db);
    expect(rows[0]!.n).toBeGreaterThanOrEqual(80 * 3);
    const everything = await h.rpc(AdminService).purgeRuns({ finishedBefore: timestampFromDate(new Date()) });
    expect(everything.purgedRuns).toBe(78n);
    expect((await db.selectFrom("runs").select("id").execute()).map((r) => r.id)).toHaveLength(2);
    expect((await handles[0]!.refresh()).id).toBe(handles[0]!.run.id);
  });
});
