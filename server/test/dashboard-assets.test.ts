// The dashboard's files at /ui/ on the API port: hashed assets cached for good, index.html never,
// client-side routes answered with index.html, paths that leave the build refused, and a 503 that
// says how to build when there is no build.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dashboardAsset } from "../src/http/dashboard-assets.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki();
let dir: string;
let aiki: TestAiki;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "aiki-dashboard-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>Aiki</title>");
  writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log(1)");
  writeFileSync(join(dir, "favicon.svg"), "<svg/>");
  writeFileSync(join(dir, "..", "secret-outside.txt"), "secret");
  aiki = h.aiki;
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(dir, "..", "secret-outside.txt"), { force: true });
});

describe("dashboardAsset", () => {
  it("serves hashed assets immutable, other files revalidated, and index.html never cached", async () => {
    const js = await dashboardAsset(dir, "/ui/assets/index-abc123.js");
    expect([js.status, js.headers["content-type"], js.headers["cache-control"]]).toEqual([
      200,
      "text/javascript; charset=utf-8",
      "public, max-age=31536000, immutable",
    ]);
    expect(String(js.body)).toBe("console.log(1)");
    const svg = await dashboardAsset(dir, "/ui/favicon.svg");
    expect([svg.status, svg.headers["cache-control"]]).toEqual([200, "no-cache"]);
    const index = await dashboardAsset(dir, "/ui/");
    expect([index.status, index.headers["cache-control"], String(index.body)]).toEqual([200, "no-store", "<!doctype html><title>Aiki</title>"]);
  });

  it("gzips text for clients that accept it, the same bytes once decompressed", async () => {
    const plain = await dashboardAsset(dir, "/ui/assets/index-abc123.js");
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.headers.vary).toBe("accept-encoding");
    const zipped = await dashboardAsset(dir, "/ui/assets/index-abc123.js", "gzip, deflate, br");
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(gunzipSync(zipped.body as Buffer).toString()).toBe("console.log(1)");
  });

  it("answers client-side routes with index.html, but a missing hashed asset with 404", async () => {
    const route = await dashboardAsset(dir, "/ui/runs/0b9c7f4e-8a77-4a5e-9d1b-3c2f4a1e2d3c");
    expect([route.status, String(route.body)]).toEqual([200, "<!doctype html><title>Aiki</title>"]);
    expect((await dashboardAsset(dir, "/ui/assets/gone-123.js")).status).toBe(404);
  });

  it("refuses paths that leave the build directory, encoded or not", async () => {
    for (const path of ["/ui/../secret-outside.txt", "/ui/%2e%2e/secret-outside.txt", "/ui/assets/..%2f..%2fsecret-outside.txt", "/ui/%00", "/ui/%zz"]) {
      const answer = await dashboardAsset(dir, path);
      expect(answer.status, path).toBe(400);
      expect(String(answer.body), path).not.toContain("secret");
    }
  });

  it("answers 503 with the build command when there is no build", async () => {
    const answer = await dashboardAsset(join(dir, "no-such-build"), "/ui/runs");
    expect(answer.status).toBe(503);
    expect(String(answer.body)).toContain("npm run build -w dashboard");
  });
});

describe("the server's /ui/ and /", () => {
  it("redirects / to /ui/ and serves the dashboard (or its 503) there", async () => {
    const root = await fetch(`${aiki.url}/`, { redirect: "manual" });
    expect([root.status, root.headers.get("location")]).toEqual([302, "/ui/"]);
    const ui = await fetch(`${aiki.url}/ui/`);
    expect([200, 503]).toContain(ui.status);
    expect(ui.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(ui.headers.get("cache-control")).toBe("no-store");
    if (ui.status === 200) expect(ui.headers.get("content-encoding")).toBe("gzip"); // fetch sends accept-encoding
    expect((await fetch(`${aiki.url}/ui/`, { method: "POST" })).status).toBe(405);
  });

  it("refuses a raw ../ that fetch would have normalised away", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: aiki.port, path: "/ui/../../package.json" }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(400);
  });
});
