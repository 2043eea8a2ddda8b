// W4: durable sleep, in two modes (W4_MODE).
//
// W4_MODE unset or "spec" (the default): docs/benchmarks.md's W4. Start S [1000] workflows that each
// sleep W4_SLEEP_MS [2000] from their own start, then complete.
//   W4_S                  workflows [1000]
//   W4_SLEEP_MS           each run's sleep [2000]
//   W4_START_CONCURRENCY  start calls in flight [50]
// Every run's completion is observed with waitForStatus("completed"), opened right after its
// start call returns (each wait is a server long-poll, so holding S of them is cheap).
// Figures:
//   lateness_p50/p99_ms         observed completion − the moment the run's start call was made −
//                               W4_SLEEP_MS, every run (bench process clock)
//   timer_lateness_p50/p99_ms   the worker resuming the run after the sleep (the handler reads
//                               the clock right after run.sleep returns) − the sleep's due time
//                               in the database, every run
//   worker_rss_mb               the worker's RSS while the runs sleep: max of samples every 100
//                               ms from the first start call to the last observed completion;
//                               params.rss_before_mb is sampled before the first start
// Params also carry peak_sleeping_runs (the most runs of this round in status sleeping at once,
// polled from the database every 250 ms) and where the lateness goes: start_to_asleep (the start
// call to the sleep's due time − W4_SLEEP_MS), split into start_to_created (the start call to the
// run's create_time), created_to_leased (to its first transition to running) and leased_to_asleep
// (to the sleep's due time − W4_SLEEP_MS; transaction times, so each includes its statement's
// queueing), server_timer_fired and db_completed (against the due time, database clock),
// db_completed_to_observed (the run's end_time to waitForStatus returning).
//
// W4_MODE=concurrent: S sleepers that all sleep until one common wake time, so every sleeper is
// asleep at the same time (holding no worker) and all are due together: timer lateness with many
// concurrent sleepers (W4_MODE=concurrent W4_S=10000 for the 10k figure). Not docs/benchmarks.md's W4,
// so its metrics are all prefixed concurrent_.
//   W4_S                  sleepers [1000]
//   W4_WAKE_AFTER_MS      the common wake time, counted from the first start call
//                         [5000 + 10 ms × S: on this 2-core machine 10 000 were all asleep
//                         48 s after the first start (~200/s; 200 took 4-5 s under others' load)]
//   W4_START_CONCURRENCY  start calls in flight [50]
//   W4_OBSERVED           runs whose completion is observed with waitForStatus, evenly spread,
//                         the waits opened once all are asleep [1000]
// The workload fails if the last sleeper fell asleep after the first was due (raise
// W4_WAKE_AFTER_MS): then they were not all asleep at once and the figures would mean less.
// Figures, each against the run's due time (its sleep's deadline in the database):
//   concurrent_timer_lateness_p50/p99_ms  the worker resuming the run after the sleep (the
//                               handler reads the clock right after run.sleep returns), every run
//   concurrent_lateness_p50/p99_ms  end to end: the completion observed by waitForStatus, of the
//                               W4_OBSERVED runs
//   concurrent_peak_sleeping_runs  the most runs of this round in status sleeping at once
//                               (polled from the database every 250 ms)
//   concurrent_worker_rss_mb    the worker's RSS while they all sleep (max of samples every 100
//                               ms), beside concurrent_worker_rss_before_mb, sampled before the
//                               first start
import pg from "pg";
import { sleepUntilV1, sleepV1 } from "./workflows.js";
import type { BenchEnv } from "./lib/bench-env.js";
import { emit, envInt, type Figure, percentile } from "./lib/emit.js";
import { type AikiOptions, type Proc, expectReached, forEachLimited, rssMb, workerConcurrency, withAiki } from "./lib/aiki.js";

