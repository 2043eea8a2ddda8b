// The latency trace (issue 12, point 1): one W2 workflow (three tasks) at a time, TRACE_R [200]
// times after TRACE_WARMUP [20] warm-ups, against the bench deployment (server and worker in
// their own processes, bench/lib/aiki.ts) with every boundary stamped on CLOCK_MONOTONIC, which
// every process on the machine shares: the client's send and answer here, and in the server and
// the worker the named points of common/src/trace-point.ts (server and worker) (HTTP/2
// request, handler, client session calls and answers, each SQL statement's start and end, lease
// push, worker session calls and answers, handler entry, each task, completion), collected by
// bench/lib/trace-hook.mjs.
//
//   npx tsx bench/trace.ts        (TRACE_R, TRACE_WARMUP, BENCH_WORKER_CONCURRENCY as for W2)
//
// Prints a waterfall of the critical path (below): each row the median gap between two of its
// consecutive points, over the workflows whose lease went the common way (handed over at the
// insert, or claimed after it), with the rows' sum and those workflows' median total. A row is
// "db" from a statement's start to its end, "hop" when its ends are in two processes, else
// "work" in one process.
// JSON lines on stdout (bench/lib/emit.ts and one per row); the table on stderr.
import { expectReached } from "./lib/aiki.js";
import { emit, envCount, envInt, percentile } from "./lib/emit.js";
import { type Point, tracedRun } from "./lib/traced-run.js";
import { threeStepsV1 } from "./workflows.js";

const r = envInt("TRACE_R", 200);
const warmup = envCount("TRACE_WARMUP", 20);

const { points, windows, loadBefore, loadAfter } = await tracedRun(async ({ aiki, mark, measured }) => {
  for (let i = 0; i < warmup + r; i++) {
    const t0 = mark("start sent");
    const handle = await threeStepsV1.start(aiki, { i });
    mark("start answered; wait sent");
    const result = await handle.waitForStatus("completed", { timeout: { seconds: 30 } });
    const t1 = mark("wait answered");
    expectReached(result, `trace run ${i}`);
    if (i >= warmup) measured(t0, t1);
  }
});

const ms = (ns: bigint) => Number(ns) / 1e6;

type Kind = "db" | "hop" | "work";
// The critical path of a W2 workflow, as the points that follow one another on it: the client's
// start, the run's insert (which leases it to the worker's idle session, or leaves it queued for
// a claim), the lease's push, the handler, three tasks (each a StartTask call and its answer;
// the task's completion travels with the next call), CompleteRun, the held WaitForRunStatus it
// answers, the client's answer. The client's start answer and its wait call run beside the
// worker and are off the path. `same` pairs a statement's end with the start just matched.
type Step = { proc: string; name: string; detail?: RegExp; same?: true };
// The worker pipelines fresh tasks by default (eagerTasks): it runs the whole handler while the
// first StartTask is in flight. The server holds the StartTasks until the CompleteRun carrying
// the last result arrives, and writes the three tasks (each started and finished) with the run's
// completion in one statement (server/src/api/pipelined-attempts.ts); a run whose first start was
// written alone (its hold ran out) shows that statement inside the row before the last one.
// BENCH_WORKER_EAGER_TASKS=0 traces the other way, each task after its StartTask's answer.
const eager = process.env.BENCH_WORKER_EAGER_TASKS !== "0";
const task = (): Step[] => [
  { proc: "worker", name: "call sent", detail: /^startTask$/ },
  { proc: "server", name: "session call", detail: /^startTask$/ },
  { proc: "server", name: "sql start", detail: /tasks/ },
  { proc: "server", name: "sql end", same: true },
  { proc: "server", name: "session answered", detail: /^startTask$/ },
  { proc: "worker", name: "call answered" },
  { proc: "worker", name: "task running" },
  { proc: "worker", name: "task returned" },
];
const pipelined: Step[] = [
  { proc: "worker", name: "call sent", detail: /^startTask$/ },
  { proc: "server", name: "session call", detail: /^startTask$/ },
  { proc: "worker", name: "call sent", detail: /^completeRun$/ },
  { proc: "server", name: "session call", detail: /^completeRun$/ },
];
const path: Step[] = [
  { proc: "client", name: "start sent" },
  // The SDK's starts and waits travel on its client session (RunService.ClientSession).
  { proc: "server", name: "client call", detail: /^StartRun$/ },
  { proc: "server", name: "sql start", detail: /^insert runs/ },
  { proc: "server", name: "sql end", same: true },
  { proc: "server", name: "lease pushed" },
  { proc: "worker", name: "lease received" },
  { proc: "worker", name: "handler entered" },
  ...(eager
    ? pipelined
    : [
        ...task(),
        ...task(),
        ...task(),
        { proc: "worker", name: "handler returned" },
        { proc: "worker", name: "call sent", detail: /^completeRun$/ },
        { proc: "server", name: "session call", detail: /^completeRun$/ },
      ]),
  { proc: "server", name: "sql start", detail: /update runs/ },
  { proc: "server", name: "sql end", same: true },
  { proc: "server", name: "wait woken" },
  { proc: "server", name: "client answered", detail: /^WaitForRunStatus$/ },
  { proc: "client", name: "wait answered" },
];

