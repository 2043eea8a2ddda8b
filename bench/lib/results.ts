import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Figure } from "./emit.js";

const resultsFile = fileURLToPath(new URL("../RESULTS.md", import.meta.url));
const marker = "<!-- figures below are written by bench/run.ts; newest first -->";

/** Prepends one section (machine, date, command, every round's figures) to bench/RESULTS.md. */
export function writeResults(run: { machine: string; command: string; rounds: Figure[][]; notes?: string[] }): void {
  const head = `# Benchmark results\n\nWorkloads: docs/benchmarks.md. Each run starts its own durable Postgres (fsync on) and Redis on this machine.\n\n${marker}\n`;
  const existing = existsSync(resultsFile) ? readFileSync(resultsFile, "utf8") : head;
  const [before, after = ""] = existing.includes(marker) ? existing.split(marker) : [head.split(marker)[0], ""];
  const metrics = [...new Set(run.rounds.flat().map((f) => `${f.workload} ${f.metric}`))];
  const rows = metrics.map((m) => {
    const values = run.rounds.map((r) => r.find((f) => `${f.workload} ${f.metric}` === m)?.value ?? "—");
    return `| ${m.replace(" ", " | ")} | ${values.join(" | ")} |`;
  });
  const section = [
    `\n## ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`,
    "",
    `- machine: ${run.machine}`,
    `- command: \`${run.command}\``,
    ...(run.notes ?? []).map((n) => `- ${n}`),
    "",
    `| workload | metric | ${run.rounds.map((_, i) => `run ${i + 1}`).join(" | ")} |`,
    `|---|---|${run.rounds.map(() => "---").join("|")}|`,
    ...rows,
    "",
  ].join("\n");
  writeFileSync(resultsFile, `${before}${marker}\n${section}${after}`);
}
