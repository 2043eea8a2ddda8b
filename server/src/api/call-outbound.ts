import type http from "node:http";
import type http2 from "node:http2";
import { createContextKey, type HandlerContext } from "@connectrpc/connect";

/**
 * A streaming call's way back to the client: whether what it was sent is still waiting to leave
 * (the client does not read: its HTTP/2 window, or its TCP window, is full), and a wait for that
 * to clear. Streams ask before leasing, so a client that does not read is leased nothing more.
 */
export interface Outbound {
  /** Bytes written to the call's response and not yet handed to the transport. */
  pending(): number;
  /** Resolves once fewer than `below` bytes (default 1: none) are pending, or `signal` aborts. */
  drained(signal: AbortSignal, below?: number): Promise<void>;
}

const alwaysClear: Outbound = { pending: () => 0, drained: async () => {} };

export const outboundKey = createContextKey<Outbound>(alwaysClear, { description: "aiki outbound buffer of the call" });

export function outboundOf(ctx: HandlerContext): Outbound {
  return ctx.values.get(outboundKey);
}

/** The outbound side of a Node request: its HTTP/2 stream, or its HTTP/1.1 socket. */
export function outboundOfRequest(req: http.IncomingMessage | http2.Http2ServerRequest): Outbound {
  const writable = "stream" in req ? req.stream : req.socket;
  const pending = () => (writable.destroyed ? 0 : writable.writableLength);
  return {
    pending,
    drained: (signal, below = 1) =>
      new Promise<void>((resolve) => {
        if (pending() < below || signal.aborted) return resolve();
        let timer: NodeJS.Timeout | undefined;
        let delayMs = 5;
        const done = () => {
          writable.off("drain", check);
          writable.off("close", done);
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        };
        // 'drain' fires only after a write was refused; re-checks, backing off to four a second,
        // cover smaller backlogs (a healthy client's clear at once, a deaf one's cost nearly nothing).
        function check() {
          clearTimeout(timer);
          if (pending() < below) return done();
          timer = setTimeout(check, delayMs);
          delayMs = Math.min(250, delayMs * 2);
        }
        writable.on("drain", check);
        writable.once("close", done);
        signal.addEventListener("abort", done, { once: true });
        check();
      }),
  };
}
