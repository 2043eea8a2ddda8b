// An HTTP/2 (h2c) proxy in front of a real server, for delivery tests: it records which methods
// were called, can answer a method with an error code of its choosing instead of forwarding it
// (a server without StreamLeases, a stream that keeps failing) in the protocol the call speaks
// (gRPC, or Connect as @aiki/sdk does), and can cut calls in flight.
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { type Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus, errorToJson } from "@connectrpc/connect/protocol-connect";

export interface GrpcProxy {
  /** http://127.0.0.1:port, for client({ url }). */
  url: string;
  /** Method names (e.g. "StreamLeases"), one per call, in order. */
  readonly calls: string[];
  count(method: string): number;
  /** Answers calls of `method` with this gRPC status code (e.g. 12 UNIMPLEMENTED); undefined forwards again. */
  refuse(method: string, code: number | undefined): void;
  /** Resets (RST_STREAM) every call of `method` in flight, as a broken connection would. */
  cut(method: string): number;
  close(): Promise<void>;
}

const withoutPseudo = (headers: http2.IncomingHttpHeaders, keep: string[] = []): http2.OutgoingHttpHeaders => {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!k.startsWith(":") || keep.includes(k)) out[k] = v;
  return out;
};

export async function startGrpcProxy(target: string): Promise<GrpcProxy> {
  const upstream = http2.connect(target);
  upstream.on("error", () => {});
  const server = http2.createServer();
  const calls: string[] = [];
  const refusals = new Map<string, number>();
  const live = new Map<http2.ServerHttp2Stream, string>();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
    session.on("error", () => {});
  });

  server.on("stream", (stream, headers) => {
    const path = String(headers[":path"]);
    const method = path.slice(path.lastIndexOf("/") + 1);
    calls.push(method);
    stream.on("error", () => {});
    const refusal = refusals.get(method);
    if (refusal !== undefined) {
      refuse(stream, String(headers["content-type"] ?? ""), refusal);
      return;
    }
    const up = upstream.request(withoutPseudo(headers, [":method", ":path"]));
    live.set(stream, method);
    let trailers: http2.IncomingHttpHeaders = {};
    let ended = false;
    up.on("error", () => {});
    up.on("response", (responseHeaders) => {
      const out = withoutPseudo(responseHeaders, [":status"]);
      if (up.endAfterHeaders) {
        ended = true;
        stream.respond(out, { endStream: true });
      } else {
        stream.respond(out, { waitForTrailers: true });
      }
    });
    up.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("wantTrailers", () => stream.sendTrailers(withoutPseudo(trailers)));
    up.on("data", (chunk: Buffer) => stream.write(chunk));
    up.on("end", () => {
      if (!ended && !stream.closed) stream.end();
    });
    up.on("close", () => {
      if (!stream.closed && up.rstCode !== undefined && up.rstCode !== http2.constants.NGHTTP2_NO_ERROR) stream.close(up.rstCode);
    });
    stream.on("data", (chunk: Buffer) => up.write(chunk));
    stream.on("end", () => up.end());
    stream.on("close", () => {
      live.delete(stream);
      if (!up.closed) up.close(http2.constants.NGHTTP2_CANCEL);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    count: (method) => calls.filter((c) => c === method).length,
    refuse(method, code) {
      if (code === undefined) refusals.delete(method);
      else refusals.set(method, code);
    },
    cut(method) {
      let n = 0;
      for (const [stream, m] of live) {
        if (m !== method) continue;
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        n++;
      }
      return n;
    },
    async close() {
      for (const session of sessions) session.destroy();
      upstream.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Answers a call with an error code, as a server would in the call's protocol. */
function refuse(stream: http2.ServerHttp2Stream, contentType: string, code: number): void {
  const message = "refused by the test proxy";
  if (contentType.startsWith("application/grpc")) {
    stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": String(code), "grpc-message": message }, { endStream: true });
    return;
  }
  const error = errorToJson(new ConnectError(message, code as Code), undefined);
  if (contentType.startsWith("application/connect+")) {
    // A Connect stream ends with an end-stream envelope (flag 0x02) carrying the error.
    const body = Buffer.from(JSON.stringify({ error }));
    const head = Buffer.alloc(5);
    head.writeUInt8(0x02, 0);
    head.writeUInt32BE(body.length, 1);
    stream.respond({ ":status": 200, "content-type": contentType });
    stream.end(Buffer.concat([head, body]));
    return;
  }
  stream.respond({ ":status": codeToHttpStatus(code as Code), "content-type": "application/json" });
  stream.end(JSON.stringify(error));
}
