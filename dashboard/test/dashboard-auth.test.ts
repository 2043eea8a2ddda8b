// The dashboard against a real server with AIKI_AUTH=on, in a real headless browser (Debian's
// chromium through playwright-core): the key prompt a person meets without a key, a wrong key
// refused with the server's reason, the right key showing its own namespace's runs only, a read
// key seeing runs, run pages and schedules but no write action, and a client key cancelling a run. The prompt is
// checked with axe-core; the pages are photographed to dashboard/test/screenshots/.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { ScheduleService } from "@aiki/gen/aiki/v1/schedule_service_pb";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, client, silentLogger, workflow } from "@aiki/sdk";
import type { Page } from "playwright-core";
import { createApiKey, createNamespace } from "@aiki/server";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { ensureDashboardBuild, launchBrowser, screenshot, seriousViolations, type TestBrowser } from "./support/browser.js";

const wait = { timeout: 15_000 };
// Browser steps on a machine shared with other work: generous bounds, never fixed sleeps.
vi.setConfig({ testTimeout: 60_000 });
const h = useTestAiki({ auth: {} });
let aiki: TestAiki;
let browser: TestBrowser;
let page: Page;
const sdkClients: Client[] = [];

const suffix = Date.now().toString(36);
const shop = `shop-${suffix}`;
// No worker serves it: its runs stay queued, which is all the pages need to show and cancel.
const deliver = workflow({ name: `deliver-${suffix}` }).v("1", { handler: async () => undefined });
const keys = { shopRead: "", shopClient: "", defaultClient: "" };

beforeAll(async () => {
  ensureDashboardBuild();
  aiki = h.aiki;
  await createNamespace(aiki.deps, shop);
  const key = async (namespace: string, scopes: ("read" | "client")[]) =>
    (await createApiKey(aiki.deps, { namespace, scopes, description: `dashboard ${scopes.join("+")}` })).secret;
  keys.shopRead = await key(shop, ["read"]);
  keys.shopClient = await key(shop, ["client", "read"]);
  keys.defaultClient = await key("default", ["client", "read"]);
  browser = await launchBrowser();
  page = browser.page;
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await Promise.all(sdkClients.map((c) => c.close()));
});

const ui = (path: string) => `${aiki.url}/ui${path}`;
const row = (id: string) => page.locator(`tr[data-run-id="${id}"]`);
const headerStatus = () => page.locator(".page-head [data-status]").first();
const prompt = () => page.getByRole("form", { name: "API key" });
const accessNote = () => page.locator(".access-note");
const startRunLink = () => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Start run" });

async function expectNoWriteActions() {
  for (const name of ["Cancel…", "Pause…", "Resume…", "Awake…", "Send event…", "Rerun…", "Keep…", "Start again with this input"]) {
    expect(await page.getByRole("button", { name }).count(), name).toBe(0);
  }
  expect(await page.getByRole("toolbar", { name: "Run actions" }).count()).toBe(0);
  expect(await startRunLink().count()).toBe(0);
}

function clientWith(apiKey: string): Client {
  const c = client({ url: aiki.url, apiKey, logger: silentLogger });
  sdkClients.push(c);
  return c;
}

/** The key the dashboard sends, as the key prompt would have stored it. */
async function useKey(apiKey: string) {
  await page.evaluate(`localStorage.setItem("aiki.apiKey", ${JSON.stringify(apiKey)})`);
}

async function expectNoSeriousViolations(name: string) {
  const violations = await seriousViolations(page);
  expect(violations.map((v) => `${name}: ${v.id} (${v.impact}) ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`)).toEqual([]);
}

async function submitKey(apiKey: string) {
  await prompt().getByLabel("API key").fill(apiKey);
  await prompt().getByRole("button", { name: "Use key" }).click();
}

describe("without a key", () => {
  it("asks for one; a wrong key is refused with the server's reason; the right key shows its own namespace's runs only", async () => {
    const ours = await deliver.start(clientWith(keys.shopClient));
    const theirs = await deliver.start(clientWith(keys.defaultClient));

    await page.goto(ui("/runs"));
    await prompt().getByRole("alert").filter({ hasText: "no API key" }).waitFor(wait);
    expect(await row(ours.run.id).count()).toBe(0);
    // Nothing offers to write before a key says it may.
    expect(await startRunLink().count()).toBe(0);
    await screenshot(page, "auth-key-prompt");
    await expectNoSeriousViolations("key prompt");
    await page.emulateMedia({ colorScheme: "dark" });
    await expectNoSeriousViolations("key prompt (dark)");
    await screenshot(page, "auth-key-prompt-dark");
    await page.emulateMedia({ colorScheme: "light" });

    // Well formed but unknown: the prompt comes back (after the reload) saying so.
    await submitKey(`aiki_00000000_${"A".repeat(43)}`);
    await prompt().getByRole("alert").filter({ hasText: "the API key is unknown" }).waitFor(wait);
    expect(await prompt().getByRole("button", { name: "Forget stored key" }).count()).toBe(1);
    await submitKey("not-a-key");
    await prompt().getByRole("alert").filter({ hasText: "the API key is malformed" }).waitFor(wait);
    await screenshot(page, "auth-key-refused");
    await expectNoSeriousViolations("key prompt (refused)");

    await submitKey(keys.shopClient);
    await row(ours.run.id).locator('[data-status="QUEUED"]').waitFor(wait);
    await accessNote()
      .filter({ hasText: `Namespace ${shop}` })
      .waitFor(wait);
    expect(await prompt().count()).toBe(0);
    expect(await row(theirs.run.id).count()).toBe(0);
    expect(await page.locator("tbody tr[data-run-id]").count()).toBe(1);
    // Nor does the other namespace's run open by its id.
    await page.goto(ui(`/runs/${theirs.run.id}`));
    await page.getByText("No run has this id in this namespace.").waitFor(wait);
    await screenshot(page, "auth-namespace");
  });
});

