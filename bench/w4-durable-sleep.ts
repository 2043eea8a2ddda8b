// W4: durable sleep. Start S [1000] workflows that each sleep W4_SLEEP_MS [2000] then complete.
// Lateness = observed completion − start call − sleep. The worker's RSS is sampled from
// /proc/<pid>/status every 100 ms from before the first start to after the last completion.
import pg from "pg";
import { sleepV1 } from "./workflows.js";
import type { BenchEnv } from "./lib/bench-env.js";
import { emit, envInt, type Figure, percentile } from "./lib/emit.js";
import { type AikiOptions, expectReached, forEachLimited, rssMb, workerConcurrency, withAiki } from "./lib/aiki.js";

export async function w4(env: BenchEnv, _round?: unknown, options: AikiOptions = {}): Promise<Figure[]> {
  const s = envInt("W4_S", 1000);
  const sleepMs = envInt("W4_SLEEP_MS", 2000);
  const startConcurrency = envInt("W4_START_CONCURRENCY", 50);
  const result = await withAiki(env, { deadlineMs: 30 * 60_000, ...options }, async ({ client, worker }) => {
    const rss = { before: rssMb(worker.pid), max: 0, after: 0, samples: 0 };
    const sampler = setInterval(() => {
      rss.max = Math.max(rss.max, rssMb(worker.pid));
      rss.samples++;
    }, 100);
    try {
      const lateness: number[] = [];
      const ids: string[] = [];
      const waits: Promise<void>[] = [];
      const first = performance.now();
      await forEachLimited(s, startConcurrency, async (i) => {
        const t0 = performance.now();
        const handle = await sleepV1.start(client, { i, sleepMs });
        ids.push(handle.run.id);
        waits.push(
          handle.waitForStatus("completed", { timeout: { minutes: 10 } }).then((r) => {
            expectReached(r, `W4 run ${i}`);
            lateness.push(performance.now() - t0 - sleepMs);
          }),
        );
      });
      const startSpanMs = performance.now() - first;
      await Promise.all(waits);
      rss.after = rssMb(worker.pid);
      return { lateness: lateness.sort((a, b) => a - b), startSpanMs, rss, ids };
    } finally {
      clearInterval(sampler);
    }
  });
  const { rss } = result;
  rss.max = Math.max(rss.max, rss.before, rss.after);
  console.error(
    `W4 worker RSS: before ${rss.before.toFixed(1)} MB, max ${rss.max.toFixed(1)} MB while ${s} slept (${rss.samples} samples), after ${rss.after.toFixed(1)} MB`,
  );
  // Where the lateness goes, on the database clock: start → sleeping, the timer's own lateness,
  // woken → completed. Diagnostics beside the figures, not figures.
  const phases = await phasesOf(env.databaseUrl, result.ids, sleepMs);
  console.error(`W4 phases (p50/p99 ms, server clock): ${JSON.stringify(phases)}`);
  const params = {
    s,
    sleep_ms: sleepMs,
    start_concurrency: startConcurrency,
    worker_concurrency: workerConcurrency(),
    start_span_ms: Math.round(result.startSpanMs),
    ...phases,
  };
  return [
    emit("W4", "lateness_p50_ms", percentile(result.lateness, 50), params),
    emit("W4", "lateness_p99_ms", percentile(result.lateness, 99), params),
    emit("W4", "worker_rss_mb", rss.max, { ...params, rss_before_mb: round1(rss.before), rss_after_mb: round1(rss.after) }),
  ];
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/** p50 and p99 of each phase of the sleepers' lives, from run_transitions. */
async function phasesOf(databaseUrl: string, ids: string[], sleepMs: number): Promise<Record<string, number>> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query(
      `with t as (
         select r.id, r.create_time,
           min(t.time) filter (where t.to_status = 'sleeping') as slept,
           min(t.time) filter (where t.from_status = 'sleeping' and t.to_status = 'queued') as woken,
           min(t.time) filter (where t.to_status = 'completed') as done
         from runs r join run_transitions t on t.run_id = r.id
         where r.id = any($1::uuid[]) group by r.id, r.create_time
       ), ms as (
         select extract(epoch from slept - create_time) * 1000 as to_sleep,
                extract(epoch from woken - slept) * 1000 - $2 as timer_late,
                extract(epoch from done - woken) * 1000 as wake_to_done
         from t
       )
       select percentile_cont(0.5) within group (order by to_sleep) as start_to_sleeping_p50_ms,
              percentile_cont(0.99) within group (order by to_sleep) as start_to_sleeping_p99_ms,
              percentile_cont(0.5) within group (order by timer_late) as timer_late_p50_ms,
              percentile_cont(0.99) within group (order by timer_late) as timer_late_p99_ms,
              percentile_cont(0.5) within group (order by wake_to_done) as woken_to_completed_p50_ms,
              percentile_cont(0.99) within group (order by wake_to_done) as woken_to_completed_p99_ms
       from ms`,
      [ids, sleepMs],
    );
    return Object.fromEntries(Object.entries(rows[0] ?? {}).map(([k, v]) => [k, Math.round(Number(v))]));
  } finally {
    await db.end();
  }
}
