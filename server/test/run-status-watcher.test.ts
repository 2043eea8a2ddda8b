// RunStatusWatcher's offer: a row this server committed reaches the watchers of that run only,
// whole, and stops reaching them once they unwatch. (The batched re-read is exercised by the
// wait tests against a real server.)
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { RunStatusWatcher } from "../src/engine/run-status-watcher.js";
import type { Db } from "../src/store/database.js";
import type { RunRow } from "../src/store/runs.table.js";

const unusedDb = {} as Db;
const row = (id: string, status: RunRow["status"], revision: number) => ({ id, status, revision, namespace: "default" }) as RunRow;

describe("RunStatusWatcher.offer", () => {
  it("hands the committed row to the run's watchers, not to others, until they unwatch", () => {
    const watcher = new RunStatusWatcher(unusedDb, pino({ level: "silent" }));
    const seen: Array<[string, RunRow["status"], number | undefined]> = [];
    const stopA = watcher.watch("a", (status, r) => seen.push(["a", status, r?.revision]));
    const stopB = watcher.watch("b", (status, r) => seen.push(["b", status, r?.revision]));
    watcher.offer(row("a", "completed", 5));
    watcher.offer(row("c", "completed", 2));
    stopA();
    watcher.offer(row("a", "failed", 6));
    stopB();
    watcher.stop();
    expect(seen).toEqual([["a", "completed", 5]]);
  });
});
