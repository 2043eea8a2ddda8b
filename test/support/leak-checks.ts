// What a test server must not have left when its test file is done: worker sessions, client
// connections, notifier subscriptions, store connections checked out, workers still running, and
// (through TestDatabase.destroy) run transitions the state machine forbids; and, for the whole
// process, sockets left open. Each is a count that
// must come down to zero; closing is asynchronous (a session is forgotten once its stream's end
// reaches the server), so each check waits a short grace before it reports.
import type { TestAiki } from "./aiki-server.js";

/** One kind of thing left behind: how many, and which. */
export interface Leak {
  what: string;
  count: number;
  detail: string;
}

export class LeakError extends Error {
  constructor(readonly leaks: Leak[]) {
    super(`left behind after the tests:\n${leaks.map((l) => `  ${l.count} ${l.what}${l.detail ? `: ${l.detail}` : ""}`).join("\n")}`);
    this.name = "LeakError";
  }
}

/** A count that must reach zero, named for the failure message. */
export interface LeakProbe {
  what: string;
  count(): number;
  detail?(): string;
}

/** Waits up to graceMs for every probe to read zero; throws LeakError naming those that do not. */
export async function assertNoLeaks(probes: LeakProbe[], graceMs = 2_000): Promise<void> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    const left = probes.filter((p) => p.count() > 0);
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new LeakError(left.map((p) => ({ what: p.what, count: p.count(), detail: p.detail?.() ?? "" })));
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What must be gone while the server still runs, once the test's own clients are closed. */
export function connectionProbes(aiki: TestAiki): LeakProbe[] {
  return [
    {
      what: `worker session(s) still registered on the server at ${aiki.url}`,
      count: () => aiki.localSessions.workerIds().length,
      detail: () => `workers ${aiki.localSessions.workerIds().join(", ")}`,
    },
    { what: `HTTP/2 session(s) still open on the server at ${aiki.url}`, count: () => aiki.server.http2Sessions() },
  ];
}

/** What must be gone once the server is closed, before its store and notifier close. */
export function closedServerProbes(aiki: TestAiki): LeakProbe[] {
  const total = () => [...aiki.subscriptions().values()].reduce((a, b) => a + b, 0);
  return [
    {
      what: `notifier subscription(s) still open on the server at ${aiki.url}`,
      count: total,
      detail: () => [...aiki.subscriptions()].map(([channel, n]) => `${channel} ×${n}`).join(", "),
    },
    { what: `Postgres pool connection(s) still checked out by the server at ${aiki.url}`, count: () => aiki.deps.connectionsInUse() },
  ];
}

/** Network handles (sockets and listening servers) this process holds now, by kind. */
export function openSockets(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === "TCPSocketWrap" || kind === "TCPServerWrap").length;
}

/**
 * Sockets and servers beyond `baseline` (openSockets() before the tests): a client, a server, a
 * Redis or Postgres connection the tests opened and never closed. Only for the outermost harness:
 * an inner one's tests may open connections on the outer one's behalf.
 */
export function openSocketsProbe(baseline: number): LeakProbe {
  return {
    what: "socket(s) or server(s) still open in this process beyond those before the tests",
    count: () => Math.max(0, openSockets() - baseline),
    detail: () => `baseline ${baseline}, now ${openSockets()}`,
  };
}

const closed = new WeakSet<TestAiki>();

/**
 * Closes a test server and everything it holds, then fails with what was left behind: first the
 * clients aiki.client() made are closed and no worker session nor connection may remain; then the
 * server closes, and no notifier subscription nor checked-out store connection may remain; then
 * the store, the notifier and (unless shared) the database close, which checks the database's run
 * transitions (check-run-transitions.ts). Throws every failure found, after closing all it can.
 */
export async function closeChecked(aiki: TestAiki, options: { graceMs?: number } = {}): Promise<void> {
  if (closed.has(aiki)) return;
  closed.add(aiki);
  const failures: unknown[] = [];
  aiki.closeClients();
  await assertNoLeaks(connectionProbes(aiki), options.graceMs).catch((e: unknown) => failures.push(e));
  await aiki.closeServer();
  let poolLeaked = false;
  await assertNoLeaks(closedServerProbes(aiki), options.graceMs).catch((e: unknown) => {
    failures.push(e);
    poolLeaked = aiki.deps.connectionsInUse() > 0;
  });
  // A pool waits for its checked-out clients before it ends: with one leaked, report rather than hang.
  const closing = aiki.close().catch((e: unknown) => failures.push(e));
  if (poolLeaked) await Promise.race([closing, new Promise((r) => setTimeout(r, 1_000).unref())]);
  else await closing;
  throwAll(failures);
}

/** Throws the one failure, or all of them in one AggregateError whose message lists each. */
export function throwAll(failures: unknown[]): void {
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, failures.map((e) => (e as Error).message).join("\n"));
}
