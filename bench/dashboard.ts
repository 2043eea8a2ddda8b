// The dashboard, measured in a real headless browser (Debian's chromium through playwright-core,
// as dashboard/test runs it) against the server as `npm start` runs it, on durable Postgres and
// Redis (bench/lib/bench-env.ts), with the bench worker:
//
// - change_to_screen_p50_ms / _p99_ms: a run's state change (its COMPLETED transition, the
//   server's end_time) to the runs list showing it (a MutationObserver's clock in the page: the
//   same machine clock), with DASH_LIST [1000] runs in the list and the page live on WatchRuns.
//   DASH_R [30] runs wait for an event at the top of the list; each is sent its event in turn.
// - load_rows_p50_ms / load_counts_p50_ms: opening /ui/runs (navigation to the first rows shown,
//   and to the per-status counts shown) with DASH_STORE [100000] runs in the store, DASH_LOADS [5]
//   times after one warm-up.
//
//   npx tsx bench/dashboard.ts        (JSON lines on stdout; a section prepended to bench/RESULTS.md)
import { cpus, totalmem } from "node:os";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Database } from "@aiki/server";
import { ensureDashboardBuild, launchBrowser } from "../dashboard/test/support/browser.js";
import { seedQueuedRuns } from "../dashboard/test/support/seed-runs.js";
import { eventV1 } from "./workflows.js";
import { startBenchEnv } from "./lib/bench-env.js";
import { expectReached, withAiki } from "./lib/aiki.js";
import { emit, envInt, type Figure, percentile } from "./lib/emit.js";
import { writeResults } from "./lib/results.js";

const listSize = envInt("DASH_LIST", 1_000);
const r = envInt("DASH_R", 30);
const storeSize = envInt("DASH_STORE", 100_000);
const loads = envInt("DASH_LOADS", 5);
if (r >= listSize) throw new Error("DASH_R must be smaller than DASH_LIST");

ensureDashboardBuild();
const env = await startBenchEnv();
const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: env.databaseUrl, max: 2 }) }) });
const figures: Figure[] = [];
let failure: unknown;
try {
  await withAiki(env, { serverLogLevel: "info" }, async ({ url, client }) => {
    const runs = createClient(RunService, createGrpcTransport({ baseUrl: url }));
    const browser = await launchBrowser();
    try {
      const page = browser.page;
      await page.setViewportSize({ width: 1280, height: 2000 });

      // --- change to screen, with listSize runs in the list
      console.error(`[dashboard] seeding ${listSize - r} runs, starting ${r} that wait for an event`);
      await seedQueuedRuns(db, listSize - r, "dashboard-bench-idle");
      const handles = [];
      for (let i = 0; i < r; i++) handles.push(await eventV1.start(client, { i }));
      for (const h of handles) expectReached(await h.waitForStatus("awaiting_event", { timeout: { seconds: 60 } }), "bench run waiting");
      await page.goto(`${url}/ui/runs`);
      await page.locator('[data-live="live"]').waitFor({ timeout: 30_000 });
      await page.locator("tbody tr[data-run-id]").first().waitFor({ timeout: 30_000 });
      // Load the whole list (page after page), as a user scrolling to its end would.
      await page.waitForFunction(
        `(() => { const el = document.querySelector(".table-scroll"); el.scrollTop = el.scrollHeight; return document.querySelector(".table-foot").textContent.startsWith("${listSize} loaded"); })()`,
        undefined,
        { timeout: 60_000, polling: 200 },
      );
      await page.evaluate(`(() => {
        const el = document.querySelector(".table-scroll");
        el.scrollTop = 0;
        window.__shown = {};
        new MutationObserver(() => {
          for (const badge of document.querySelectorAll('tr[data-run-id] [data-status="COMPLETED"]')) {
            const id = badge.closest("tr").dataset.runId;
            if (!(id in window.__shown)) window.__shown[id] = Date.now();
          }
        }).observe(document.querySelector("table.runs"), { subtree: true, childList: true, characterData: true, attributes: true });
      })()`);
      for (const h of handles) {
        await page.locator(`tr[data-run-id="${h.run.id}"] [data-status="AWAITING_EVENT"]`).waitFor({ timeout: 30_000 });
      }
      const latencies: number[] = [];
      for (const [i, h] of handles.entries()) {
        await h.events.go.send({ n: i });
        await page.waitForFunction(`"${h.run.id}" in window.__shown`, undefined, { timeout: 30_000, polling: "raf" });
        const shown = await page.evaluate<number>(`window.__shown["${h.run.id}"]`);
        const run = (await runs.getRun({ runId: h.run.id })).run!;
        latencies.push(shown - timestampMs(run.endTime!));
      }
      latencies.sort((a, b) => a - b);
      const params = { list: listSize, r };
      figures.push(emit("DASH", "change_to_screen_p50_ms", percentile(latencies, 50), params));
      figures.push(emit("DASH", "change_to_screen_p99_ms", percentile(latencies, 99), params));

      // --- page load, with storeSize runs in the store
      console.error(`[dashboard] seeding up to ${storeSize} runs in the store`);
      const total = Number((await runs.countRuns({})).total);
      await seedQueuedRuns(db, Math.max(0, storeSize - total), "dashboard-bench-store");
      const rowsMs: number[] = [];
      const countsMs: number[] = [];
      for (let i = 0; i <= loads; i++) {
        await page.goto("about:blank");
        const t0 = Date.now();
        await page.goto(`${url}/ui/runs`, { waitUntil: "commit" });
        await page.locator("tbody tr[data-run-id]").first().waitFor({ timeout: 60_000 });
        const tRows = Date.now();
        await page.locator('.chips button[aria-pressed="true"] .count').waitFor({ timeout: 60_000 });
        const tCounts = Date.now();
        if (i === 0) continue; // warm-up
        rowsMs.push(tRows - t0);
        countsMs.push(tCounts - t0);
      }
      rowsMs.sort((a, b) => a - b);
      countsMs.sort((a, b) => a - b);
      const loadParams = { store: storeSize, loads };
      figures.push(emit("DASH", "load_rows_p50_ms", percentile(rowsMs, 50), loadParams));
      figures.push(emit("DASH", "load_counts_p50_ms", percentile(countsMs, 50), loadParams));
    } finally {
      await browser.close();
    }
  });
} catch (error) {
  failure = error;
} finally {
  await db.destroy();
  await env.close();
}
if (figures.length > 0) {
  writeResults({
    machine: `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    command: "npx tsx bench/dashboard.ts",
    notes: [
      "deployment: server (npm start's tsx) and bench worker in their own Node processes, headless chromium (Debian's, playwright-core) on the built dashboard, durable Postgres and Redis: all on these cores",
      `change_to_screen: a run's COMPLETED end_time (server clock) to the runs list showing it (page clock, same machine), ${listSize} runs loaded in the list, live on WatchRuns; load: navigation to first rows / to per-status counts with ${storeSize} runs in the store`,
    ],
    rounds: [figures],
  });
}
if (failure) {
  console.error(failure);
  process.exit(1);
}
