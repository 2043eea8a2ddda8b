// W4: durable sleep. Start S [1000] workflows that all sleep until one common wake time, so every
// sleeper is asleep at the same time (holding no worker) and all are due together.
//   W4_S                  sleepers [1000]; W4_S=10000 for the 10k figure
//   W4_WAKE_AFTER_MS      the common wake time, counted from the first start call
//                         [5000 + 10 ms × S: on this 2-core machine 10 000 were all asleep
//                         48 s after the first start (~200/s; 200 took 4-5 s under others' load)]
//   W4_START_CONCURRENCY  start calls in flight [50]
//   W4_OBSERVED           runs whose completion is observed with waitForStatus, evenly spread [1000]
// The workload fails if the last sleeper fell asleep after the first was due (raise
// W4_WAKE_AFTER_MS): then they were not all asleep at once and the figures would mean less.
// Figures, each against the run's due time (its sleep's deadline in the database):
//   timer_lateness_p50/p99_ms   the worker resuming the run after the sleep (the handler reads
//                               the clock right after run.sleep returns), every run
//   lateness_p50/p99_ms         end to end: the completion observed by waitForStatus, of the
//                               W4_OBSERVED runs
//   peak_sleeping_runs          the most runs of this round in status sleeping at once (polled
//                               from the database every 250 ms)
//   worker_rss_mb               the worker's RSS while they all sleep (max of samples every 100
//                               ms), beside worker_rss_before_mb, sampled before the first start
import pg from "pg";
import { sleepUntilV1 } from "./workflows.js";
import type { BenchEnv } from "./lib/bench-env.js";
import { emit, envInt, type Figure, percentile } from "./lib/emit.js";
import { type AikiOptions, expectReached, forEachLimited, rssMb, workerConcurrency, withAiki } from "./lib/aiki.js";

