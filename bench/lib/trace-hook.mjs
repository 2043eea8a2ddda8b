// Loaded with `node --import ./bench/lib/trace-hook.mjs` by bench/trace.ts in the server and
// worker processes: subscribes to the "aiki:trace" points (common/src/trace-point.ts, in
// the server and the worker), stamps each with CLOCK_MONOTONIC (shared by every process on the
// machine) and writes them as JSON lines to $AIKI_TRACE_DIR/<AIKI_TRACE_PROCESS>-<pid>.jsonl
// when the process exits. Held in memory meanwhile: a write per point would be on the path measured.
import { subscribe } from "node:diagnostics_channel";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env.AIKI_TRACE_DIR;
const proc = process.env.AIKI_TRACE_PROCESS ?? "process";
if (dir) {
  /** [monotonic ns as bigint, name, detail] */
  const points = [];
  subscribe("aiki:trace", (message) => {
    points.push([process.hrtime.bigint(), message.name, message.detail]);
  });
  process.once("exit", () => {
    const lines = points.map(([ns, name, detail]) => JSON.stringify({ ns: String(ns), proc, name, ...(detail !== undefined && { detail }) }));
    writeFileSync(join(dir, `${proc}-${process.pid}.jsonl`), lines.length > 0 ? `${lines.join("\n")}\n` : "");
  });
}
