// The dashboard in a real headless browser (Debian's chromium through playwright-core) against a
// real server with a real worker running real workflows: what a person sees on the runs list and
// on a run page, live, and what happens when they act. Every page is checked with axe-core and
// photographed to dashboard/test/screenshots/.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Run, RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { ScheduleService } from "@aiki/gen/aiki/v1/schedule_service_pb";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { Client as RpcClient } from "@connectrpc/connect";
import { type Client, client, event, silentLogger, task, workflow } from "@aiki/sdk";
import { type WorkerHandle, worker } from "@aiki/worker";
import type { Page } from "playwright-core";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { seedQueuedRuns } from "./support/seed-runs.js";
import { ensureDashboardBuild, launchBrowser, screenshot, seriousViolations, type TestBrowser } from "./support/browser.js";

const wait = { timeout: 15_000 };
// Browser steps on a machine shared with other work: generous bounds, never fixed sleeps.
vi.setConfig({ testTimeout: 60_000 });
const shortId = (id: string) => id.replace(/-/g, "").slice(-8);
const h = useTestAiki();
let aiki: TestAiki;
let aikiClient: Client;
let runs: RpcClient<typeof RunService>;
let browser: TestBrowser;
let page: Page;
let spawned: WorkerHandle;

const suffix = Date.now().toString(36);
const chargeCalls = new Map<string, number>();
const charge = task({
  name: "charge",
  async handler(input: { orderId: string }) {
    const n = (chargeCalls.get(input.orderId) ?? 0) + 1;
    chargeCalls.set(input.orderId, n);
    if (n === 1) throw new Error("card declined (first try)");
    return { charged: true };
  },
  opts: { retry: { type: "fixed", maxAttempts: 3, delayMs: 50 } },
});
const pack = task({
  name: "pack",
  async handler(input: { orderId: string }) {
    return { box: input.orderId };
  },
});
const ship = workflow({ name: `ship-${suffix}` }).v("1", {
  async handler(run, input: { orderId: string }) {
    return pack.start(run, input);
  },
});
const order = workflow({ name: `order-${suffix}` }).v("1", {
  async handler(run, input: { orderId: string }) {
    await charge.start(run, input);
    await run.sleep("cool-down", { milliseconds: 100 });
    const approval = await run.events.approved.wait();
    const child = await ship.startAsChild(run, input);
    const shipped = await child.waitForStatus("completed");
    return { approval, shipped: shipped.success };
  },
  events: { approved: event<{ by: string }>() },
});
const hold = workflow({ name: `hold-${suffix}` }).v("1", {
  async handler(run) {
    await run.events.never.wait();
  },
  events: { never: event() },
});
const holder = workflow({ name: `holder-${suffix}` }).v("1", {
  async handler(run) {
    const child = await hold.startAsChild(run, undefined);
    return child.waitForStatus("completed");
  },
});
const broken = task({
  name: "always-broken",
  async handler(): Promise<void> {
    throw new Error("the warehouse is on fire");
  },
  opts: { retry: { type: "fixed", maxAttempts: 2, delayMs: 10 } },
});
const failing = workflow({ name: `failing-${suffix}` }).v("1", { handler: (run) => broken.start(run) });

beforeAll(async () => {
  ensureDashboardBuild();
  aiki = h.aiki;
  aikiClient = client({ url: aiki.url, logger: silentLogger });
  runs = aiki.client(RunService);
  spawned = await worker({
    name: "dashboard-worker",
    workflows: [order, ship, hold, holder, failing],
    opts: { pollWaitMs: 5_000, gracefulShutdownTimeoutMs: 2_000 },
  }).spawn(aikiClient);
  browser = await launchBrowser();
  page = browser.page;
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await spawned?.stop();
  await aikiClient?.close();
});

const ui = (path: string) => `${aiki.url}/ui${path}`;
const row = (id: string) => page.locator(`tr[data-run-id="${id}"]`);
const headerStatus = () => page.locator(".page-head [data-status]").first();

