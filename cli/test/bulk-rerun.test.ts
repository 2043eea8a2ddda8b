// `aiki runs rerun` with filters: a batch operation reruns every finished run the filter selects.
import { describe, expect, it } from "vitest";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { runCli } from "../../test/support/aiki-cli.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki();

describe("aiki runs rerun by filter", () => {
  it("reruns every cancelled run of a workflow from the start, after --dry-run counted them", async () => {
    const runs = h.rpc(RunService);
    const workflowName = h.uniqueName("cli-rerun");
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { run } = await runs.startRun({ workflowName, workflowVersionId: "1", tags: { batch: "b1" } });
      await runs.cancelRun({ runId: run!.id, reason: "bad deploy" });
      ids.push(run!.id);
    }
    const cli = (...args: string[]) => runCli(args, { env: { AIKI_URL: h.url } });
    const dry = await cli("runs", "rerun", "--workflow", workflowName, "--status", "cancelled", "--from-start", "--dry-run");
    expect(dry).toMatchObject({ code: 0, stdout: "3 runs match; nothing done (--dry-run)\n" });

    const res = await cli("runs", "rerun", "--workflow", workflowName, "--status", "cancelled", "--from-start", "--yes");
    expect(res.stderr).toBe("");
    expect(res.stdout).toMatch(/^batch operation [0-9a-f-]{36} completed: 3\/3 gone through: 3 done, 0 skipped, 0 failed\n$/);
    for (const id of ids) {
      const reruns = (await runs.listRuns({ rerunOf: id })).runs;
      expect(reruns.map((r) => [r.status, r.tags])).toEqual([[RunStatus.QUEUED, { batch: "b1" }]]);
      await runs.cancelRun({ runId: reruns[0]!.id });
    }

    const mixed = await cli("runs", "rerun", "--workflow", workflowName, "--from-step", "x", "--yes");
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain("--from-step reruns one run: give a RUN_ID, or leave it out");
  });
});
