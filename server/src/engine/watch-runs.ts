import { setTimeout as delay } from "node:timers/promises";
import { WatchFellBehindError } from "../domain/errors.js";
import { isTerminal } from "../domain/run-status.js";
import { HintWaiter } from "../notify/hint-waiter.js";
import { channels } from "../notify/notifier.js";
import { findMatchingRuns, type RunFilter } from "../store/run-repository.js";
import type { RunRow } from "../store/runs.table.js";
import type { EngineDeps } from "./engine-deps.js";
import { getRun } from "./query-runs.js";

/** What a client waits at most between two messages of a live watch. */
export const defaultWatchKeepAliveMs = 15_000;
// Changes arriving within this window after the first go out together, read in one query.
const coalesceMs = 50;
/**
 * Changed runs a watcher remembers while its client is not reading (or the store is slow): past
 * it, the watch ends with WatchFellBehindError rather than grow; the client lists again.
 */
export const maxPendingChanges = 10_000;
// Ids per read-back query (and so per message).
const readChunk = 1_000;

export interface WatchOptions {
  keepAliveMs?: number | undefined;
}

/**
 * The runs matching a filter each time some are created or change status: an empty batch first
 * (the watch is live), then each coalesced batch of changes read back from the store through the
 * filter (changes the filter drops send nothing), and an empty batch when nothing was sent for
 * `keepAliveMs`. Ends when `signal` aborts or the server shuts down.
 */
export async function* watchRuns(
  deps: EngineDeps,
  namespace: string,
  filter: RunFilter,
  signal: AbortSignal,
  opts: WatchOptions = {},
): AsyncGenerator<RunRow[]> {
  const keepAliveMs = opts.keepAliveMs ?? defaultWatchKeepAliveMs;
  const only = filter.runIds && filter.runIds.length > 0 ? new Set(filter.runIds) : undefined;
  // Ids, never rows: a client that does not read costs at most maxPendingChanges ids.
  const pending = new Set<string>();
  let behind = false;
  const hints = new HintWaiter(deps.notifier, [channels.runs(namespace)], [signal, deps.shutdownSignal], (id) => {
    if (only && !only.has(id)) return false;
    if (pending.size < maxPendingChanges) pending.add(id);
    else if (!pending.has(id)) behind = true;
    return true;
  });
  try {
    yield [];
    let lastSent = Date.now();
    while (!hints.aborted) {
      if (pending.size === 0) {
        hints.reset();
        await hints.wait(lastSent + keepAliveMs - Date.now());
        if (hints.aborted) return;
        if (pending.size === 0) {
          if (Date.now() - lastSent >= keepAliveMs) {
            yield [];
            lastSent = Date.now();
          }
          continue;
        }
        await delay(coalesceMs);
      }
      if (behind) throw new WatchFellBehindError(maxPendingChanges);
      const ids = [...pending];
      pending.clear();
      for (let i = 0; i < ids.length; i += readChunk) {
        const runs = await findMatchingRuns(deps.db, namespace, ids.slice(i, i + readChunk), filter);
        if (runs.length === 0) continue;
        yield runs;
        lastSent = Date.now();
      }
    }
  } finally {
    hints.close();
  }
}

export interface RunWatchMessage {
  /** Undefined in keep-alives. */
  run: RunRow | undefined;
  historyChanged: boolean;
}

/**
 * One run: as it is now at once, then again each time it changes status or its history grows
 * (coalesced), an empty message when nothing was sent for `keepAliveMs`; ends after sending the
 * run terminal, or when `signal` aborts or the server shuts down. RunNotFoundError when unknown.
 */
export async function* watchRun(
  deps: EngineDeps,
  namespace: string,
  runId: string,
  signal: AbortSignal,
  opts: WatchOptions = {},
): AsyncGenerator<RunWatchMessage> {
  const keepAliveMs = opts.keepAliveMs ?? defaultWatchKeepAliveMs;
  // Listening before the first read, so no change between the read and the wait is missed.
  const hints = new HintWaiter(deps.notifier, [channels.run(namespace, runId), channels.runHistory(namespace, runId)], [signal, deps.shutdownSignal]);
  try {
    hints.reset();
    let sent = await getRun(deps, namespace, runId);
    yield { run: sent, historyChanged: false };
    let lastSent = Date.now();
    while (!isTerminal(sent.status) && !hints.aborted) {
      // Returns at once for a hint that came during the last read or send.
      await hints.wait(lastSent + keepAliveMs - Date.now());
      if (hints.aborted) return;
      // Asked of the waiter, not the clock: a timer may fire a millisecond before Date.now()
      // says the keep-alive interval has passed, and that is no change.
      const hinted = hints.wasHinted;
      if (hinted) await delay(coalesceMs);
      hints.reset();
      // Reads of many watched runs at once share one statement (getRun's batcher). At a
      // keep-alive the read catches a change whose hint was lost.
      const run = await getRun(deps, namespace, runId);
      if (hinted || run.revision !== sent.revision) {
        yield { run, historyChanged: true };
        sent = run;
      } else {
        yield { run: undefined, historyChanged: false };
      }
      lastSent = Date.now();
    }
  } finally {
    hints.close();
  }
}
