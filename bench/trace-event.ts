// The latency trace of W3 (issue 12): one event round trip at a time, TRACE_R [100] times after
// TRACE_WARMUP [10] warm-ups, with the trace points of bench/trace.ts (server and worker in their
// own processes, every point stamped on the shared monotonic clock). The client takes its wait
// before it sends the event, as the peers' W3 does. Prints, for the median sample, every point
// from the send to the client's answer with the gap before it, and the median of each gap over
// the samples whose points came in the same order.
//
//   npx tsx bench/trace-event.ts
import { expectReached } from "./lib/aiki.js";
import { emit, envCount, envInt, percentile } from "./lib/emit.js";
import { type Point, tracedRun } from "./lib/traced-run.js";
import { eventV1 } from "./workflows.js";

const r = envInt("TRACE_R", 100);
const warmup = envCount("TRACE_WARMUP", 10);

const { points, windows, loadBefore, loadAfter } = await tracedRun(async ({ aiki, mark, measured }) => {
  for (let i = 0; i < warmup + r; i++) {
    const handle = await eventV1.start(aiki, { i });
    expectReached(await handle.waitForStatus("awaiting_event", { timeout: { seconds: 30 } }), `trace run ${i} waiting`);
    const done = handle.waitForStatus("completed", { timeout: { seconds: 30 } });
    await new Promise((resolve) => setTimeout(resolve, 20)); // the wait reaches the server and is held
    const t0 = mark("send sent");
    await handle.events.go.send({ n: i });
    mark("send answered");
    const result = await done;
    const t1 = mark("wait answered");
    expectReached(result, `trace run ${i}`);
    if (i >= warmup) measured(t0, t1);
  }
});

const ms = (ns: bigint) => Number(ns) / 1e6;
const label = (p: Point) => `${p.proc}: ${p.name}${p.detail ? ` (${p.detail.slice(0, 60)})` : ""}`;

const samples: Array<{ total: number; seq: Point[] }> = [];
let lo = 0;
for (const [t0, t1] of windows) {
  while (lo < points.length && points[lo]!.ns < t0) lo++;
  let hi = lo;
  while (hi < points.length && points[hi]!.ns <= t1) hi++;
  samples.push({ total: ms(t1 - t0), seq: points.slice(lo, hi) });
}
const totals = samples.map((s) => s.total).sort((a, b) => a - b);
const p50 = percentile(totals, 50);
const mid = samples.reduce((best, s) => (Math.abs(s.total - p50) < Math.abs(best.total - p50) ? s : best), samples[0]!);
const key = (s: { seq: Point[] }) => s.seq.map(label).join("|");
const same = samples.filter((s) => key(s) === key(mid));
const lines = [
  `W3 trace: ${samples.length} round trips after ${warmup} warm-ups; load average ${loadBefore.toFixed(2)} → ${loadAfter.toFixed(2)}`,
  `total p50 ${p50.toFixed(2)} ms, p99 ${percentile(totals, 99).toFixed(2)} ms; ${same.length} samples had the median sample's points in the same order`,
  `     at    gap  median gap  point`,
];
for (const [k, p] of mid.seq.entries()) {
  const gap = k === 0 ? 0 : ms(p.ns - mid.seq[k - 1]!.ns);
  const gaps = same.map((s) => (k === 0 ? 0 : ms(s.seq[k]!.ns - s.seq[k - 1]!.ns))).sort((a, b) => a - b);
  lines.push(
    `${ms(p.ns - mid.seq[0]!.ns)
      .toFixed(2)
      .padStart(7)} ${gap.toFixed(2).padStart(6)} ${percentile(gaps, 50).toFixed(2).padStart(11)}  ${label(p)}`,
  );
}
console.error(lines.join("\n"));
const params = { r, warmup, same_order: same.length };
emit("W3-trace", "event_rtt_p50_ms", p50, params);
emit("W3-trace", "event_rtt_p99_ms", percentile(totals, 99), params);
