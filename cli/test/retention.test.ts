// `aiki runs purge` and `aiki runs keep` end to end: bin/aiki.js in a child process against a real
// test server, on runs seeded as finished long ago.
import { describe, expect, it } from "vitest";
import { runCli, type CliResult } from "../../test/support/aiki-cli.js";
import { age, seedRun } from "../../test/support/seed-runs.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki();

const aikiCli = (...args: string[]): Promise<CliResult> => runCli(args, { env: { AIKI_URL: h.url } });
const exists = async (id: string) => (await h.aiki.deps.db.selectFrom("runs").select("id").where("id", "=", id).executeTakeFirst()) !== undefined;

describe("aiki runs purge and keep", () => {
  it("counts first, purges with --yes, and spares a run kept with `runs keep`", async () => {
    const db = h.aiki.deps.db;
    const root = await seedRun(db, ["running", "completed"]);
    const child = await seedRun(db, ["running", "completed"], root);
    const kept = await seedRun(db, ["running", "failed"]);
    for (const id of [root, child, kept]) await age(db, id, 40);

    const keep = await aikiCli("runs", "keep", kept, "--forever");
    expect(keep).toMatchObject({ code: 0, stdout: `run ${kept} is kept forever\n` });

    const asked = await aikiCli("runs", "purge", "--before", "30d");
    expect(asked.code).toBe(0);
    expect(asked.stdout).toMatch(/^would purge 2 runs \(1 top-level\) that ended before .*; run again with --yes to purge them\n$/);
    const dry = await aikiCli("runs", "purge", "--before", "30d", "--dry-run", "--json");
    expect(JSON.parse(dry.stdout)).toEqual({ purgedRuns: "2", purgedTrees: "1" });
    expect(await exists(root)).toBe(true);

    const purged = await aikiCli("runs", "purge", "--before", "30d", "--yes");
    expect(purged.code).toBe(0);
    expect(purged.stdout).toMatch(/^purged 2 runs \(1 top-level\)/);
    expect([await exists(root), await exists(child), await exists(kept)]).toEqual([false, false, true]);

    const back = await aikiCli("runs", "keep", kept, "--policy");
    expect(back.stdout).toBe(`run ${kept} follows the server's retention again\n`);
  });

  it("refuses bad command lines with exit 2 and a named option", async () => {
    const missing = await aikiCli("runs", "purge");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--before is required");
    const badAge = await aikiCli("runs", "purge", "--before", "soon");
    expect(badAge.code).toBe(2);
    expect(badAge.stderr).toContain("--before must be a duration like");
    const both = await aikiCli("runs", "keep", "01a1fe68-0000-7000-8000-000000000000", "--forever", "--policy");
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("give exactly one of --until, --forever and --policy");
    const unknown = await aikiCli("runs", "keep", "01a1fe68-0000-7000-8000-000000000000", "--forever");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("01a1fe68-0000-7000-8000-000000000000");
  });
});
