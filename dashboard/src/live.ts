// Live updates: a server stream while it works, polling while it does not. A stream that breaks
// (a restart, a proxy timeout, an older server without the RPC) falls back to polling at once and
// is retried now and then; when it is back, polling stops and the view reloads what it missed.
import { useEffect, useRef, useState } from "react";
import { errorText } from "./api.js";

export type LiveMode = { kind: "connecting" } | { kind: "live" } | { kind: "polling"; why: string } | { kind: "ended" };

export interface LiveOptions<T> {
  /** Opens the stream; ends when the signal aborts. */
  open: (signal: AbortSignal) => AsyncIterable<T>;
  onMessage: (message: T, first: boolean) => void;
  /** Reads the current state again (the fallback's one step). */
  poll: () => Promise<void>;
  /** The stream ending by itself means there is nothing more to see (a terminal run). */
  endIsFinal?: boolean;
  pollMs?: number;
  retryMs?: number;
}

export function useLive<T>(options: LiveOptions<T>, deps: readonly unknown[]): LiveMode {
  const [mode, setMode] = useState<LiveMode>({ kind: "connecting" });
  const latest = useRef(options);
  latest.current = options;

  useEffect(() => {
    const abort = new AbortController();
    const { signal } = abort;
    const pollMs = latest.current.pollMs ?? 2_000;
    const retryMs = latest.current.retryMs ?? 10_000;
    let pollTimer: ReturnType<typeof setTimeout> | undefined;
    let polling = false;
    const pollLoop = () => {
      pollTimer = setTimeout(async () => {
        try {
          await latest.current.poll();
        } catch {
          // The next round tries again; the view shows the last error it got.
        }
        if (polling && !signal.aborted) pollLoop();
      }, pollMs);
    };
    const startPolling = () => {
      if (polling) return;
      polling = true;
      pollLoop();
    };
    const stopPolling = () => {
      polling = false;
      clearTimeout(pollTimer);
    };
    const wait = (delay: number) =>
      new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        signal.addEventListener("abort", () => {
          clearTimeout(t);
          resolve();
        });
      });

    void (async () => {
      while (!signal.aborted) {
        let first = true;
        try {
          for await (const message of latest.current.open(signal)) {
            if (first) {
              stopPolling();
              setMode({ kind: "live" });
            }
            latest.current.onMessage(message, first);
            first = false;
          }
          if (signal.aborted) return;
          if (latest.current.endIsFinal) {
            stopPolling();
            setMode({ kind: "ended" });
            return;
          }
          setMode({ kind: "polling", why: "the live stream ended" });
        } catch (error) {
          if (signal.aborted) return;
          setMode({ kind: "polling", why: errorText(error) });
        }
        startPolling();
        await wait(retryMs);
      }
    })();
    return () => {
      abort.abort();
      stopPolling();
    };
  }, deps);
  return mode;
}
