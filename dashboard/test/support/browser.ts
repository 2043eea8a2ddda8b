// A real headless browser for the dashboard tests: Debian's chromium driven by playwright-core
// (no browser download), on a fresh profile; axe-core injected into pages for accessibility.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";

const dashboardDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const screenshotDir = join(dashboardDir, "test", "screenshots");

/** The chromium the tests drive; a missing one fails the tests (never skips them). */
export const chromiumPath = process.env.AIKI_CHROMIUM ?? "/usr/bin/chromium";

/** Builds dashboard/dist when it is missing or stale, as `npm start` would. */
export function ensureDashboardBuild(): void {
  const result = spawnSync(process.execPath, [join(dashboardDir, "ensure-build.mjs")], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`dashboard build failed:\n${result.stdout}\n${result.stderr}`);
  if (!existsSync(join(dashboardDir, "dist", "index.html"))) throw new Error(`dashboard build wrote no dist/index.html:\n${result.stdout}\n${result.stderr}`);
}

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions the page reported. */
  pageErrors: string[];
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} does not exist: the dashboard tests need Debian's chromium (sudo apt-get install chromium; .ci/run installs it)`);
  }
  const profile = mkdtempSync(join(tmpdir(), "aiki-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 860 },
    colorScheme: "light",
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(`console: ${m.text()}`);
  });
  return {
    context,
    page,
    pageErrors,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  // Expressions as text: they run in the page, where `window` and `axe` exist.
  if (!(await page.evaluate<boolean>('"axe" in window'))) await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate<AxeViolation[]>('axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations)');
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
