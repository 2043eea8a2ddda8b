// The list of statements that move runs (domain/run-transition-statements.ts) against the code:
// every function in server/src whose SQL writes run_transitions or sets runs.status must be listed,
// every listed one must exist, and every move listed must be one the table allows.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { runTransitionStatements } from "../src/domain/run-transition-statements.js";
import { isAllowedMove } from "../src/domain/run-status.js";

const srcDir = join(import.meta.dirname, "../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** Each top-level function of a file (`file#name`) with its text, comments left out. */
function topLevelFunctions(file: string, text: string): Array<{ statement: string; body: string }> {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const starts = [...code.matchAll(/^(?:export\s+)?(?:async\s+)?function\*?\s+(\w+)/gm)];
  return starts.map((m, i) => ({
    statement: `${file}#${m[1]}`,
    body: code.slice(m.index, i + 1 < starts.length ? starts[i + 1]!.index : undefined),
  }));
}

/** Whether this code appends to run_transitions or sets runs.status, in raw SQL or through Kysely. */
function movesRuns(body: string): boolean {
  if (/insert\s+into\s+run_transitions\b/i.test(body) || /insertInto\(\s*["'`]run_transitions["'`]\s*\)/.test(body)) return true;
  for (const m of body.matchAll(/update\s+runs(?:\s+(?!set\b)\w+)?\s+set\s+([\s\S]*?)(?:\bfrom\b|\bwhere\b|\breturning\b|`)/gi)) {
    if (/(?:^|,)\s*status\s*=/.test(m[1]!)) return true;
  }
  for (const m of body.matchAll(/updateTable\(\s*["'`]runs["'`]\s*\)\s*\.set\(\s*\{([^}]*)\}/g)) {
    if (/(?:^|[,{]|\s)status\s*:/.test(m[1]!)) return true;
  }
  return false;
}

const found = sourceFiles(srcDir)
  .flatMap((f) => topLevelFunctions(relative(srcDir, f), readFileSync(f, "utf8")))
  .filter((fn) => movesRuns(fn.body))
  .map((fn) => fn.statement)
  .sort();

describe("statements that move runs", () => {
  it("every function in server/src that writes run_transitions or sets runs.status is listed, and every listed one is such a function", () => {
    expect(found.length).toBeGreaterThan(0);
    expect(runTransitionStatements.map((s) => s.statement).sort()).toEqual(found);
  });

  it("every move a statement lists is one the table allows", () => {
    const forbidden = runTransitionStatements.flatMap((s) => s.moves.filter((m) => !isAllowedMove(m)).map((m) => `${s.statement}: ${m[0]} → ${m[1]}`));
    expect(forbidden).toEqual([]);
  });
});

describe("the scan itself", () => {
  it("sees the shapes a statement that moves runs takes, and not the ones that only read or guard", () => {
    expect(movesRuns("sql`with a as (insert into run_transitions (run_id) select id from x) select 1`")).toBe(true);
    expect(movesRuns('trx.insertInto("run_transitions").values(rows)')).toBe(true);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the scanned source text holds a tagged template's placeholder
    expect(movesRuns("sql`update runs set revision = revision + 1, status = 'queued' where id = ${id}`")).toBe(true);
    expect(movesRuns("sql`update runs r set status = 'paused' from x where r.id = x.id`")).toBe(true);
    expect(movesRuns('db.updateTable("runs").set({ ...changes, status: to }).where("id", "=", id)')).toBe(true);
    expect(movesRuns("sql`update runs set lease_expires_time = now() from held where runs.status = 'running'`")).toBe(false);
    expect(movesRuns('db.updateTable("runs").set({ lease_expires_time: null }).where("status", "=", "running")')).toBe(false);
    expect(movesRuns('db.updateTable("tasks").set({ status: "completed" })')).toBe(false);
    expect(movesRuns('db.selectFrom("run_transitions").selectAll()')).toBe(false);
  });

  it("names each top-level function by file and name, leaving comments out", () => {
    const fns = topLevelFunctions(
      "store/x.ts",
      "/** insert into run_transitions */\nexport async function a() {}\n// insert into run_transitions\nfunction b() {}\n",
    );
    expect(fns.map((f) => f.statement)).toEqual(["store/x.ts#a", "store/x.ts#b"]);
    expect(fns.some((f) => movesRuns(f.body))).toBe(false);
  });
});