interface Traced {
  /** The time of each step from the client's send, ms; undefined when a step was not found. */
  at: Array<number | undefined>;
  /** How the run reached the worker: "handed over" at its insert, or "claimed" after it. */
  lease: string;
  /** The statement each sql step matched, by step. */
  sql: Map<number, string>;
  total: number;
}

/** Finds the path's steps in order among one workflow's points. */
function follow(inWindow: readonly Point[], t0: bigint): Omit<Traced, "total"> {
  const at: Array<number | undefined> = [];
  const sql = new Map<number, string>();
  let from = 0;
  let lastSql: string | undefined;
  let lease = "";
  for (const [i, step] of path.entries()) {
    const k = inWindow.findIndex(
      (p, j) =>
        j >= from && p.proc === step.proc && p.name === step.name && (step.same ? p.detail === lastSql : !step.detail || step.detail.test(p.detail ?? "")),
    );
    if (k < 0) {
      at.push(undefined);
      continue;
    }
    const p = inWindow[k]!;
    if (p.name === "sql start") lastSql = p.detail;
    if (p.name.startsWith("sql ")) sql.set(i, p.detail ?? "");
    if (p.name === "lease pushed") lease = p.detail ?? "";
    at.push(ms(p.ns - t0));
    from = k + 1;
  }
  return { at, lease, sql };
}

const traced: Traced[] = [];
let lo = 0;
// TRACE_DUMP=1: every point of the last workflow on stderr, to fit the path to a changed protocol.
let last: string[] = [];
for (const [t0, t1] of windows) {
  while (lo < points.length && points[lo]!.ns < t0) lo++;
  let hi = lo;
  while (hi < points.length && points[hi]!.ns <= t1) hi++;
  traced.push({ ...follow(points.slice(lo, hi), t0), total: ms(t1 - t0) });
  last = points.slice(lo, hi).map(
    (p) =>
      `${ms(p.ns - t0)
        .toFixed(2)
        .padStart(7)}  ${p.proc}: ${p.name}${p.detail ? ` (${p.detail})` : ""}`,
  );
}
if (process.env.TRACE_DUMP === "1") console.error(last.join("\n"));

const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
const totals = traced.map((t) => t.total).sort((a, b) => a - b);
const complete = traced.filter((t) => t.at.every((x) => x !== undefined));
const names = path.map((step) => `${step.proc}: ${step.name}${step.detail ? ` ${step.detail.source.replace(/[\^$]/g, "")}` : ""}`);
// The statements the sql steps matched, named from the first complete workflow.
const sqlNames = complete[0]?.sql ?? new Map<number, string>();
const stepName = (i: number) => (sqlNames.has(i) ? `${path[i]!.proc}: ${path[i]!.name} (${sqlNames.get(i)})` : names[i]!);