async function expectNoSeriousViolations(name: string) {
  const violations = await seriousViolations(page);
  expect(violations.map((v) => `${name}: ${v.id} (${v.impact}) ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`)).toEqual([]);
}

async function awaitingApproval(orderId: string) {
  const handle = await order.start(aikiClient, { orderId });
  expect((await handle.waitForStatus("awaiting_event", { timeout: 15_000 })).success).toBe(true);
  return handle;
}

describe("the runs list", () => {
  it("filters by several statuses and by workflow, keeps the filters in the URL, and counts per status", async () => {
    const waiting = await awaitingApproval("filter-1");
    const failed = await failing.start(aikiClient);
    expect((await failed.waitForStatus("failed", { timeout: 15_000 })).success).toBe(true);

    await page.goto(ui("/runs?status=AWAITING_EVENT"));
    await row(waiting.run.id).locator('[data-status="AWAITING_EVENT"]').waitFor(wait);
    expect(await row(failed.run.id).count()).toBe(0);
    // Counts cover the filter without its statuses, so every chip says what picking it shows.
    await page.locator('[data-chip="FAILED"] .count', { hasText: "1" }).waitFor(wait);

    await page.locator('[data-chip="FAILED"]').click();
    await page.waitForURL(/status=AWAITING_EVENT%2CFAILED|status=AWAITING_EVENT,FAILED/, wait);
    await row(failed.run.id).locator('[data-status="FAILED"]').waitFor(wait);
    await row(waiting.run.id).waitFor(wait);

    // "/" jumps to the filters; Enter applies them.
    await page.locator("body").press("/");
    await page.keyboard.type(failing.name);
    await page.keyboard.press("Enter");
    await page.waitForURL(new RegExp(`workflow=${failing.name}`), wait);
    await row(waiting.run.id).waitFor({ state: "detached", ...wait });
    await row(failed.run.id).waitFor(wait);

    // A reload shows the same list: the filters live in the URL.
    await page.reload();
    await row(failed.run.id).waitFor(wait);
    expect(await row(waiting.run.id).count()).toBe(0);
    await expectNoSeriousViolations("runs list (filtered)");
  });

  it("updates live without a reload: rows change status in place, new runs wait behind an 'N new' banner", async () => {
    const waiting = await awaitingApproval("live-1");
    await page.goto(ui("/runs"));
    await row(waiting.run.id).locator('[data-status="AWAITING_EVENT"]').waitFor(wait);
    await page.locator('[data-live="live"]').waitFor(wait);
    await page.evaluate("window.__sameDocument = true");

    await waiting.events.approved.send({ by: "the test" });
    await row(waiting.run.id).locator('[data-status="COMPLETED"]').waitFor(wait);

    // The approval started a child run (before its parent completed): the first new run.
    const [child] = (await runs.listChildRuns({ parentRunId: waiting.run.id })).runs;
    await page.getByRole("button", { name: /^1 new run\b/ }).waitFor(wait);
    const fresh = await failing.start(aikiClient);
    await page.getByRole("button", { name: /^2 new runs\b/ }).waitFor(wait);
    expect(await row(fresh.run.id).count()).toBe(0);
    expect(await row(child!.id).count()).toBe(0);
    await page.getByRole("button", { name: /^2 new runs\b/ }).click(wait);
    await row(fresh.run.id).waitFor(wait);
    await row(child!.id).waitFor(wait);
    expect(await page.getByRole("button", { name: /new runs?\b/ }).count()).toBe(0);
    expect(await page.evaluate("window.__sameDocument")).toBe(true);
    await screenshot(page, "runs-list");
    await expectNoSeriousViolations("runs list");
  });
});