export async function w4(env: BenchEnv, _round?: unknown, options: AikiOptions = {}): Promise<Figure[]> {
  if (process.env.W4_SLEEP_MS) throw new Error("W4_SLEEP_MS is gone: every sleeper wakes at one common time, W4_WAKE_AFTER_MS after the first start");
  const s = envInt("W4_S", 1000);
  const wakeAfterMs = envInt("W4_WAKE_AFTER_MS", 5000 + 10 * s);
  const startConcurrency = envInt("W4_START_CONCURRENCY", 50);
  const observed = Math.min(s, envInt("W4_OBSERVED", 1000));
  const db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  try {
    const result = await withAiki(env, { deadlineMs: 30 * 60_000, ...options }, async ({ client, worker }) => {
      const rssBefore = rssMb(worker.pid);
      const { rows: clock } = await db.query<{ now: Date }>("select now()");
      const roundStart = clock[0]!.now;
      // The worker's RSS, and while every sleeper is asleep.
      let asleepWindow = false;
      let rssAsleep = 0;
      let rssMax = rssBefore;
      const sampleRss = () => {
        const mb = rssMb(worker.pid);
        rssMax = Math.max(rssMax, mb);
        if (asleepWindow) rssAsleep = Math.max(rssAsleep, mb);
      };
      const sampler = setInterval(sampleRss, 100);
      // Peak sleepers, from the database; the moment all are asleep opens the RSS window.
      let peak = 0;
      let sleepingNow = 0;
      let allAsleepAt: number | undefined;
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const { rows } = await db.query<{ n: number }>(
            "select count(*)::int as n from runs where workflow_name = $1 and status = 'sleeping' and create_time >= $2",
            [sleepUntilV1.name, roundStart],
          );
          sleepingNow = rows[0]!.n;
          peak = Math.max(peak, sleepingNow);
          if (sleepingNow >= s && allAsleepAt === undefined) {
            allAsleepAt = Date.now();
            asleepWindow = true;
            sampleRss();
          }
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      try {
        const first = Date.now();
        const wakeAtMs = first + wakeAfterMs;
        const handles: Array<Awaited<ReturnType<typeof sleepUntilV1.start>>> = new Array(s);
        await forEachLimited(s, startConcurrency, async (i) => {
          handles[i] = await sleepUntilV1.start(client, { i, wakeAtMs });
        });
        const startSpanMs = Date.now() - first;
        const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
        while (allAsleepAt === undefined && Date.now() < wakeAtMs) await sleep(50);
        if (allAsleepAt === undefined) {
          throw new Error(`W4: ${peak} of ${s} sleepers seen asleep at once by the wake time (${wakeAfterMs} ms after the first start); raise W4_WAKE_AFTER_MS`);
        }
        const allAsleepAfterMs = allAsleepAt - first;
        // Observed completion, as a user sees it, of an evenly spread sample, the waits opened once
        // all are asleep: each held WaitForRunStatus re-reads its run every 2 s, so 10 000 of them
        // would load the server more than the sleepers do.
        const completedAt = new Map<string, number>();
        const waits = Array.from({ length: observed }, (_, k) => Math.floor((k * s) / observed)).map((i) =>
          handles[i]!.waitForStatus("completed", { timeout: { minutes: 20 } }).then((r) => {
            expectReached(r, `W4 run ${i}`);
            completedAt.set(handles[i]!.run.id, Date.now());
          }),
        );
        waits.forEach((w) => w.catch(() => {}));
        // RSS is sampled "while asleep" from the poll that saw them all asleep to the wake time.
        await sleep(Math.max(0, wakeAtMs - Date.now()));
        asleepWindow = false;
        await Promise.all(waits);
        // Every run, observed or not, completes.
        const ids = handles.map((h) => h.run.id);
        const deadline = Date.now() + 20 * 60_000;
        for (;;) {
          const { rows } = await db.query<{ n: number }>("select count(*)::int as n from runs where id = any($1::uuid[]) and status = 'completed'", [ids]);
          if (rows[0]!.n === s) break;
          if (Date.now() > deadline) throw new Error(`W4: ${rows[0]!.n} of ${s} completed within 20 min of the wake time`);
          await sleep(250);
        }
        return { ids, completedAt, startSpanMs, allAsleepAfterMs, rssBefore, rssAsleep, rssMax, peak: () => peak };
      } finally {
        clearInterval(sampler);
        polling = false;
        await poller;
      }
    });

    const { ids } = result;
    // The sleep's deadline is the due time; its end_time is when the server's timer fired it;
    // the run's output says when the worker resumed it, its end_time when it completed.
    const { rows } = await db.query<{ id: string; deadline: Date | null; fired: Date | null; slept: Date | null; resumed: string | null; done: Date | null }>(
      `select w.run_id as id, w.deadline, w.end_time as fired, r.output->>'resumedAtMs' as resumed, r.end_time as done,
         (select min(t.time) from run_transitions t where t.run_id = w.run_id and t.to_status = 'sleeping') as slept
       from run_waits w join runs r on r.id = w.run_id where w.run_id = any($1::uuid[]) and w.kind = 'sleep'`,
      [ids],
    );
    if (rows.length !== s) throw new Error(`W4: ${rows.length} sleep records for ${s} runs`);
    const incomplete = rows.find((r) => !r.deadline || !r.fired || !r.slept || !r.resumed || !r.done);
    if (incomplete) throw new Error(`W4: run ${incomplete.id} has no deadline, firing or sleeping transition: ${JSON.stringify(incomplete)}`);
    const lastSlept = Math.max(...rows.map((r) => r.slept!.getTime()));
    const firstDue = Math.min(...rows.map((r) => r.deadline!.getTime()));
    if (lastSlept >= firstDue) {
      throw new Error(
        `W4: not all ${s} sleepers were asleep at once: the last fell asleep ${lastSlept - firstDue} ms after the first was due ` +
          `(started in ${result.startSpanMs} ms); raise W4_WAKE_AFTER_MS above ${wakeAfterMs}`,
      );
    }
    const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
    const due = new Map(rows.map((r) => [r.id, r.deadline!.getTime()]));
    const endToEnd = sorted([...result.completedAt].map(([id, atMs]) => atMs - due.get(id)!));
    const timer = sorted(rows.map((r) => Number(r.resumed) - r.deadline!.getTime()));
    const p = (xs: number[]) => ({ p50: Math.round(percentile(xs, 50)), p99: Math.round(percentile(xs, 99)) });
    // Where the time goes, on the database clock. Diagnostics beside the figures, not figures.
    const fired = p(sorted(rows.map((r) => r.fired!.getTime() - r.deadline!.getTime())));
    const done = p(sorted(rows.map((r) => r.done!.getTime() - r.deadline!.getTime())));
    const rss = { before: result.rssBefore, asleep: result.rssAsleep, max: result.rssMax };
    console.error(
      `W4 worker RSS: before ${rss.before.toFixed(1)} MB, ${rss.asleep.toFixed(1)} MB while all ${s} slept, max ${rss.max.toFixed(1)} MB; ` +
        `all asleep ${result.allAsleepAfterMs} ms after the first start, wake at ${wakeAfterMs} ms`,
    );
    const params = {
      s,
      wake_after_ms: wakeAfterMs,
      start_concurrency: startConcurrency,
      worker_concurrency: workerConcurrency(),
      start_span_ms: result.startSpanMs,
      all_asleep_after_ms: result.allAsleepAfterMs,
      observed: result.completedAt.size,
      server_timer_fired_p50_ms: fired.p50,
      server_timer_fired_p99_ms: fired.p99,
      db_completed_p50_ms: done.p50,
      db_completed_p99_ms: done.p99,
    };
    const round1 = (x: number) => Math.round(x * 10) / 10;
    return [
      emit("W4", "timer_lateness_p50_ms", percentile(timer, 50), params),
      emit("W4", "timer_lateness_p99_ms", percentile(timer, 99), params),
      emit("W4", "lateness_p50_ms", percentile(endToEnd, 50), params),
      emit("W4", "lateness_p99_ms", percentile(endToEnd, 99), params),
      emit("W4", "peak_sleeping_runs", result.peak(), params),
      emit("W4", "worker_rss_mb", rss.asleep, { ...params, rss_before_mb: round1(rss.before), rss_max_mb: round1(rss.max) }),
      emit("W4", "worker_rss_before_mb", rss.before, params),
    ];
  } finally {
    await db.end();
  }
}
