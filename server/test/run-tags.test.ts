// Run tags: set at start (StartRun, a child start, a schedule), carried on Run, validated with
// the limit named, and filtered on by ListRuns / CountRuns through the GIN index.
import { type Client, Code } from "@connectrpc/connect";
import { sql } from "kysely";
import { beforeAll, describe, expect, it } from "vitest";
import { BadRequestDetailSchema, LimitExceededDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { ScheduleService } from "@aiki/gen/aiki/v1/schedule_service_pb";
import { WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { fireDueSchedules } from "../../server/src/engine/fire-schedules.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { rpcError } from "../../test/support/rpc-error.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

// No timer loop: the test fires the schedule itself.
const h = useTestAiki({ limits: { maxRunTags: 3 }, timers: false });
let aiki: TestAiki;
let runs: Client<typeof RunService>;

beforeAll(() => {
  aiki = h.aiki;
  runs = aiki.client(RunService);
});

const start = (tags: Record<string, string>, workflowName = "charge-card") => runs.startRun({ workflowName, workflowVersionId: "1", tags });

describe("run tags", () => {
  it("are carried on the run, and ListRuns / CountRuns filter by every tag given, with the other filters", async () => {
    const a = (await start({ tenant: "acme", incident: "inc-1" })).run!;
    const b = (await start({ tenant: "acme" })).run!;
    const c = (await start({ tenant: "globex", incident: "inc-1" })).run!;
    const d = (await start({ tenant: "acme", incident: "inc-1" }, "send-email")).run!;
    expect(a.tags).toEqual({ tenant: "acme", incident: "inc-1" });
    expect((await runs.getRun({ runId: b.id })).run?.tags).toEqual({ tenant: "acme" });

    const ids = async (req: Parameters<typeof runs.listRuns>[0]) => (await runs.listRuns(req)).runs.map((r) => r.id).sort();
    expect(await ids({ tags: { tenant: "acme" } })).toEqual([a.id, b.id, d.id].sort());
    expect(await ids({ tags: { tenant: "acme", incident: "inc-1" } })).toEqual([a.id, d.id].sort());
    expect(await ids({ tags: { incident: "inc-1" }, workflowName: "charge-card" })).toEqual([a.id, c.id].sort());
    expect(await ids({ tags: { incident: "inc-1" }, workflowName: "charge-card", statuses: [RunStatus.QUEUED] })).toEqual([a.id, c.id].sort());
    expect(await ids({ tags: { tenant: "nobody" } })).toEqual([]);
    // Paging keeps the tag filter (it is part of the token's filter).
    const first = await runs.listRuns({ tags: { tenant: "acme" }, pageSize: 2 });
    expect(first.runs).toHaveLength(2);
    const second = await runs.listRuns({ tags: { tenant: "acme" }, pageSize: 2, pageToken: first.nextPageToken });
    expect(second.runs.map((r) => r.id)).toEqual([a.id]);

    const counted = await runs.countRuns({ filter: { tags: { incident: "inc-1" } } });
    expect(Number(counted.total)).toBe(3);
  });

  it("refuses too many tags, bad keys and long values with INVALID_ARGUMENT naming the tag and the limit, storing nothing", async () => {
    const before = (await runs.countRuns({})).total;
    const tooMany = await rpcError(start({ a: "1", b: "2", c: "3", d: "4" }));
    expect(tooMany.code).toBe(Code.InvalidArgument);
    expect(tooMany.rawMessage).toContain("AIKI_MAX_RUN_TAGS");
    expect(tooMany.findDetails(LimitExceededDetailSchema)[0]).toMatchObject({ limit: "AIKI_MAX_RUN_TAGS", max: 3n, actual: 4n });

    const bad = await rpcError(start({ "-dash": "x", ok: "v".repeat(257), ["k".repeat(65)]: "y" }));
    expect(bad.code).toBe(Code.InvalidArgument);
    const fields = bad.findDetails(BadRequestDetailSchema)[0]!.fieldViolations.map((f) => f.field);
    expect(fields).toEqual(expect.arrayContaining(['tags["-dash"].key', 'tags["ok"].value', `tags["${"k".repeat(64)}"].key`]));
    expect(bad.rawMessage).toContain("AIKI_MAX_TAG_VALUE_LENGTH");
    expect(bad.rawMessage).toContain("AIKI_MAX_TAG_KEY_LENGTH");

    const badFilter = await rpcError(runs.listRuns({ tags: { "bad key": "x" } }));
    expect(badFilter.code).toBe(Code.InvalidArgument);
    expect((await runs.countRuns({})).total).toBe(before);
  });

  it("a child start carries its own tags (not its parent's), and refuses bad ones", async () => {
    const leases = aiki.client(WorkerLeaseService);
    await start({ tenant: "parent-only" }, "tagged-parent");
    const {
      leases: [lease],
    } = await leases.pollLeases({
      workerId: "tags-worker",
      workflows: [{ workflowName: "tagged-parent", workflowVersionId: "1" }],
      maxLeases: 1,
      wait: { seconds: 5n },
    });
    const child = {
      parentRunId: lease!.run!.id,
      leaseToken: lease!.leaseToken,
      workflowName: "tagged-child",
      workflowVersionId: "1",
      referenceId: "c",
      key: "c",
      sequence: 0,
    };
    const { run } = await leases.startChildRun({ ...child, tags: { step: "refund" } });
    expect(run?.tags).toEqual({ step: "refund" });
    const bad = await rpcError(leases.startChildRun({ ...child, referenceId: "d", key: "d", tags: { "": "x" } }));
    expect(bad.code).toBe(Code.InvalidArgument);
  });

  it("a schedule's tags go to every run it starts, and a start without tags still matches its request id", async () => {
    const schedules = aiki.client(ScheduleService);
    const { schedule } = await schedules.activateSchedule({
      workflowName: "report",
      workflowVersionId: "1",
      spec: { spec: { case: "interval", value: { every: { seconds: 1n } } } },
      tags: { source: "schedule" },
    });
    expect(schedule?.tags).toEqual({ source: "schedule" });
    await sql`update schedules set next_time = now() - interval '1 second' where id = ${schedule!.id}`.execute(aiki.deps.db);
    await fireDueSchedules(aiki.deps.db, aiki.deps.notifier, aiki.deps.logger, 10);
    const started = await runs.listRuns({ scheduleId: schedule!.id });
    expect(started.runs.length).toBeGreaterThan(0);
    expect(started.runs[0]!.tags).toEqual({ source: "schedule" });

    const once = await runs.startRun({ workflowName: "w", workflowVersionId: "1", requestId: "r-1" });
    const again = await runs.startRun({ workflowName: "w", workflowVersionId: "1", requestId: "r-1" });
    expect(again.existing).toBe(true);
    expect(again.run?.id).toBe(once.run?.id);
    const otherTags = await rpcError(runs.startRun({ workflowName: "w", workflowVersionId: "1", requestId: "r-1", tags: { x: "y" } }));
    expect(otherTags.code).toBe(Code.AlreadyExists);
  });

  it("ListRuns / CountRuns by tag use the GIN index, not a sequential scan, among many runs", async () => {
    // 20,000 finished runs, each with its own tag: the planner, with statistics, picks the index.
    await sql`
      insert into runs (namespace, id, workflow_name, workflow_version_id, status, revision, tags)
      select 'default', gen_random_uuid(), 'bulk', '1', 'completed', 1, jsonb_build_object('n', i::text)
      from generate_series(1, 20000) as i
    `.execute(aiki.deps.db);
    await sql`analyze runs`.execute(aiki.deps.db);
    const explain = async (query: string) => {
      const { rows } = await sql<{ "QUERY PLAN": string }>`explain ${sql.raw(query)}`.execute(aiki.deps.db);
      return rows.map((r) => r["QUERY PLAN"]).join("\n");
    };
    // The statements listRuns and countRuns send (store/run-repository.ts), with a tag and a status.
    const list = await explain(
      `select * from runs where namespace = 'default' and status in ('completed', 'failed') and runs.tags @> '{"n":"777"}'::jsonb order by id desc limit 101`,
    );
    const count = await explain(`select status, count(*) from runs where namespace = 'default' and runs.tags @> '{"n":"777"}'::jsonb group by status`);
    for (const plan of [list, count]) {
      expect(plan).toContain("runs_tags_idx");
      expect(plan).not.toContain("Seq Scan");
    }
    expect((await runs.listRuns({ tags: { n: "777" } })).runs).toHaveLength(1);
  });
});
