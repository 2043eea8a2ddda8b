// Bulk actions, tags and retention in the dashboard, in a real headless browser against a real
// server (Postgres, Redis): rows selected or "all matching this filter", the confirmation with the
// server's dry-run count, the operation's progress until it ends, and the runs' states checked
// through the API afterwards. The runs are of workflows no worker serves, so they stay queued until
// the dashboard acts on them. Pages are checked with axe-core and photographed to
// dashboard/test/screenshots/.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { BatchOperationStatus, BatchService } from "@aiki/gen/aiki/v1/batch_service_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { Client as RpcClient } from "@connectrpc/connect";
import type { Page } from "playwright-core";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { ensureDashboardBuild, launchBrowser, screenshot, seriousViolations, type TestBrowser } from "./support/browser.js";

const wait = { timeout: 15_000 };
// Browser steps on a machine shared with other work: generous bounds, never fixed sleeps.
vi.setConfig({ testTimeout: 60_000 });
// One running operation at a time, so a second one is refused (the refusal test).
const h = useTestAiki({ limits: { maxRunningBatchOperations: 1 } });
let runs: RpcClient<typeof RunService>;
let batches: RpcClient<typeof BatchService>;
let browser: TestBrowser;
let page: Page;

beforeAll(async () => {
  ensureDashboardBuild();
  runs = h.rpc(RunService);
  batches = h.rpc(BatchService);
  browser = await launchBrowser();
  page = browser.page;
}, 120_000);
afterAll(async () => {
  await browser?.close();
});

const ui = (path: string) => `${h.url}/ui${path}`;
const row = (id: string) => page.locator(`tr[data-run-id="${id}"]`);
const bar = () => page.getByRole("toolbar", { name: "Bulk actions" });
const shortId = (id: string) => id.replace(/-/g, "").slice(-8);

async function startQueued(workflowName: string, count: number, tags: Record<string, string> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const { run } = await runs.startRun({ workflowName, workflowVersionId: "1", tags });
    ids.push(run!.id);
  }
  return ids;
}

async function statusesOf(ids: string[]): Promise<Map<string, RunStatus>> {
  const { runs: got } = await runs.listRuns({ runIds: ids, pageSize: 100 });
  return new Map(got.map((r) => [r.id, r.status]));
}

async function expectNoSeriousViolations(name: string) {
  const violations = await seriousViolations(page);
  expect(violations.map((v) => `${name}: ${v.id} (${v.impact}) ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`)).toEqual([]);
}

