// Throwaway Postgres clusters and Redis servers for tests, on loopback, in temp dirs.
// Used by test/global-setup.ts (shared servers) and by tests that need a private server
// they can stop and restart. Imports nothing from vitest, so it works in both places.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, existsSync, readdirSync, readFileSync, realpathSync, rmSync, statfsSync, statSync } from "node:fs";
import { appendFile, mkdtemp, open, rm } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

/** Everything needed to stop, start or restart a Postgres cluster started by this module. JSON-serializable. */
export interface PostgresServerInfo {
  /** Directory holding initdb, pg_ctl and postgres. */
  binDir: string;
  /** Temp dir owning everything below; removed by destroyPostgresServer. Also the unix socket dir. */
  baseDir: string;
  /** The cluster's data directory (settings, including the port, live in its postgresql.conf). */
  dataDir: string;
  /** Server log (pg_ctl -l). */
  logFile: string;
  host: "127.0.0.1";
  port: number;
  /** Superuser, trust auth, no password. */
  user: "aiki";
  /** OS user the server runs as when we are root (Postgres refuses root); null = the current user. */
  runAs: string | null;
  /** postgres://aiki@127.0.0.1:PORT/postgres */
  adminUrl: string;
  /** Human-readable description of how it was started and how to restart it by hand. */
  description: string;
}

/** A Redis server started by this module. JSON-serializable except for the process, kept in a side table. */
export interface RedisServerInfo {
  baseDir: string;
  logFile: string;
  host: "127.0.0.1";
  port: number;
  pid: number;
  url: string;
}

// ---------------------------------------------------------------- helpers

/** Returns the Postgres connection `url` with its database replaced. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, release it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      if (addr === null || typeof addr === "string") {
        srv.close();
        reject(new Error("could not determine a free port"));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

const TMPFS_MAGIC = 0x01021994;
let _tmpBase: string | undefined;

/**
 * Where throwaway servers keep their files: $AIKI_TEST_TMPDIR, else /dev/shm when it is a tmpfs with
 * at least 1 GiB free (CREATE DATABASE is ~10x faster there than on a slow disk), else os.tmpdir().
 */
export function testTmpBase(): string {
  if (_tmpBase !== undefined) return _tmpBase;
  _tmpBase = tmpdir();
  if (process.env.AIKI_TEST_TMPDIR) {
    _tmpBase = process.env.AIKI_TEST_TMPDIR;
  } else if (process.platform === "linux") {
    try {
      const st = statfsSync("/dev/shm");
      const mode = statSync("/dev/shm").mode;
      if (st.type === TMPFS_MAGIC && st.bavail * st.bsize >= 1024 ** 3 && (mode & 0o1777) === 0o1777) _tmpBase = "/dev/shm";
    } catch {
      // keep os.tmpdir()
    }
  }
  return _tmpBase;
}

const isRoot = (): boolean => typeof process.getuid === "function" && process.getuid() === 0;

function userExists(name: string): boolean {
  try {
    return readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .some((line) => line.split(":")[0] === name);
  } catch {
    return false;
  }
}

/** The OS user to run Postgres as: null when not root; else `postgres` if it exists, else `nobody`. */
export function postgresRunAsUser(): string | null {
  if (!isRoot()) return null;
  const env = process.env.AIKI_TEST_PG_OS_USER;
  if (env) return env;
  if (userExists("postgres")) return "postgres";
  if (userExists("nobody")) return "nobody";
  throw new Error(
    "running as root, and neither a `postgres` nor a `nobody` OS user exists to run the throwaway Postgres server " +
      "(Postgres refuses to run as root). Create one (`useradd --system postgres`), set AIKI_TEST_PG_OS_USER, or set DATABASE_URL.",
  );
}