describe("the runs list's other filters", () => {
  it("filters by parent run, reference id and created range, and says what to do when nothing matches", async () => {
    const parent = await holder.start(aikiClient);
    expect((await parent.waitForStatus("awaiting_child_workflow", { timeout: 15_000 })).success).toBe(true);
    const child = (await runs.listChildRuns({ parentRunId: parent.run.id })).runs[0]!;
    const referenced = await failing.with().opt("reference.id", `ref-${suffix}`).start(aikiClient);

    await page.goto(ui("/runs"));
    await page.getByLabel("Parent run").fill(parent.run.id);
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(new RegExp(`parent=${parent.run.id}`), wait);
    await row(child.id).waitFor(wait);
    expect(await page.locator("tbody tr[data-run-id]").count()).toBe(1);

    await page.goto(ui(`/runs?ref=ref-${suffix}`));
    await row(referenced.run.id).waitFor(wait);
    expect(await page.locator("tbody tr[data-run-id]").count()).toBe(1);

    // Created from tomorrow: nothing matches, and the page says how to get the runs back.
    await page.goto(ui("/runs"));
    const tomorrow = new Date(Date.now() + 86_400_000);
    const local = new Date(tomorrow.getTime() - tomorrow.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
    await page.getByLabel("Created from").fill(local);
    await page.getByRole("button", { name: "Apply" }).click();
    await page.getByText("No runs match these filters.").waitFor(wait);
    await screenshot(page, "runs-list-empty");
    await expectNoSeriousViolations("runs list (nothing matches)");
    await page.getByRole("link", { name: "Clear the filters" }).click();
    await row(child.id).waitFor(wait);
    await parent.cancel("filter test done");
  });
});

describe("a run page", () => {
  it("shows one timeline with every transition, task, sleep, event wait, event and child, in order", async () => {
    const handle = await awaitingApproval("timeline-1");
    await handle.events.approved.send({ by: "timeline test" });
    expect((await handle.waitForStatus("completed", { timeout: 15_000 })).success).toBe(true);

    await page.goto(ui(`/runs/${handle.run.id}`));
    await headerStatus().and(page.locator('[data-status="COMPLETED"]')).waitFor(wait);
    const titles = await page.locator("ol.timeline li .t-title").allTextContents();
    const at = (match: RegExp) => {
      const i = titles.findIndex((t) => match.test(t));
      expect(i, `${match} in ${JSON.stringify(titles)}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    const order_ = [
      at(/^created → queued$/),
      at(/^task charge$/),
      at(/^sleep cool-down \(100 ms\)$/),
      at(/^wait for event approved$/),
      at(/^event approved received$/),
      at(new RegExp(`^child run ship-${suffix} 1 started$`)),
      at(/^wait for child /),
      at(/→ completed$/),
    ];
    expect(order_).toEqual([...order_].sort((a, b) => a - b));
    // The failed first attempt of the task shows as its attempts.
    await expect(page.locator("li[data-kind=task]", { hasText: "charge" }).textContent()).resolves.toMatch(/Attempts[2-9]/);
    await expect(page.locator("li[data-kind=event]").textContent()).resolves.toMatch(/consumed/);
    // The child is in the tree, and its page links back to the parent.
    await page.locator('ul.tree [data-status="COMPLETED"]').waitFor(wait);
    await page.getByRole("button", { name: "Durations" }).click();
    await page.locator(".gantt .g-row", { hasText: "sleep cool-down" }).waitFor(wait);
    await screenshot(page, "run-page-durations");
    await page.getByRole("button", { name: "List" }).click();
    await screenshot(page, "run-page");
    await expectNoSeriousViolations("run page");
    const childId = (await page.locator("ul.tree a").first().getAttribute("href"))!.split("/").pop()!;
    await page.locator("ul.tree a").first().click();
    await page.locator(".header-grid a", { hasText: shortId(handle.run.id) }).waitFor(wait);
    expect(page.url()).toBe(ui(`/runs/${childId}`));
  });

  it("a failed run shows its failure; a refused action shows the server's error; an event sent from the UI wakes the run", async () => {
    const failed = await failing.start(aikiClient);
    await failed.waitForStatus("failed", { timeout: 15_000 });
    await page.goto(ui(`/runs/${failed.run.id}`));
    await page.locator(".failure", { hasText: "the warehouse is on fire" }).first().waitFor(wait);
    // A finished run offers only what applies to it: rerun, keep, start again.
    const actions = page.getByRole("toolbar", { name: "Run actions" });
    await actions.getByRole("button", { name: "Rerun…" }).waitFor(wait);
    for (const name of ["Cancel…", "Pause…", "Resume…", "Awake…", "Send event…"]) expect(await actions.getByRole("button", { name }).count(), name).toBe(0);

    const handle = await awaitingApproval("wake-1");
    await page.goto(ui(`/runs/${handle.run.id}`));
    await headerStatus().and(page.locator('[data-status="AWAITING_EVENT"]')).waitFor(wait);
    await page.locator('[data-live="live"]').waitFor(wait);

    await page.getByRole("button", { name: "Awake…" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Awake run" }).click();
    await page
      .getByRole("dialog")
      .getByRole("alert")
      .filter({ hasText: /FAILED_PRECONDITION: cannot awake run .*awaiting.?event/i })
      .waitFor(wait);
    await screenshot(page, "run-page-refused");
    await expectNoSeriousViolations("refused action dialog");
    await page.getByRole("dialog").getByRole("button", { name: "Close" }).click();

    await page.getByRole("button", { name: "Send event…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Event name").fill("approved");
    await dialog.getByLabel("Data (JSON)").fill('{ "by": "the dashboard" }');
    await dialog.getByLabel("Reference id (optional)").fill("approval-1");
    await dialog.getByRole("button", { name: "Send event" }).click();
    await headerStatus().and(page.locator('[data-status="COMPLETED"]')).waitFor(wait);
    // WatchRun ends once it has sent the terminal run: nothing more will change.
    await page.locator('[data-live="ended"]').waitFor(wait);
    await page.locator("li[data-kind=event]", { hasText: "consumed" }).waitFor(wait);
    const done = await handle.waitForStatus("completed", { timeout: 15_000 });
    expect(done.success && done.state.output).toMatchObject({ approval: { data: { by: "the dashboard" } } });
  });

  it("a failed run is rerun from its last failure from the UI: the new run says what it is a rerun of, and the source lists it", async () => {
    const failed = await failing.start(aikiClient);
    await failed.waitForStatus("failed", { timeout: 15_000 });
    await page.goto(ui(`/runs/${failed.run.id}`));
    await headerStatus().and(page.locator('[data-status="FAILED"]')).waitFor(wait);
    await page.getByRole("button", { name: "Rerun…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("From").selectOption("last_failure");
    await screenshot(page, "run-page-rerun-dialog");
    await expectNoSeriousViolations("rerun dialog");
    await dialog.getByRole("button", { name: "Rerun", exact: true }).click();

    await page.locator(".header-grid", { hasText: `Rerun of${shortId(failed.run.id)}` }).waitFor(wait);
    const [rerun] = (await runs.listRuns({ rerunOf: failed.run.id })).runs;
    expect(page.url()).toBe(ui(`/runs/${rerun!.id}`));
    await page.locator(".header-grid", { hasText: "its last failure" }).waitFor(wait);
    await page.goto(ui(`/runs/${failed.run.id}`));
    await page.locator(`.header-grid a[href$="${rerun!.id}"]`).waitFor(wait);
  });

  it("a cancel from the UI, confirmed with a reason, cascades to the child it listed", async () => {
    const handle = await holder.start(aikiClient);
    expect((await handle.waitForStatus("awaiting_child_workflow", { timeout: 15_000 })).success).toBe(true);
    const child = (await runs.listChildRuns({ parentRunId: handle.run.id })).runs[0]!;
    await page.goto(ui(`/runs/${handle.run.id}`));
    await page.locator(`ul.tree a[href$="${child.id}"]`).waitFor(wait);

    await page.getByRole("button", { name: "Cancel…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.locator("ul.descendants li", { hasText: shortId(child.id) }).waitFor(wait);
    await dialog.getByLabel("Reason (optional)").fill("changed my mind");
    await screenshot(page, "run-page-cancel-dialog");
    await dialog.getByRole("button", { name: "Cancel run" }).click();

    await headerStatus().and(page.locator('[data-status="CANCELLED"]')).waitFor(wait);
    await page.locator(".header-grid", { hasText: "changed my mind" }).waitFor(wait);
    await page.locator('ul.tree [data-status="CANCELLED"]').waitFor(wait);
    expect((await runs.getRun({ runId: child.id })).run?.status).toBe(RunStatus.CANCELLED);

    // A cancelled run is finished: it offers no Cancel… any more (the server would refuse it), Rerun… instead.
    await page
      .getByRole("toolbar", { name: "Run actions" })
      .getByRole("button", { name: "Cancel…" })
      .waitFor({ state: "detached", ...wait });
    await page.getByRole("toolbar", { name: "Run actions" }).getByRole("button", { name: "Rerun…" }).waitFor(wait);
  });
});

describe("the other pages", () => {
  it("starts a run from the UI and again with a run's input; schedules and workers show; no serious axe violations", async () => {
    await page.goto(ui("/start"));
    await page.getByLabel("Workflow", { exact: true }).fill(order.name);
    await page.getByLabel("Version", { exact: true }).fill("1");
    await page.getByLabel("Input (JSON)").fill('{ "orderId": ');
    await page.getByText(/^Not valid JSON yet:/).waitFor(wait);
    await page.getByLabel("Input (JSON)").fill('{ "orderId": "from-the-ui" }');
    await page.getByText(/^Not valid JSON yet:/).waitFor({ state: "detached", ...wait });
    await expectNoSeriousViolations("start run");
    await screenshot(page, "start-run");
    await page.getByRole("button", { name: "Start run" }).click();
    await page.waitForURL(/\/ui\/runs\/[0-9a-f-]{36}$/, wait);
    await headerStatus().and(page.locator('[data-status="AWAITING_EVENT"]')).waitFor(wait);
    await page.locator(".json", { hasText: "from-the-ui" }).first().waitFor(wait);
    const first = page.url().split("/").pop()!;

    await page.getByRole("button", { name: "Start again with this input" }).click();
    await page.waitForURL(/\/ui\/start\?/, wait);
    await page.getByRole("button", { name: "Start run" }).click();
    await page.waitForURL((url) => /\/ui\/runs\/[0-9a-f-]{36}$/.test(url.pathname) && !url.pathname.endsWith(first), wait);
    await page.locator(".json", { hasText: "from-the-ui" }).first().waitFor(wait);

    const schedules = aiki.client(ScheduleService);
    const { schedule } = await schedules.activateSchedule({
      name: `nightly-${suffix}`,
      workflowName: failing.name,
      workflowVersionId: "1",
      spec: { spec: { case: "interval", value: { every: durationFromMs(1_000) } } },
    });
    // An occurrence, as the server's timers fire it (awaited on WatchRuns for the schedule).
    const occurrences: Run[] = [];
    for await (const m of runs.watchRuns({ filter: { scheduleId: schedule!.id } }, { signal: AbortSignal.timeout(15_000) })) {
      occurrences.push(...m.runs);
      if (occurrences.length > 0) break;
    }
    await page.goto(ui("/schedules"));
    await page.getByRole("link", { name: `nightly-${suffix}` }).click();
    await page.getByRole("heading", { name: "Next fire times" }).waitFor(wait);
    expect(await page.locator("section", { hasText: "Next fire times" }).locator("ol li").count()).toBe(5);
    await page.locator("section", { hasText: "Recent occurrences" }).locator(`a[href$="${occurrences[0]!.id}"]`).waitFor(wait);
    await screenshot(page, "schedule");
    await expectNoSeriousViolations("schedule");
    await page.getByRole("button", { name: "Pause…" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Pause schedule" }).click();
    await page.getByRole("button", { name: "Resume…" }).waitFor(wait);
    expect((await schedules.getSchedule({ scheduleId: schedule!.id })).schedule?.status).toBe(2);
    await page.locator("section", { hasText: "Recent occurrences" }).locator(`a[href$="${occurrences[0]!.id}"]`).click();
    await page.waitForURL(new RegExp(`/ui/runs/${occurrences[0]!.id}$`), wait);
    await page.goBack();
    await page.getByRole("button", { name: "Delete…" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Delete schedule" }).click();
    await page.getByText("No schedules yet.").waitFor(wait);
    await screenshot(page, "schedules-empty");

    await page.goto(ui("/workers"));
    await page.locator("td", { hasText: "dashboard-worker" }).first().waitFor(wait);
    await screenshot(page, "workers");
    await expectNoSeriousViolations("workers");

    await page.goto(ui("/runs"));
    await page.locator("tbody tr[data-run-id]").first().waitFor(wait);
    await page.emulateMedia({ colorScheme: "dark" });
    await expectNoSeriousViolations("runs list (dark)");
    await screenshot(page, "runs-list-dark");
    await page.emulateMedia({ colorScheme: "light" });
    expect(browser.pageErrors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  }, 90_000);
});

describe("live updates when the stream breaks, and large lists", () => {
  it("falls back to polling when the live stream fails, and still shows a run's change without a reload", async () => {
    const waiting = await awaitingApproval("fallback-1");
    await page.route("**/aiki.v1.RunService/WatchRuns", (route) => route.abort("connectionreset"));
    try {
      await page.goto(ui("/runs"));
      await page.locator('[data-live="polling"]').waitFor(wait);
      await row(waiting.run.id).locator('[data-status="AWAITING_EVENT"]').waitFor(wait);
      await page.evaluate("window.__sameDocument = true");
      await waiting.events.approved.send({ by: "the fallback test" });
      await row(waiting.run.id).locator('[data-status="COMPLETED"]').waitFor(wait);
      expect(await page.evaluate("window.__sameDocument")).toBe(true);
    } finally {
      await page.unroute("**/aiki.v1.RunService/WatchRuns");
    }
  });

  it("pages through 10,000 runs as the user scrolls, keeping only the visible rows in the page", async () => {
    const bulk = `bulk-${suffix}`;
    await seedQueuedRuns(aiki.deps.db, 10_000, bulk);
    await page.goto(ui(`/runs?workflow=${bulk}`));
    await page.locator("tbody tr[data-run-id]").first().waitFor(wait);
    await page.locator('[data-chip="QUEUED"] .count', { hasText: "10000" }).waitFor(wait);
    // Scrolling to the end loads page after page (keyset paging) until the last.
    await page.waitForFunction(
      `(() => {
        const el = document.querySelector(".table-scroll");
        el.scrollTop = el.scrollHeight;
        return /^10000 loaded/.test(document.querySelector(".table-foot").textContent) && /end of list/.test(document.querySelector(".table-foot").textContent);
      })()`,
      undefined,
      { timeout: 60_000, polling: 200 },
    );
    const rendered = await page.locator("tbody tr[data-run-id]").count();
    expect(rendered).toBeGreaterThan(10);
    expect(rendered).toBeLessThan(100);
    // Scroll from top to bottom in 150 frames: the frames keep coming (a gross check only: the
    // machine is shared, so the bound is loose).
    const gaps = await page.evaluate<number[]>(`new Promise((resolve) => {
      const el = document.querySelector(".table-scroll");
      el.scrollTop = 0;
      const gaps = [];
      let last;
      const step = (t) => {
        if (last !== undefined) gaps.push(t - last);
        last = t;
        el.scrollTop += el.scrollHeight / 150;
        if (gaps.length < 150) requestAnimationFrame(step); else resolve(gaps);
      };
      requestAnimationFrame(step);
    })`);
    const sorted = [...gaps].sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(100);
    expect(await page.locator("tbody tr[data-run-id]").count()).toBeLessThan(100);
    await expectNoSeriousViolations("runs list (10,000 runs)");
  }, 120_000);
});