export async function w4(env: BenchEnv, _round?: unknown, options: AikiOptions = {}): Promise<Figure[]> {
  const mode = process.env.W4_MODE || "spec";
  if (mode === "spec") {
    const concurrentOnly = ["W4_WAKE_AFTER_MS", "W4_OBSERVED"].filter((k) => process.env[k]);
    if (concurrentOnly.length > 0) throw new Error(`${concurrentOnly.join(", ")}: only W4_MODE=concurrent uses it`);
    return w4Spec(env, options);
  }
  if (mode === "concurrent") {
    if (process.env.W4_SLEEP_MS)
      throw new Error("W4_SLEEP_MS: W4_MODE=concurrent has no per-run sleep; every sleeper wakes at one common time, W4_WAKE_AFTER_MS after the first start");
    return w4Concurrent(env, options);
  }
  throw new Error(`W4_MODE must be "spec" (the default) or "concurrent", got "${mode}"`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
const p = (xs: number[]) => ({ p50: Math.round(percentile(xs, 50)), p99: Math.round(percentile(xs, 99)) });
const round1 = (x: number) => Math.round(x * 10) / 10;

/** The worker's RSS: `max` of samples every 100 ms, and `window` of those taken while `inWindow`. */
function rssSampler(worker: Proc) {
  const state = { before: rssMb(worker.pid), max: 0, window: 0, inWindow: false };
  state.max = state.before;
  const sample = () => {
    const mb = rssMb(worker.pid);
    state.max = Math.max(state.max, mb);
    if (state.inWindow) state.window = Math.max(state.window, mb);
  };
  const timer = setInterval(sample, 100);
  return { state, sample, stop: () => clearInterval(timer) };
}

/** Polls the count of this round's runs of `workflowName` in status sleeping every 250 ms. */
function sleepingPoller(db: pg.Client, workflowName: string, roundStart: Date, onCount: (n: number) => void) {
  let polling = true;
  let peak = 0;
  const done = (async () => {
    while (polling) {
      const { rows } = await db.query<{ n: number }>(
        "select count(*)::int as n from runs where workflow_name = $1 and status = 'sleeping' and create_time >= $2",
        [workflowName, roundStart],
      );
      peak = Math.max(peak, rows[0]!.n);
      onCount(rows[0]!.n);
      await sleep(250);
    }
  })();
  return {
    peak: () => peak,
    stop: async () => {
      polling = false;
      await done;
    },
  };
}

interface SleepRecord {
  id: string;
  deadline: Date;
  fired: Date;
  slept: Date;
  resumed: number;
  done: Date;
  created: Date;
  leased: Date;
}

/**
 * Per run: the sleep's deadline (the due time), its end_time (when the server's timer fired it),
 * the first transition to sleeping, the run's output resumedAtMs (when the worker resumed it) and
 * its end_time (when it completed). Fails unless every run has all of them.
 */
async function sleepRecords(db: pg.Client, ids: string[]): Promise<SleepRecord[]> {
  const { rows } = await db.query<{
    id: string;
    deadline: Date | null;
    fired: Date | null;
    slept: Date | null;
    resumed: string | null;
    done: Date | null;
    created: Date;
    leased: Date | null;
  }>(
    `select w.run_id as id, w.deadline, w.end_time as fired, r.output->>'resumedAtMs' as resumed, r.end_time as done,
       (select min(t.time) from run_transitions t where t.run_id = w.run_id and t.to_status = 'sleeping') as slept,
       r.create_time as created,
       (select min(t.time) from run_transitions t where t.run_id = w.run_id and t.to_status = 'running') as leased
     from run_waits w join runs r on r.id = w.run_id where w.run_id = any($1::uuid[]) and w.kind = 'sleep'`,
    [ids],
  );
  if (rows.length !== ids.length) throw new Error(`W4: ${rows.length} sleep records for ${ids.length} runs`);
  const incomplete = rows.find((r) => !r.deadline || !r.fired || !r.slept || !r.resumed || !r.done);
  if (incomplete) throw new Error(`W4: run ${incomplete.id} has no deadline, firing, sleeping transition or resume time: ${JSON.stringify(incomplete)}`);
  return rows.map((r) => ({
    id: r.id,
    deadline: r.deadline!,
    fired: r.fired!,
    slept: r.slept!,
    resumed: Number(r.resumed),
    done: r.done!,
    created: r.created,
    leased: r.leased ?? r.created,
  }));
}

/** Timer lateness of every run, and the diagnostics on the database clock, against the due time. */
function timerFigures(rows: SleepRecord[]) {
  return {
    timer: sorted(rows.map((r) => r.resumed - r.deadline.getTime())),
    fired: p(sorted(rows.map((r) => r.fired.getTime() - r.deadline.getTime()))),
    done: p(sorted(rows.map((r) => r.done.getTime() - r.deadline.getTime()))),
  };
}

async function untilAllCompleted(db: pg.Client, ids: string[], what: string): Promise<void> {
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    const { rows } = await db.query<{ n: number }>("select count(*)::int as n from runs where id = any($1::uuid[]) and status = 'completed'", [ids]);
    if (rows[0]!.n === ids.length) return;
    if (Date.now() > deadline) throw new Error(`W4: ${rows[0]!.n} of ${ids.length} completed within 20 min of ${what}`);
    await sleep(250);
  }
}

/** docs/benchmarks.md's W4: S runs, each sleeping W4_SLEEP_MS from its own start. */
async function w4Spec(env: BenchEnv, options: AikiOptions): Promise<Figure[]> {
  const s = envInt("W4_S", 1000);
  const sleepMs = envInt("W4_SLEEP_MS", 2000);
  const startConcurrency = envInt("W4_START_CONCURRENCY", 50);
  const db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  try {
    const result = await withAiki(env, { deadlineMs: 30 * 60_000, ...options }, async ({ client, worker }) => {
      const { rows: clock } = await db.query<{ now: Date }>("select now()");
      const rss = rssSampler(worker);
      const poller = sleepingPoller(db, sleepV1.name, clock[0]!.now, () => {});
      try {
        const ids: string[] = new Array(s);
        const lateness: number[] = new Array(s);
        // Epoch ms (the database's clock too) of each start call and observed completion, for
        // the diagnostics.
        const startedAt = new Map<string, number>();
        const observedAt = new Map<string, number>();
        const waits: Promise<void>[] = [];
        const first = performance.now();
        await forEachLimited(s, startConcurrency, async (i) => {
          const t0 = performance.now();
          const t0Epoch = Date.now();
          const handle = await sleepV1.start(client, { i, sleepMs });
          ids[i] = handle.run.id;
          startedAt.set(handle.run.id, t0Epoch);
          const wait = handle.waitForStatus("completed", { timeout: { minutes: 20 } }).then((r) => {
            lateness[i] = performance.now() - t0 - sleepMs;
            observedAt.set(handle.run.id, Date.now());
            expectReached(r, `W4 run ${i}`);
          });
          wait.catch(() => {});
          waits.push(wait);
        });
        const startSpanMs = Math.round(performance.now() - first);
        await Promise.all(waits);
        rss.sample();
        const observedSpanMs = Math.round(performance.now() - first);
        await untilAllCompleted(db, ids, "the last start");
        return { ids, lateness: sorted(lateness), startedAt, observedAt, startSpanMs, observedSpanMs, rss: { ...rss.state }, peak: poller.peak() };
      } finally {
        rss.stop();
        await poller.stop();
      }
    });

    const rows = await sleepRecords(db, result.ids);
    const { timer, fired, done } = timerFigures(rows);
    // Where the rest of the end-to-end lateness goes (epoch ms, one machine's clock): from the
    // start call to the run falling asleep (its due time − the sleep), and from the run's
    // completion in the database to its observation by waitForStatus.
    const toAsleep = p(sorted(rows.map((r) => r.deadline.getTime() - sleepMs - result.startedAt.get(r.id)!)));
    const toCreated = p(sorted(rows.map((r) => r.created.getTime() - result.startedAt.get(r.id)!)));
    const toLeased = p(sorted(rows.map((r) => r.leased.getTime() - r.created.getTime())));
    const leasedToAsleep = p(sorted(rows.map((r) => r.deadline.getTime() - sleepMs - r.leased.getTime())));
    const toObserved = p(sorted(rows.map((r) => result.observedAt.get(r.id)! - r.done.getTime())));
    console.error(
      `W4 worker RSS: before ${result.rss.before.toFixed(1)} MB, max ${result.rss.max.toFixed(1)} MB while ${s} runs slept ` +
        `(peak ${result.peak} asleep at once); started in ${result.startSpanMs} ms, all observed complete after ${result.observedSpanMs} ms`,
    );
    const params = {
      mode: "spec",
      s,
      sleep_ms: sleepMs,
      start_concurrency: startConcurrency,
      worker_concurrency: workerConcurrency(),
      start_span_ms: result.startSpanMs,
      observed_span_ms: result.observedSpanMs,
      peak_sleeping_runs: result.peak,
      server_timer_fired_p50_ms: fired.p50,
      server_timer_fired_p99_ms: fired.p99,
      db_completed_p50_ms: done.p50,
      db_completed_p99_ms: done.p99,
      start_to_asleep_p50_ms: toAsleep.p50,
      start_to_asleep_p99_ms: toAsleep.p99,
      start_to_created_p50_ms: toCreated.p50,
      start_to_created_p99_ms: toCreated.p99,
      created_to_leased_p50_ms: toLeased.p50,
      created_to_leased_p99_ms: toLeased.p99,
      leased_to_asleep_p50_ms: leasedToAsleep.p50,
      leased_to_asleep_p99_ms: leasedToAsleep.p99,
      db_completed_to_observed_p50_ms: toObserved.p50,
      db_completed_to_observed_p99_ms: toObserved.p99,
    };
    return [
      emit("W4", "lateness_p50_ms", percentile(result.lateness, 50), params),
      emit("W4", "lateness_p99_ms", percentile(result.lateness, 99), params),
      emit("W4", "timer_lateness_p50_ms", percentile(timer, 50), params),
      emit("W4", "timer_lateness_p99_ms", percentile(timer, 99), params),
      emit("W4", "worker_rss_mb", result.rss.max, { ...params, rss_before_mb: round1(result.rss.before) }),
    ];
  } finally {
    await db.end();
  }
}

/** W4_MODE=concurrent: S sleepers, all asleep at once, all due at one common wake time. */
async function w4Concurrent(env: BenchEnv, options: AikiOptions): Promise<Figure[]> {
  const s = envInt("W4_S", 1000);
  const wakeAfterMs = envInt("W4_WAKE_AFTER_MS", 5000 + 10 * s);
  const startConcurrency = envInt("W4_START_CONCURRENCY", 50);
  const observed = Math.min(s, envInt("W4_OBSERVED", 1000));
  const db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  try {
    const result = await withAiki(env, { deadlineMs: 30 * 60_000, ...options }, async ({ client, worker }) => {
      const { rows: clock } = await db.query<{ now: Date }>("select now()");
      // The worker's RSS, and while every sleeper is asleep (the window).
      const rss = rssSampler(worker);
      // Peak sleepers, from the database; the moment all are asleep opens the RSS window.
      let allAsleepAt: number | undefined;
      const poller = sleepingPoller(db, sleepUntilV1.name, clock[0]!.now, (n) => {
        if (n >= s && allAsleepAt === undefined) {
          allAsleepAt = Date.now();
          rss.state.inWindow = true;
          rss.sample();
        }
      });
      try {
        const first = Date.now();
        const wakeAtMs = first + wakeAfterMs;
        const handles: Array<Awaited<ReturnType<typeof sleepUntilV1.start>>> = new Array(s);
        await forEachLimited(s, startConcurrency, async (i) => {
          handles[i] = await sleepUntilV1.start(client, { i, wakeAtMs });
        });
        const startSpanMs = Date.now() - first;
        while (allAsleepAt === undefined && Date.now() < wakeAtMs) await sleep(50);
        if (allAsleepAt === undefined) {
          throw new Error(
            `W4: ${poller.peak()} of ${s} sleepers seen asleep at once by the wake time (${wakeAfterMs} ms after the first start); raise W4_WAKE_AFTER_MS`,
          );
        }
        const allAsleepAfterMs = allAsleepAt - first;
        // Observed completion, as a user sees it, of an evenly spread sample (W4_OBSERVED), the
        // waits opened once all are asleep.
        const completedAt = new Map<string, number>();
        const waits = Array.from({ length: observed }, (_, k) => Math.floor((k * s) / observed)).map((i) =>
          handles[i]!.waitForStatus("completed", { timeout: { minutes: 20 } }).then((r) => {
            expectReached(r, `W4 run ${i}`);
            completedAt.set(handles[i]!.run.id, Date.now());
          }),
        );
        for (const w of waits) w.catch(() => {});
        // RSS is sampled "while asleep" from the poll that saw them all asleep to the wake time.
        await sleep(Math.max(0, wakeAtMs - Date.now()));
        rss.state.inWindow = false;
        await Promise.all(waits);
        // Every run, observed or not, completes.
        const ids = handles.map((h) => h.run.id);
        await untilAllCompleted(db, ids, "the wake time");
        return { ids, completedAt, startSpanMs, allAsleepAfterMs, rss: { ...rss.state }, peak: poller.peak };
      } finally {
        rss.stop();
        await poller.stop();
      }
    });

    const rows = await sleepRecords(db, result.ids);
    const lastSlept = Math.max(...rows.map((r) => r.slept.getTime()));
    const firstDue = Math.min(...rows.map((r) => r.deadline.getTime()));
    if (lastSlept >= firstDue) {
      throw new Error(
        `W4: not all ${s} sleepers were asleep at once: the last fell asleep ${lastSlept - firstDue} ms after the first was due ` +
          `(started in ${result.startSpanMs} ms); raise W4_WAKE_AFTER_MS above ${wakeAfterMs}`,
      );
    }
    const due = new Map(rows.map((r) => [r.id, r.deadline.getTime()]));
    const endToEnd = sorted([...result.completedAt].map(([id, atMs]) => atMs - due.get(id)!));
    // Where the time goes, on the database clock: diagnostics beside the figures, not figures.
    const { timer, fired, done } = timerFigures(rows);
    const rss = { before: result.rss.before, asleep: result.rss.window, max: result.rss.max };
    console.error(
      `W4 (concurrent) worker RSS: before ${rss.before.toFixed(1)} MB, ${rss.asleep.toFixed(1)} MB while all ${s} slept, max ${rss.max.toFixed(1)} MB; ` +
        `all asleep ${result.allAsleepAfterMs} ms after the first start, wake at ${wakeAfterMs} ms`,
    );
    const params = {
      mode: "concurrent",
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
    return [
      emit("W4", "concurrent_timer_lateness_p50_ms", percentile(timer, 50), params),
      emit("W4", "concurrent_timer_lateness_p99_ms", percentile(timer, 99), params),
      emit("W4", "concurrent_lateness_p50_ms", percentile(endToEnd, 50), params),
      emit("W4", "concurrent_lateness_p99_ms", percentile(endToEnd, 99), params),
      emit("W4", "concurrent_peak_sleeping_runs", result.peak(), params),
      emit("W4", "concurrent_worker_rss_mb", rss.asleep, { ...params, rss_before_mb: round1(rss.before), rss_max_mb: round1(rss.max) }),
      emit("W4", "concurrent_worker_rss_before_mb", rss.before, params),
    ];
  } finally {
    await db.end();
  }
}
