// Bulk actions at scale, by real processes (issue 17): a bulk cancel of 10,000 runs selected by
// tag and status, while a worker keeps completing other runs; the server replica working on the
// operation is SIGKILLed half-way and the other replica completes it. Every matching run ends
// cancelled exactly once (run_transitions), no other run is touched, and the dry run counted
// exactly what the operation acted on.
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { sql } from "kysely";
import { describe, expect, inject, it } from "vitest";
import { BatchOperationStatus, BatchService } from "@aiki/gen/aiki/v1/batch_service_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import type { Database } from "../server/src/store/database.js";
import { createTestDatabase, testKysely } from "./support/database.js";
import { seedTaggedRuns as seed } from "./support/seed-tagged-runs.js";
import { type ServerProcess, startServerProcess } from "./support/server-process.js";
import { startTcpProxy } from "./support/tcp-proxy.js";
import { useTestAiki } from "./support/use-test-aiki.js";
import { startWorkerProcess } from "./support/worker-process.js";

// No in-process server: the test's processes, proxy and database are undone last first at
// teardown, the database's run transitions checked as it is dropped, and no socket may be left.
const h = useTestAiki({ server: false });

const targets = 10_000;

describe("a bulk cancel of 10,000 runs by tag and status", () => {
  it("cancels each matching run exactly once and no other, while a worker completes other runs and the replica working on it is killed", {
    timeout: 120_000,
  }, async () => {
    const database = await createTestDatabase();
    h.defer(() => database.destroy());
    const db = testKysely<Database>(database.url);
    h.defer(() => db.destroy());
    // A short batch lease, so the survivor takes the operation over two seconds after the kill.
    const env = { DATABASE_URL: database.url, REDIS_URL: inject("redisUrl"), AIKI_BATCH_LEASE_MS: "2000", AIKI_BATCH_PAGE_SIZE: "500" };
    const servers: ServerProcess[] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
    for (const s of servers) h.defer(() => s.stop("SIGKILL"));
    const proxy = await startTcpProxy(servers.map((s) => ({ host: "127.0.0.1", port: Number(new URL(s.url).port) })));
    h.defer(() => proxy.close());
    const worker = await startWorkerProcess({ AIKI_URL: proxy.url, LEASE_TTL_MS: "3000", WORKER_NAME: "bulk-bystander" });
    h.defer(() => worker.kill());
    const transport = createGrpcTransport({ baseUrl: proxy.url });
    const runs = createClient(RunService, transport);
    const batches = createClient(BatchService, transport);

    const started = Date.now();
    const log = (what: string) => process.env.BULK_DEBUG && console.log(`${Date.now() - started} ms ${what}`);
    const matching = await seed(db, targets, "charge-card", { incident: "inc-7" });
    // Tagged but paused (the filter asks for QUEUED), and queued without the tag: both left alone.
    const pausedTagged = await seed(db, 100, "charge-card", { incident: "inc-7" });
    for (const id of pausedTagged) await runs.pauseRun({ runId: id, reason: "held" });
    const untagged = await seed(db, 500, "charge-card", { incident: "other" });
    const seededMs = Date.now() - started;
    log("seeded");

    const selection = { case: "filter" as const, value: { workflowName: "charge-card", statuses: [RunStatus.QUEUED], tags: { incident: "inc-7" } } };
    const action = { action: { case: "cancel" as const, value: { reason: "bad deploy" } } };
    const dry = await batches.startBatchOperation({ selection, action, dryRun: true });
    expect(dry.matching).toBe(BigInt(targets));

    // Other runs flow through the worker the whole time.
    let starting = true;
    const bystanders: string[] = [];
    const flow = (async () => {
      for (let i = 0; starting; i++) {
        const res = await runs
          .startRun({
            workflowName: "load-steps",
            workflowVersionId: "1.0.0",
            input: { kind: { case: "structValue", value: { fields: { tag: { kind: { case: "stringValue", value: `b-${i}` } } } } } } as never,
          })
          .catch(() => undefined); // the replica the call went to was killed: not acknowledged
        if (res?.run) bystanders.push(res.run.id);
      }
    })();

    const opStarted = Date.now();
    const { operation } = await batches.startBatchOperation({ requestId: "inc-7-cancel", selection, action, rate: 2000 });
    const opId = operation!.id;
    log("operation started");
    // Half-way, kill the replica holding the operation.
    let killedAt = 0;
    let victim: ServerProcess | undefined;
    for (;;) {
      const row = await db.selectFrom("batch_operations").select(["done", "lease_owner"]).where("id", "=", opId).executeTakeFirstOrThrow();
      if (Number(row.done) >= targets / 2 && row.lease_owner) {
        victim = servers.find((s) => row.lease_owner!.includes(`:${s.child.pid}:`));
        expect(victim).toBeDefined();
        await victim!.stop("SIGKILL");
        killedAt = Number((await db.selectFrom("batch_operations").select("done").where("id", "=", opId).executeTakeFirstOrThrow()).done);
        break;
      }
      log(`done ${row.done} owner ${row.lease_owner}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    log("killed");
    expect(killedAt).toBeLessThan(targets);

    // The survivor takes it over and completes it (calls go through the proxy to whichever is alive).
    let final: Awaited<ReturnType<typeof batches.getBatchOperation>>["operation"];
    for (;;) {
      const got = await batches.getBatchOperation({ operationId: opId }).catch((e: unknown) => {
        if (ConnectError.from(e).code === Code.InvalidArgument) throw e;
        return undefined;
      });
      if (got && got.operation!.status !== BatchOperationStatus.RUNNING) {
        final = got.operation;
        break;
      }
      log(`final wait: ${got?.operation?.done}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const opMs = Date.now() - opStarted;
    starting = false;
    await flow;

    expect(final).toMatchObject({ status: BatchOperationStatus.COMPLETED, done: BigInt(targets), skipped: 0n, failed: 0n, matching: BigInt(targets) });
    expect(final!.done).toBe(dry.matching);

    const count = async (where: ReturnType<typeof sql>) =>
      Number((await sql<{ n: string }>`select count(*) as n from runs where ${where}`.execute(db)).rows[0]!.n);
    expect(await count(sql`id = any(${matching}::uuid[]) and status = 'cancelled' and status_reason = 'bad deploy'`)).toBe(targets);
    expect(await count(sql`id = any(${pausedTagged}::uuid[]) and status = 'paused'`)).toBe(pausedTagged.length);
    expect(await count(sql`id = any(${untagged}::uuid[]) and status = 'queued'`)).toBe(untagged.length);
    expect(await count(sql`workflow_name = 'charge-card' and status = 'cancelled'`)).toBe(targets);

    // Exactly one cancel transition per run, every one by this operation: none acted on twice.
    const { rows: twice } = await sql<{ run_id: string }>`
      select run_id from run_transitions where to_status = 'cancelled' group by run_id having count(*) > 1
    `.execute(db);
    expect(twice).toEqual([]);
    const { rows: byOp } = await sql<{ n: string }>`select count(*) as n from run_transitions where actor = ${`batch:${opId}`}`.execute(db);
    expect(Number(byOp[0]!.n)).toBe(targets);

    // Every acknowledged bystander completes.
    expect(bystanders.length).toBeGreaterThan(0);
    for (const id of bystanders) {
      for (;;) {
        const res = await runs.waitForRunStatus({ runId: id, status: RunStatus.COMPLETED, timeout: durationFromMs(30_000) }).catch(() => undefined);
        if (!res) continue;
        expect(res.outcome).toBe(WaitForRunStatusResponse_Outcome.REACHED);
        break;
      }
    }
    console.log(JSON.stringify({ test: "bulk-cancel", runs: targets, seededMs, operationMs: opMs, killedAtDone: killedAt, bystanders: bystanders.length }));
  });
});