describe("a read key", () => {
  it("shows the runs and the run pages without any write action, and the bar names the namespace", async () => {
    const queued = await deliver.start(clientWith(keys.shopClient));
    await page.goto(ui("/runs"));
    await useKey(keys.shopRead);
    await page.reload();
    await accessNote()
      .filter({ hasText: `Namespace ${shop} · read-only key: actions are hidden` })
      .waitFor(wait);
    await row(queued.run.id).locator('[data-status="QUEUED"]').waitFor(wait);
    expect(await startRunLink().count()).toBe(0);
    // No row can be selected for a bulk action.
    expect(await page.getByRole("checkbox").count()).toBe(0);

    await row(queued.run.id).locator("a").first().click();
    await headerStatus().and(page.locator('[data-status="QUEUED"]')).waitFor(wait);
    await page.locator('[data-live="live"]').waitFor(wait);
    await expectNoWriteActions();
    await screenshot(page, "auth-read-only-run");
    await expectNoSeriousViolations("run page (read-only)");

    // A fresh load: the run shows before WhoAmI answers (held here), and no action shows meanwhile.
    let answerWhoAmI = () => {};
    const whoAmIHeld = new Promise<void>((resolve) => (answerWhoAmI = resolve));
    await page.route("**/aiki.v1.AdminService/WhoAmI", async (route) => {
      await whoAmIHeld;
      await route.continue();
    });
    try {
      await page.reload();
      await headerStatus().and(page.locator('[data-status="QUEUED"]')).waitFor(wait);
      await expectNoWriteActions();
      expect(await accessNote().count()).toBe(0);
      answerWhoAmI();
      await accessNote().filter({ hasText: "read-only key" }).waitFor(wait);
      await expectNoWriteActions();
    } finally {
      answerWhoAmI();
      await page.unrouteAll({ behavior: "wait" });
    }

    await page.goto(ui("/start"));
    await page.getByText("Your API key is read-only.").waitFor(wait);
    expect(await page.getByRole("button", { name: "Start run" }).count()).toBe(0);

    // A schedule of its namespace shows, without Pause or Delete.
    const { schedule } = await aiki.client(ScheduleService, keys.shopClient).activateSchedule({
      name: `hourly-${suffix}`,
      workflowName: deliver.name,
      workflowVersionId: "1",
      spec: { spec: { case: "interval", value: { every: durationFromMs(3_600_000) } } },
    });
    await page.goto(ui("/schedules"));
    await page.getByRole("link", { name: `hourly-${suffix}` }).click();
    await page.getByRole("heading", { name: "Next fire times" }).waitFor(wait);
    expect(await page.getByRole("toolbar", { name: "Schedule actions" }).count()).toBe(0);
    for (const name of ["Pause…", "Resume…", "Delete…"]) expect(await page.getByRole("button", { name }).count(), name).toBe(0);
    await expectNoSeriousViolations("schedule (read-only)");
    // The same page with the client key offers them.
    await useKey(keys.shopClient);
    await page.reload();
    await page.getByRole("toolbar", { name: "Schedule actions" }).getByRole("button", { name: "Pause…" }).waitFor(wait);
    await aiki.client(ScheduleService, keys.shopClient).deleteSchedule({ scheduleId: schedule!.id });
  });
});

describe("a client key", () => {
  it("replaces a read key from the bar, then cancels a run of its namespace from the run page", async () => {
    const queued = await deliver.start(clientWith(keys.shopClient));
    await page.goto(ui("/runs"));
    await useKey(keys.shopRead);
    await page.goto(ui(`/runs/${queued.run.id}`));
    await accessNote().filter({ hasText: "read-only key" }).waitFor(wait);
    await accessNote().getByRole("button", { name: "Change key" }).click();
    // The key field has the focus: type, Enter.
    await prompt().getByLabel("API key").waitFor(wait);
    expect(await prompt().getByRole("alert").count()).toBe(0);
    await expectNoSeriousViolations("key prompt (changing the key)");
    await page.keyboard.press("ControlOrMeta+a");
    await page.keyboard.type(keys.shopClient);
    await page.keyboard.press("Enter");
    // After the reload with the new key, the actions are there and the bar no longer says read-only.
    await page.getByRole("toolbar", { name: "Run actions" }).getByRole("button", { name: "Cancel…" }).waitFor(wait);
    await accessNote()
      .filter({ hasText: `Namespace ${shop}` })
      .waitFor(wait);
    expect(await accessNote().filter({ hasText: "read-only" }).count()).toBe(0);
    await startRunLink().waitFor(wait);
    await headerStatus().and(page.locator('[data-status="QUEUED"]')).waitFor(wait);

    await page.getByRole("button", { name: "Cancel…" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Reason (optional)").fill("cancelled with a client key");
    await dialog.getByRole("button", { name: "Cancel run" }).click();
    await headerStatus().and(page.locator('[data-status="CANCELLED"]')).waitFor(wait);
    await page.locator(".header-grid", { hasText: "cancelled with a client key" }).waitFor(wait);
    const { run } = await aiki.client(RunService, keys.shopRead).getRun({ runId: queued.run.id });
    expect(run?.status).toBe(RunStatus.CANCELLED);
    expect(browser.pageErrors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });
});