function waterfall(group: Traced[]) {
  return path.slice(1).map((step, k) => {
    const gaps = group.map((t) => t.at[k + 1]! - t.at[k]!);
    const kind: Kind = path[k]!.name === "sql start" && step.same ? "db" : path[k]!.proc !== step.proc ? "hop" : "work";
    return { from: stepName(k), to: stepName(k + 1), kind, ms: median(gaps), mean_ms: gaps.reduce((a, b) => a + b, 0) / gaps.length };
  });
}
const handed = complete.filter((t) => t.lease === "handed over");
const claimedRuns = complete.filter((t) => t.lease === "claimed");
const shown = handed.length >= claimedRuns.length ? handed : claimedRuns;
const rows = waterfall(shown);
const sum = rows.reduce((a, b) => a + b.ms, 0);
const meanSum = rows.reduce((a, b) => a + b.mean_ms, 0);
// By kind in means, which add up to the mean total exactly (medians of skewed gaps do not).
const byKind = { db: 0, hop: 0, work: 0 } as Record<Kind, number>;
for (const row of rows) byKind[row.kind] += row.mean_ms;
const leaseRow = path.findIndex((s) => s.name === "lease pushed") - 1;
const shownTotal = median(shown.map((t) => t.total));
const shownMean = shown.reduce((a, t) => a + t.total, 0) / shown.length;

const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length));
const lines: string[] = [];
lines.push(`W2 trace: ${traced.length} workflows after ${warmup} warm-ups; load average ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)}`);
lines.push(
  `total p50 ${median(totals).toFixed(2)} ms, p99 ${percentile(totals, 99).toFixed(2)} ms; lease handed over at the insert: ${handed.length} (p50 ${median(handed.map((t) => t.total)).toFixed(2)} ms), claimed after it: ${claimedRuns.length} (p50 ${median(claimedRuns.map((t) => t.total)).toFixed(2)} ms); path incomplete: ${traced.length - complete.length}`,
);
if (claimedRuns.length > 0 && handed.length > 0) {
  const gap = (g: Traced[]) => median(g.map((t) => t.at[leaseRow + 1]! - t.at[leaseRow]!));
  lines.push(`insert's end → lease pushed: ${gap(handed).toFixed(2)} ms handed over, ${gap(claimedRuns).toFixed(2)} ms claimed (hint, wake, claim statement)`);
}
lines.push(
  `waterfall of the ${shown === handed ? "handed-over" : "claimed"} workflows (${shown.length}); per row the median and the mean gap; db: a statement from its start to its end (commit included), hop: between processes:`,
);
lines.push(`     at  median    mean  kind  from  →  to`);
let cursor = 0;
for (const row of rows) {
  lines.push(
    `${cursor.toFixed(2).padStart(7)} ${row.ms.toFixed(2).padStart(7)} ${row.mean_ms.toFixed(2).padStart(7)}  ${pad(row.kind, 4)}  ${row.from}  →  ${row.to}`,
  );
  cursor += row.ms;
}
lines.push(
  `sum of row medians ${sum.toFixed(2)} ms (median total ${shownTotal.toFixed(2)} ms); sum of row means ${meanSum.toFixed(2)} ms (mean total ${shownMean.toFixed(2)} ms)`,
);
lines.push(
  `by kind (means): db ${byKind.db.toFixed(2)} ms (${((100 * byKind.db) / meanSum).toFixed(0)}%), hops ${byKind.hop.toFixed(2)} ms (${((100 * byKind.hop) / meanSum).toFixed(0)}%), in-process work ${byKind.work.toFixed(2)} ms (${((100 * byKind.work) / meanSum).toFixed(0)}%)`,
);
console.error(lines.join("\n"));
for (const row of rows) console.log(JSON.stringify({ system: "aiki", workload: "W2-trace", row }));
const params = { r, warmup, handed_over: handed.length, claimed: claimedRuns.length, incomplete: traced.length - complete.length };
emit("W2-trace", "latency_p50_ms", median(totals), params);
emit("W2-trace", "latency_p99_ms", percentile(totals, 99), params);
emit("W2-trace", "waterfall_sum_ms", sum, params);
emit("W2-trace", "waterfall_total_p50_ms", shownTotal, params);
emit("W2-trace", "db_ms", byKind.db, params);
emit("W2-trace", "hop_ms", byKind.hop, params);
emit("W2-trace", "work_ms", byKind.work, params);
