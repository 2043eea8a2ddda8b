// `aiki runs cancel|pause|resume|awake` with filters (batch operations) and `aiki batches …`,
// bin/aiki.js in a child process against a real test server.
import type { Client } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { type CliResult, runCli } from "../../test/support/aiki-cli.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki();
let runs: Client<typeof RunService>;

beforeAll(() => {
  runs = h.rpc(RunService);
});

const aikiCli = (...args: string[]): Promise<CliResult> => runCli(args, { env: { AIKI_URL: h.url } });

async function startTagged(n: number, tags: Record<string, string>): Promise<string[]> {
  const started = await Promise.all(Array.from({ length: n }, () => runs.startRun({ workflowName: "cli-bulk", workflowVersionId: "1", tags })));
  return started.map((r) => r.run!.id);
}

async function statuses(ids: string[]): Promise<RunStatus[]> {
  return (await runs.listRuns({ runIds: ids })).runs.map((r) => r.status);
}

describe("aiki runs <action> by filter", () => {
  it("--dry-run counts the matching runs and changes nothing", async () => {
    const ids = await startTagged(3, { incident: "cli-dry" });
    const res = await aikiCli("runs", "cancel", "--tag", "incident=cli-dry", "--status", "queued", "--dry-run");
    expect(res).toMatchObject({ code: 0, stdout: "3 runs match; nothing done (--dry-run)\n" });
    expect(await statuses(ids)).toEqual([RunStatus.QUEUED, RunStatus.QUEUED, RunStatus.QUEUED]);
  });

  it("asks for --yes without a terminal, then pauses every matching run and reports the counts", async () => {
    const ids = await startTagged(4, { incident: "cli-pause" });
    const refused = await aikiCli("runs", "pause", "--tag", "incident=cli-pause");
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("pause 4 runs? Pass --yes to confirm without a terminal");
    expect(await statuses(ids)).toEqual(ids.map(() => RunStatus.QUEUED));

    const res = await aikiCli("runs", "pause", "--tag", "incident=cli-pause", "--workflow", "cli-bulk", "--reason", "provider down", "--yes");
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^batch operation [0-9a-f-]{36} completed: 4\/4 gone through: 4 done, 0 skipped, 0 failed\n$/);
    expect(await statuses(ids)).toEqual(ids.map(() => RunStatus.PAUSED));

    // Resumed by the same selection; a run already resumed by hand is skipped.
    await runs.resumeRun({ runId: ids[0]! });
    const resumed = await aikiCli("runs", "resume", "--tag", "incident=cli-pause", "--yes", "--json");
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout).operation).toMatchObject({ status: "BATCH_OPERATION_STATUS_COMPLETED", done: "3", skipped: "1" });
  });

  it("--detach starts the operation and prints its id; aiki batches list, get and cancel follow it", async () => {
    await startTagged(60, { incident: "cli-detach" });
    // One run a second: still running (a minute) while the commands below look at it.
    const res = await aikiCli("runs", "cancel", "--tag", "incident=cli-detach", "--rate", "1", "--yes", "--detach");
    expect(res.code).toBe(0);
    const id = /batch operation ([0-9a-f-]{36}) started: 60 runs/.exec(res.stdout)?.[1];
    expect(id).toBeDefined();

    const listed = await aikiCli("batches", "list", "--status", "running");
    expect(listed.stdout).toMatch(/^OPERATION ID\s+ACTION\s+STATUS\s+MATCHING\s+DONE\s+SKIPPED\s+FAILED\s+CREATED\n/);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+cancel\\s+running\\s+60\\s`));

    const got = await aikiCli("batches", "get", id!);
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/selection\s+tag incident=cli-detach/);
    expect(got.stdout).toMatch(/rate\s+1 runs\/s/);

    const cancelled = await aikiCli("batches", "cancel", id!, "--reason", "enough");
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toMatch(new RegExp(`^batch operation ${id} cancelled: `));
  });

  it("refuses a command line with neither a run id nor a filter, or with both", async () => {
    const neither = await aikiCli("runs", "cancel");
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain("give a RUN_ID, or select runs with");
    const both = await aikiCli("runs", "cancel", "01a1fe68-0000-7000-8000-000000000000", "--tag", "a=b");
    expect(both.code).toBe(2);
    const badTag = await aikiCli("runs", "cancel", "--tag", "novalue", "--yes");
    expect(badTag.code).toBe(2);
    expect(badTag.stderr).toContain("--tag must be KEY=VALUE");
  });

  it("aiki runs start --tag tags the run, and aiki runs list --tag finds it", async () => {
    const started = await aikiCli("runs", "start", "cli-tags", "1", "--tag", "tenant=acme", "--tag", "tier=gold", "--json");
    expect(started.code).toBe(0);
    const run = JSON.parse(started.stdout).run as { id: string; tags: Record<string, string> };
    expect(run.tags).toEqual({ tenant: "acme", tier: "gold" });
    const listed = await aikiCli("runs", "list", "--tag", "tier=gold", "--json");
    expect((JSON.parse(listed.stdout).runs as Array<{ id: string }>).map((r) => r.id)).toEqual([run.id]);
  });
});