/** Runs a command, as `runAs` (via runuser) when given. Rejects with stderr in the message. */
async function run(runAs: string | null, cmd: string, args: string[], cwd: string): Promise<string> {
  const [file, argv] = runAs === null ? [cmd, args] : ["runuser", ["-u", runAs, "--", cmd, ...args]];
  try {
    const { stdout } = await execFileP(file, argv, { cwd, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as Error & { stderr?: string; stdout?: string };
    throw new Error(`\`${[file, ...argv].join(" ")}\` failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`, { cause: err });
  }
}

async function chownRecursive(dir: string, user: string): Promise<void> {
  await execFileP("chown", ["-R", `${user}:`, dir]);
}

function versionOf(dir: string): number {
  const m = /postgresql\/(\d+)/.exec(dir);
  return m ? Number(m[1]) : 0;
}

/**
 * Finds a directory with initdb, pg_ctl and postgres: AIKI_TEST_PG_BIN_DIR, then PATH, then the newest
 * /usr/lib/postgresql/N/bin (Debian/Ubuntu layout). Throws a loud, actionable Error when none exists.
 */
export function findPostgresBinDir(): string {
  const needed = ["initdb", "pg_ctl", "postgres"];
  const has = (dir: string) => needed.every((n) => existsSync(join(dir, n)));
  const candidates: string[] = [];
  if (process.env.AIKI_TEST_PG_BIN_DIR) candidates.push(process.env.AIKI_TEST_PG_BIN_DIR);
  const initdb = onPath("initdb");
  if (initdb) {
    // Debian symlinks only some tools onto PATH; resolve to the real bin dir when possible.
    try {
      candidates.push(dirname(realpathSync(initdb)));
    } catch {
      // fall through
    }
  }
  for (const root of ["/usr/lib/postgresql", "/usr/local/pgsql", "/opt/homebrew/opt", "/usr/local/opt"]) {
    if (!existsSync(root)) continue;
    if (root.endsWith("pgsql")) {
      candidates.push(join(root, "bin"));
      continue;
    }
    const dirs = readdirSync(root)
      .filter((d) => root === "/usr/lib/postgresql" || d.startsWith("postgresql"))
      .map((d) => join(root, d, "bin"))
      .sort((a, b) => versionOf(b) - versionOf(a));
    candidates.push(...dirs);
  }
  for (const dir of candidates) if (has(dir)) return dir;
  const missing = needed.filter((n) => !onPath(n));
  throw new Error(
    `Postgres server binaries not found (missing: ${missing.join(", ") || needed.join(", ")}; looked on PATH, ` +
      `in $AIKI_TEST_PG_BIN_DIR and in /usr/lib/postgresql/*/bin). Tests need a real Postgres server: either ` +
      `set DATABASE_URL to a server whose user may CREATE DATABASE (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres), ` +
      `or install the server binaries (Debian/Ubuntu: \`sudo apt-get install postgresql\`; macOS: \`brew install postgresql\`), ` +
      `or run \`bash .ci/run\`, which installs everything.`,
  );
}

// ---------------------------------------------------------------- Postgres

const PG_SETTINGS = (port: number, socketDir: string, synchronousCommit: boolean, durable = false) => `
# --- added by aiki test support: throwaway, fast, loopback only ---
listen_addresses = '127.0.0.1'
port = ${port}
unix_socket_directories = '${socketDir}'
max_connections = 200
fsync = ${durable ? "on" : "off"}
synchronous_commit = ${synchronousCommit || durable ? "on" : "off"}
full_page_writes = ${durable ? "on" : "off"}
wal_level = minimal
max_wal_senders = 0
checkpoint_timeout = 1h
max_wal_size = 4GB
logging_collector = off
log_min_messages = warning
log_checkpoints = off
`;

/**
 * initdb + start a throwaway cluster on a free loopback port, in a fresh temp dir.
 * Trust auth, superuser `aiki`. Runs as a non-root user when we are root.
 * fsync is off (the OS does not crash under tests, so a killed server loses nothing written). With
 * `synchronousCommit: false` (the default) a crash-like stop ("immediate") may lose the last
 * few hundred ms of commits; pass true for servers that tests crash on purpose.
 */
export async function startPostgresServer(opts: { label?: string; synchronousCommit?: boolean; durable?: boolean } = {}): Promise<PostgresServerInfo> {
  const binDir = findPostgresBinDir();
  const runAs = postgresRunAsUser();
  // `durable` (benchmarks): fsync and synchronous commit on, on disk rather than in memory, so a
  // figure is what a real deployment would see.
  const baseDir = await mkdtemp(join(opts.durable ? tmpdir() : testTmpBase(), `aiki-pg-${opts.label ?? "test"}-`));
  try {
    const dataDir = join(baseDir, "data");
    const logFile = join(baseDir, "postgres.log");
    if (runAs !== null) await chownRecursive(baseDir, runAs);
    try {
      await run(
        runAs,
        join(binDir, "initdb"),
        ["-D", dataDir, "--auth=trust", "-U", "aiki", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"],
        baseDir,
      );
    } catch (err) {
      if (runAs === null) throw err;
      throw new Error(
        `${(err as Error).message}\n(initdb ran as OS user \`${runAs}\` because we are root; that user must be able to reach ${baseDir}: ` +
          `set AIKI_TEST_TMPDIR to a world-traversable directory, or AIKI_TEST_PG_OS_USER to another user)`,
        { cause: err },
      );
    }
    let lastErr: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      // The port is written into postgresql.conf, so pg_ctl start/restart keeps it. If another process grabs
      // it between freePort() and bind, start fails; try again with a new port (settings appended last win).
      const port = await freePort();
      await appendFile(join(dataDir, "postgresql.conf"), PG_SETTINGS(port, baseDir, opts.synchronousCommit ?? false, opts.durable));
      const info: PostgresServerInfo = {
        binDir,
        baseDir,
        dataDir,
        logFile,
        host: "127.0.0.1",
        port,
        user: "aiki",
        runAs,
        adminUrl: `postgres://aiki@127.0.0.1:${port}/postgres`,
        description: "",
      };
      info.description = describe(info);
      try {
        await pgCtlStart(info);
        return info;
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr;
  } catch (err) {
    await rm(baseDir, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
}

function describe(i: PostgresServerInfo): string {
  const as = i.runAs === null ? "" : `runuser -u ${i.runAs} -- `;
  return (
    `Postgres (${i.binDir}) data dir ${i.dataDir}, listening on ${i.host}:${i.port}, superuser ${i.user} (trust), ` +
    `log ${i.logFile}. Stop: ${as}${join(i.binDir, "pg_ctl")} -D ${i.dataDir} -w -m fast stop; ` +
    `start: ${as}${join(i.binDir, "pg_ctl")} -D ${i.dataDir} -l ${i.logFile} -w start. ` +
    `From a test: stopPostgres/startPostgres/restartPostgres(info) in test/support/servers.ts.`
  );
}

async function pgCtlStart(i: PostgresServerInfo): Promise<void> {
  try {
    await run(i.runAs, join(i.binDir, "pg_ctl"), ["-D", i.dataDir, "-l", i.logFile, "-w", "-t", "60", "start"], i.baseDir);
  } catch (err) {
    let log = "";
    try {
      log = readFileSync(i.logFile, "utf8").split("\n").slice(-30).join("\n");
    } catch {
      // no log yet
    }
    throw new Error(`${(err as Error).message}\n--- ${i.logFile} (tail) ---\n${log}`, { cause: err });
  }
}

/**
 * Stops the server. mode "fast" (default) disconnects clients and shuts down cleanly;
 * "immediate" is a crash-like stop (recovery on next start).
 */
export async function stopPostgres(i: PostgresServerInfo, mode: "fast" | "immediate" | "smart" = "fast"): Promise<void> {
  await run(i.runAs, join(i.binDir, "pg_ctl"), ["-D", i.dataDir, "-w", "-t", "60", "-m", mode, "stop"], i.baseDir);
}

/** Starts a stopped server again, on the same port; resolves when it accepts connections. */
export async function startPostgres(i: PostgresServerInfo): Promise<void> {
  await pgCtlStart(i);
}

/** Stop (fast) then start; resolves when the server accepts connections again. */
export async function restartPostgres(i: PostgresServerInfo, mode: "fast" | "immediate" = "fast"): Promise<void> {
  await stopPostgres(i, mode);
  await startPostgres(i);
}

/** The postmaster pid, or null when not running. */
export function postgresPid(i: PostgresServerInfo): number | null {
  try {
    const pid = Number(readFileSync(join(i.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** True once `pid` no longer exists (a zombie not yet reaped still exists: its pid is taken). */
export function processGone(pid: number): boolean {
  return !existsSync(`/proc/${pid}`);
}

/** The pids whose parent is `ppid`, from /proc (Linux). */
export function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppidField = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppidField === ppid) out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** Polls (every 20 ms, bounded) until every pid is gone from /proc. */
export async function waitForProcessesGone(pids: readonly number[], timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = pids.filter((p) => !processGone(p));
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${what}: pids ${left.join(", ")} still exist after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Crashes the server: SIGKILL to the postmaster (no shutdown, no checkpoint), then waits until the
 * postmaster and every process it had started (backends, checkpointer, walwriter, ...; they exit
 * on noticing the postmaster's death) are gone, so a start after this finds neither a live lock
 * file owner nor attached shared memory and runs crash recovery. Returns the pids it saw die.
 */
export async function killPostgres(i: PostgresServerInfo, timeoutMs = 30_000): Promise<{ postmaster: number; children: number[] }> {
  const postmaster = postgresPid(i);
  if (postmaster === null || processGone(postmaster)) throw new Error(`Postgres on port ${i.port} is not running`);
  const children = childPids(postmaster);
  process.kill(postmaster, "SIGKILL");
  await waitForProcessesGone([postmaster, ...children], timeoutMs, "killed Postgres");
  return { postmaster, children };
}

/**
 * The "Database cluster state" of the control file (pg_controldata): "shut down" after a clean
 * stop, "in production" while running or after a crash (then the next start runs recovery).
 */
export async function postgresClusterState(i: PostgresServerInfo): Promise<string> {
  const out = await run(i.runAs, join(i.binDir, "pg_controldata"), ["-D", i.dataDir], i.baseDir);
  const state = /^Database cluster state:\s*(.+)$/m.exec(out)?.[1]?.trim();
  if (!state) throw new Error(`pg_controldata printed no cluster state:\n${out}`);
  return state;
}

/** Stops the server if running and removes its temp dir. Never throws for an already-stopped server. */
export async function destroyPostgresServer(i: PostgresServerInfo): Promise<void> {
  const running = postgresPid(i);
  // A killed server leaves its postmaster.pid behind: never signal a pid that is gone (or reused).
  if (running !== null && !processGone(running)) {
    try {
      await stopPostgres(i, "fast");
    } catch (err) {
      const pid = postgresPid(i);
      if (pid !== null) {
        try {
          process.kill(pid, "SIGQUIT"); // immediate shutdown of the postmaster we started
        } catch {
          // already gone
        }
      }
      console.warn(`[aiki test] pg_ctl stop failed, sent SIGQUIT: ${(err as Error).message}`);
    }
  }
  await rm(i.baseDir, { recursive: true, force: true });
}

/** Synchronous best-effort kill and cleanup, for process 'exit' handlers. */
export function killPostgresSync(i: PostgresServerInfo): void {
  const pid = postgresPid(i);
  if (pid !== null && !processGone(pid)) {
    try {
      process.kill(pid, "SIGQUIT"); // immediate shutdown
    } catch {
      // gone
    }
  }
  try {
    rmSync(i.baseDir, { recursive: true, force: true, maxRetries: 5 });
  } catch {
    // best effort
  }
}

// ---------------------------------------------------------------- Redis

const redisProcs = new Map<number, ChildProcess>();

/** Resolves true when the server at host:port answers PING with PONG, false on any connection error. */
export function redisPing(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    let buf = "";
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on("error", () => done(false));
    sock.on("connect", () => sock.write("PING\r\n"));
    sock.on("data", (d) => {
      buf += d.toString("utf8");
      if (buf.includes("\r\n")) done(buf.startsWith("+PONG"));
    });
  });
}

export function findRedisServer(): string {
  const p = process.env.AIKI_TEST_REDIS_SERVER || onPath("redis-server");
  if (p) return p;
  throw new Error(
    "redis-server not found on PATH. Tests need a real Redis server: either set REDIS_URL (e.g. REDIS_URL=redis://127.0.0.1:6379), " +
      "or install it (Debian/Ubuntu: `sudo apt-get install redis-server`; macOS: `brew install redis`), " +
      "or run `bash .ci/run`, which installs everything.",
  );
}

/**
 * Spawns redis-server on a free loopback port (no persistence) and resolves once it answers PING.
 * The server gets SIGTERM if this process dies (setpriv --pdeathsig, when available).
 */
export async function startRedisServer(opts: { label?: string; port?: number; baseDir?: string } = {}): Promise<RedisServerInfo> {
  const bin = findRedisServer();
  const baseDir = opts.baseDir ?? (await mkdtemp(join(testTmpBase(), `aiki-redis-${opts.label ?? "test"}-`)));
  const logFile = join(baseDir, "redis.log");
  const setpriv = process.platform === "linux" ? onPath("setpriv") : null;
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = opts.port ?? (await freePort());
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", baseDir, "--daemonize", "no"];
    const log = await open(logFile, "a");
    const [file, argv] = setpriv ? [setpriv, ["--pdeathsig", "TERM", "--", bin, ...args]] : [bin, args];
    const child = spawn(file, argv, { cwd: baseDir, stdio: ["ignore", log.fd, log.fd] });
    await log.close();
    const exited = new Promise<string>((resolve) => {
      child.once("exit", (code, signal) => resolve(`redis-server exited (code ${code}, signal ${signal})`));
      child.once("error", (e) => resolve(`redis-server failed to spawn: ${e.message}`));
    });
    try {
      await waitForRedis(port, exited, 15_000);
      child.unref();
      const pid = child.pid!;
      redisProcs.set(pid, child);
      return { baseDir, logFile, host: "127.0.0.1", port, pid, url: `redis://127.0.0.1:${port}` };
    } catch (err) {
      lastErr = err;
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      if (opts.port !== undefined) break;
    }
  }
  let tail = "";
  try {
    tail = readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    // none
  }
  if (opts.baseDir === undefined) await rm(baseDir, { recursive: true, force: true }).catch(() => {});
  throw new Error(`could not start redis-server: ${(lastErr as Error)?.message}\n--- redis log (tail) ---\n${tail}`, { cause: lastErr });
}

/** Polls PING (bounded deadline) until it answers; fails fast if the process exits first. */
async function waitForRedis(port: number, exited: Promise<string>, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let exitMsg: string | null = null;
  void exited.then((m) => (exitMsg = m));
  let delay = 5;
  for (;;) {
    if (exitMsg !== null) throw new Error(exitMsg);
    if (await redisPing("127.0.0.1", port, 500)) return;
    if (Date.now() > deadline) throw new Error(`redis-server on 127.0.0.1:${port} did not answer PING within ${deadlineMs} ms`);
    // Wait for either the process to exit or a short backoff before the next connection attempt.
    await Promise.race([exited, new Promise((r) => setTimeout(r, delay))]);
    delay = Math.min(delay * 2, 100);
  }
}

/** Stops a Redis server started by startRedisServer (SIGTERM by pid, awaits its exit). */
export async function stopRedisServer(r: RedisServerInfo, opts: { removeDir?: boolean } = {}): Promise<void> {
  const child = redisProcs.get(r.pid);
  redisProcs.delete(r.pid);
  if (child && child.exitCode === null && child.signalCode === null) {
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await gone;
    clearTimeout(timer);
  } else if (!child) {
    try {
      process.kill(r.pid, "SIGTERM");
    } catch {
      // gone
    }
  }
  if (opts.removeDir !== false) await rm(r.baseDir, { recursive: true, force: true });
}

/**
 * Crashes a Redis server started by startRedisServer: SIGKILL by pid (no shutdown, no save),
 * resolves once the process has exited. Keeps its directory (start it again on the same port).
 */
export async function killRedisServer(r: RedisServerInfo): Promise<void> {
  const child = redisProcs.get(r.pid);
  redisProcs.delete(r.pid);
  const gone = child && child.exitCode === null && child.signalCode === null ? new Promise<void>((resolve) => child.once("exit", () => resolve())) : undefined;
  try {
    process.kill(r.pid, "SIGKILL");
  } catch {
    // already gone
  }
  if (gone) await gone;
  else await waitForProcessesGone([r.pid], 10_000, "killed redis-server");
}

/** Synchronous best-effort kill and cleanup, for process 'exit' handlers. */
export function killRedisSync(r: RedisServerInfo): void {
  try {
    process.kill(r.pid, "SIGKILL");
  } catch {
    // gone
  }
  try {
    rmSync(r.baseDir, { recursive: true, force: true, maxRetries: 5 });
  } catch {
    // best effort
  }
}