describe("bulk actions on the runs list", () => {
  it("pauses three selected rows: the confirmation says 3, the progress completes, those runs are paused and no other", async () => {
    const name = h.uniqueName("bulk-pause");
    const ids = await startQueued(name, 5);
    await page.goto(ui(`/runs?workflow=${name}`));
    for (const id of ids) await row(id).waitFor(wait);

    // Keyboard: the row checkboxes are in the tab order; Space toggles.
    const picked = ids.slice(0, 3);
    await row(picked[0]!).getByRole("checkbox").focus();
    await page.keyboard.press("Space");
    for (const id of picked.slice(1))
      await row(id)
        .getByRole("checkbox", { name: `Select run ${shortId(id)}` })
        .check();
    await bar().getByText("3 selected").waitFor(wait);
    expect(
      await page.getByRole("checkbox", { name: "Select the 5 loaded runs" }).evaluate((e) => (e as unknown as { indeterminate: boolean }).indeterminate),
    ).toBe(true);
    await screenshot(page, "bulk-action-bar");
    await expectNoSeriousViolations("runs list with the action bar");
    await page.emulateMedia({ colorScheme: "dark" });
    await expectNoSeriousViolations("runs list with the action bar (dark)");
    await screenshot(page, "bulk-action-bar-dark");
    await page.emulateMedia({ colorScheme: "light" });

    await bar().getByRole("button", { name: "Pause…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.locator('[data-matching="3"]').waitFor(wait);
    await dialog.getByText("This will pause 3 runs").waitFor(wait);
    await dialog.getByLabel("Reason (optional)").fill("provider outage");
    await screenshot(page, "bulk-confirm");
    await expectNoSeriousViolations("bulk confirmation dialog");
    await dialog.getByRole("button", { name: "Pause 3 runs" }).click();

    await dialog.locator('[data-batch-status="COMPLETED"]').waitFor(wait);
    expect(await dialog.locator('[data-count="done"]').textContent()).toBe("3");
    expect(await dialog.locator('[data-count="skipped"]').textContent()).toBe("0");
    expect(await dialog.locator('[data-count="failed"]').textContent()).toBe("0");
    await screenshot(page, "bulk-progress");
    await expectNoSeriousViolations("bulk progress");
    await dialog.getByRole("button", { name: "Close" }).click();

    const statuses = await statusesOf(ids);
    for (const id of picked) expect(statuses.get(id), id).toBe(RunStatus.PAUSED);
    for (const id of ids.slice(3)) expect(statuses.get(id), id).toBe(RunStatus.QUEUED);
    const { run } = await runs.getRun({ runId: picked[0]! });
    expect(run!.statusReason).toContain("provider outage");
    // The list shows them paused, and the selection is gone.
    for (const id of picked) await row(id).locator('[data-status="PAUSED"]').waitFor(wait);
    expect(await bar().count()).toBe(0);
  });

  it("cancels 'all matching this filter' with a tag filter: only the tagged runs are cancelled", async () => {
    const name = h.uniqueName("bulk-tag");
    const tagged = await startQueued(name, 4, { incident: "inc-42" });
    const other = await startQueued(name, 3, { incident: "inc-7" });
    const untagged = await startQueued(name, 2);

    // The tag filter is typed in the filters and kept in the URL.
    await page.goto(ui(`/runs?workflow=${name}`));
    for (const id of [...tagged, ...other, ...untagged]) await row(id).waitFor(wait);
    await page.getByLabel("Tags").fill("incident=inc-42");
    await page.getByLabel("Tags").press("Enter");
    await page.waitForURL(/tag=incident%3Dinc-42/, wait);
    for (const id of tagged) await row(id).waitFor(wait);
    expect(await page.locator("tr[data-run-id]").count()).toBe(4);
    await row(tagged[0]!).getByRole("button", { name: "incident=inc-42" }).waitFor(wait);

    await row(tagged[0]!).getByRole("checkbox").check();
    await bar().getByRole("button", { name: "Select all 4 matching this filter" }).click();
    await bar().getByText("All 4 runs matching this filter").waitFor(wait);
    await bar().getByRole("button", { name: "Cancel…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.locator('[data-matching="4"]').waitFor(wait);
    await dialog.getByLabel("Reason (optional)").fill("bad deploy");
    await dialog.getByRole("button", { name: "Cancel 4 runs" }).click();
    await dialog.locator('[data-batch-status="COMPLETED"]').waitFor(wait);
    expect(await dialog.locator('[data-count="done"]').textContent()).toBe("4");
    const opId = await dialog.locator("[data-operation-id]").getAttribute("data-operation-id");
    await dialog.getByRole("button", { name: "Close" }).click();

    const statuses = await statusesOf([...tagged, ...other, ...untagged]);
    for (const id of tagged) expect(statuses.get(id), id).toBe(RunStatus.CANCELLED);
    for (const id of [...other, ...untagged]) expect(statuses.get(id), id).toBe(RunStatus.QUEUED);
    // The operation was started by filter, not by the 1 row checked.
    const { operation } = await batches.getBatchOperation({ operationId: opId! });
    expect(operation!.selection.case).toBe("filter");
    expect(operation!.selection.case === "filter" && operation!.selection.value.tags).toEqual({ incident: "inc-42" });

    // The Batches page lists it, and its page shows the progress.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Batches" }).click();
    const listed = page.locator(`tr[data-operation-id="${opId}"]`);
    await listed.locator('[data-batch-status="COMPLETED"]').waitFor(wait);
    await screenshot(page, "batches");
    await expectNoSeriousViolations("batches page");
    await listed.getByRole("link").click();
    await page.getByRole("heading", { name: `Batch operation ${shortId(opId!)}` }).waitFor(wait);
    expect(await page.locator('[data-count="done"]').textContent()).toBe("4");
    await screenshot(page, "batch");
    await expectNoSeriousViolations("batch page");
  });

  it("a refused start shows the server's error in the dialog; a running operation can be cancelled from its progress", async () => {
    const name = h.uniqueName("bulk-refused");
    const ids = await startQueued(name, 30);
    // One operation running at one run per second holds the namespace's only slot.
    const { operation: slow } = await batches.startBatchOperation({
      selection: { case: "filter", value: { workflowName: name } },
      action: { action: { case: "pause", value: {} } },
      rate: 1,
    });
    expect(slow!.status).toBe(BatchOperationStatus.RUNNING);

    await page.goto(ui(`/runs?workflow=${name}`));
    // The newest run: the list is newest first and only shows the rows in view.
    await row(ids[ids.length - 1]!)
      .getByRole("checkbox")
      .check();
    await bar().getByRole("button", { name: "Resume…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.locator('[data-matching="1"]').waitFor(wait);
    await dialog.getByRole("button", { name: "Resume 1 run" }).click();
    await dialog
      .getByRole("alert")
      .filter({ hasText: /^RESOURCE_EXHAUSTED: .*AIKI_MAX_RUNNING_BATCH_OPERATIONS/ })
      .waitFor(wait);
    await screenshot(page, "bulk-refused");
    await expectNoSeriousViolations("refused bulk dialog");
    await dialog.getByRole("button", { name: "Close" }).click();

    // The running operation's page offers to cancel it.
    await page.goto(ui(`/batches/${slow!.id}`));
    await page.locator('[data-batch-status="RUNNING"]').waitFor(wait);
    await page.getByRole("button", { name: "Cancel operation" }).click();
    await page.locator('[data-batch-status="CANCELLED"]').waitFor(wait);
    const { operation } = await batches.getBatchOperation({ operationId: slow!.id });
    expect(operation!.status).toBe(BatchOperationStatus.CANCELLED);
    expect(Number(operation!.done)).toBeLessThan(ids.length);
  });
});

describe("tags and retention on the run page", () => {
  it("shows the run's tags (linking to the list filtered by each) and keeps the run until a date, forever, then by policy", async () => {
    const name = h.uniqueName("keep");
    const [id] = await startQueued(name, 1, { tenant: "acme" });
    await runs.cancelRun({ runId: id!, reason: "done with it" });
    await page.goto(ui(`/runs/${id}`));
    await page.locator('[data-retention="policy"]').waitFor(wait);
    await page.getByRole("list", { name: "Tags" }).getByRole("link", { name: "tenant=acme" }).waitFor(wait);

    await page.getByRole("button", { name: "Keep…" }).click();
    let dialog = page.getByRole("dialog");
    // "forever" first, then a date: picking the date checks "until".
    await dialog.getByRole("radio", { name: "forever" }).check();
    await dialog.getByLabel("Keep until").fill("2031-05-04T12:00");
    expect(await dialog.getByRole("radio", { name: "until" }).isChecked()).toBe(true);
    await screenshot(page, "run-page-keep-dialog");
    await expectNoSeriousViolations("keep dialog");
    await dialog.getByRole("button", { name: "Set retention" }).click();
    await page.locator(".page-head [data-retention=until]").waitFor(wait);
    let { run } = await runs.getRun({ runId: id! });
    expect(new Date(timestampMs(run!.retainUntil!)).getFullYear()).toBe(2031);

    await page.getByRole("button", { name: "Keep…" }).click();
    dialog = page.getByRole("dialog");
    await dialog.getByRole("radio", { name: "forever" }).check();
    await dialog.getByRole("button", { name: "Set retention" }).click();
    await page.locator(".page-head [data-retention=forever]").waitFor(wait);
    ({ run } = await runs.getRun({ runId: id! }));
    expect(run!.retainForever).toBe(true);
    await screenshot(page, "run-page-kept-forever");

    await page.getByRole("button", { name: "Keep…" }).click();
    dialog = page.getByRole("dialog");
    await dialog.getByRole("radio", { name: /policy/ }).check();
    await dialog.getByRole("button", { name: "Set retention" }).click();
    await page.locator(".header-grid [data-retention=policy]").waitFor(wait);
    ({ run } = await runs.getRun({ runId: id! }));
    expect(run!.retainForever).toBe(false);
    expect(run!.retainUntil).toBeUndefined();

    // The tag chip opens the list filtered by it.
    await page.getByRole("link", { name: "tenant=acme" }).click();
    await page.waitForURL(/\/ui\/runs\?tag=tenant%3Dacme/, wait);
    await row(id!).waitFor(wait);
    expect(browser.pageErrors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });
});
