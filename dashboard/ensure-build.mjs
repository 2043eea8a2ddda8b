// Builds the dashboard when dashboard/dist is missing or older than its sources, so that
// `npm ci` (the root `prepare` script) and `npm start` (`prestart`) always serve a current build.
// Without Vite (a production install without dev dependencies) it says so and leaves the server
// to answer /ui/ with a page naming the build command.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const stamp = join(here, "dist", "index.html");
const sources = [join(here, "src"), join(here, "index.html"), join(here, "vite.config.ts"), join(here, "package.json"), join(here, "..", "gen", "aiki")];

function newest(path) {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(path).reduce((m, name) => Math.max(m, newest(join(path, name))), s.mtimeMs);
}

const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (built > 0 && built >= Math.max(...sources.map(newest)) && process.argv[2] !== "--force") process.exit(0);

let vite;
try {
  vite = join(dirname(createRequire(join(here, "package.json")).resolve("vite/package.json")), "bin", "vite.js");
} catch {
  console.warn("dashboard: vite is not installed (npm ci installs it); /ui/ answers 503 until `npm run build -w dashboard` has run");
  process.exit(0);
}
console.log(built ? "dashboard: sources changed, rebuilding…" : "dashboard: building…");
const result = spawnSync(process.execPath, [vite, "build", "--logLevel", "warn"], { cwd: here, stdio: "inherit" });
process.exit(result.status ?? 1);
