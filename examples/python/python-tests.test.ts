// The Python reference worker's own unit tests (python3 -m unittest, Debian's interpreter), run
// by vitest so `bash .ci/run` runs them: a failing Python test fails CI.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCommand } from "../../test/support/aiki-cli.js";
import { repoRoot } from "../../test/support/server-process.js";

const python = "/usr/bin/python3";

describe("Python reference worker: unit tests", () => {
  it("the canonical JSON, hash and addresses match the shared test vectors (test_canonical.py)", async () => {
    if (!existsSync(python)) throw new Error(`${python} is missing: apt-get install python3 (bash .ci/run does)`);
    const res = await runCommand(python, ["-m", "unittest", "-v", "test_canonical"], {
      cwd: join(repoRoot, "examples/python"),
      env: { PYTHONDONTWRITEBYTECODE: "1" },
    });
    expect(res.code, res.stderr).toBe(0);
    // unittest reports on stderr: every test ran and none was skipped.
    expect(res.stderr).toMatch(/\nRan 6 tests in [\d.]+s\n\nOK\n$/);
  });
});
