import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";

const gzip = promisify(gzipCallback);

/** Where `npm run build -w dashboard` writes the dashboard (dashboard/dist of this checkout). */
export const defaultDashboardDir = fileURLToPath(new URL("../../../dashboard/dist", import.meta.url));

/** The prefix the dashboard is served under; every client-side route lives below it. */
export const dashboardPrefix = "/ui/";

export interface StaticAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
};

// Vite names every file under assets/ after its content hash, so a name never changes meaning:
// browsers keep them for a year. index.html names the current ones, so it is never cached.
const immutable = "public, max-age=31536000, immutable";

/**
 * Answers a GET for a path under /ui/ from the built dashboard: a file when it exists, else
 * index.html (client-side routes), with 503 and how to build it when there is no build. Paths
 * that would leave the build directory are refused.
 */
export async function dashboardAsset(dir: string, urlPath: string, acceptEncoding = ""): Promise<StaticAnswer> {
  const answer = await plainAsset(dir, urlPath);
  const type = answer.headers["content-type"] ?? "";
  if (answer.status !== 200 || !compressible.test(type)) return answer;
  answer.headers.vary = "accept-encoding";
  if (!/\bgzip\b/.test(acceptEncoding)) return answer;
  return { ...answer, headers: { ...answer.headers, "content-encoding": "gzip" }, body: await gzipped(answer.body) };
}

const compressible = /^(text\/|application\/json|image\/svg)/;
// The build's files are few: each content is compressed once (keyed by its hash, so a rebuild
// under the same name is compressed again).
const gzipCache = new Map<string, Buffer>();

async function gzipped(body: Buffer | string): Promise<Buffer> {
  const key = createHash("sha1").update(body).digest("base64");
  const cached = gzipCache.get(key);
  if (cached) return cached;
  const zipped = await gzip(body);
  if (gzipCache.size > 200) gzipCache.clear();
  gzipCache.set(key, zipped);
  return zipped;
}

async function plainAsset(dir: string, urlPath: string): Promise<StaticAnswer> {
  const root = resolve(dir);
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath.slice(dashboardPrefix.length));
  } catch {
    return text(400, "bad request: malformed path\n");
  }
  if (rel.includes("\0") || rel.split(/[\\/]/).some((part) => part === "..")) return text(400, "bad request: path leaves /ui/\n");
  const file = resolve(join(root, rel));
  if (file !== root && !file.startsWith(root + sep)) return text(400, "bad request: path leaves /ui/\n");

  if (rel !== "" && (await isFile(file))) {
    const type = types[extname(file).toLowerCase()] ?? "application/octet-stream";
    const cache = rel.startsWith("assets/") ? immutable : "no-cache";
    return { status: 200, headers: { "content-type": type, "cache-control": cache }, body: await readFile(file) };
  }
  // A missing hashed asset is an old or wrong link, not a page: index.html would hide the error.
  if (rel.startsWith("assets/")) return text(404, "not found\n");
  const index = join(root, "index.html");
  if (!(await isFile(index))) return missingBuild();
  return { status: 200, headers: { "content-type": types[".html"]!, "cache-control": "no-store" }, body: await readFile(index) };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function text(status: number, body: string): StaticAnswer {
  return { status, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }, body };
}

function missingBuild(): StaticAnswer {
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Aiki dashboard not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>The Aiki dashboard is not built</h1>
<p>The server is running, but it has no dashboard files to serve. Build them once from the
repository's root, then reload this page:</p>
<pre>npm run build -w dashboard</pre>
<p>(<code>npm ci</code> and <code>npm start</code> build it for you.)</p>
</body></html>
`;
  return { status: 503, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }, body };
}
