import type http from "node:http";
import http2 from "node:http2";
import type { DescService } from "@bufbuild/protobuf";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;
type Handler = (req: Request, res: Response) => void;
type Headers = http2.OutgoingHttpHeaders;

/**
 * The answer of a unary call over HTTP/2 ends its stream in the DATA frame that carries it.
 * Node's compatibility response (which Connect's adapter writes to) always asks for trailers,
 * and with none to send (the Connect protocol's unary answers, the SDK's calls) it ends the
 * stream with a second, empty DATA frame, sent in a later socket write once the first write
 * completed: a client has its answer only then, behind whatever else the server's event loop
 * does meanwhile (bench/trace.ts measured the gap). Answers with trailers (gRPC) and streams
 * are left to the compatibility layer; a unary answer without trailers is sent on the HTTP/2
 * stream itself: its headers, then its one message with END_STREAM.
 */
export function endUnaryAnswersWithData(handler: Handler, services: readonly DescService[]): Handler {
  const unary = new Set(services.flatMap((s) => s.methods.filter((m) => m.methodKind === "unary").map((m) => `/${s.typeName}/${m.name}`)));
  return (req, res) => {
    if (res instanceof http2.Http2ServerResponse) {
      const url = req.url ?? "";
      const q = url.indexOf("?");
      if (unary.has(q < 0 ? url : url.slice(0, q))) sendInOneFrame(res);
    }
    handler(req, res);
  };
}

/**
 * Holds the status, headers and written chunk until end(): then, when no trailers were set and
 * one chunk at most was written, sends them on the stream as HEADERS and one DATA frame with
 * END_STREAM, and lets the response end as usual (its stream has ended, so nothing more is
 * sent). Anything else (trailers, a second chunk, setHeader) replays what was held through the
 * compatibility response.
 */
function sendInOneFrame(res: http2.Http2ServerResponse): void {
  const own = { writeHead: res.writeHead, write: res.write, end: res.end, addTrailers: res.addTrailers };
  let head: { status: number; headers: Headers } | undefined;
  let chunk: Uint8Array | undefined;
  let written: ((error?: Error | null) => void) | undefined;
  let holding = true;
  const restore = () => Object.assign(res, own);
  // Replays what was held through the compatibility response, which then does the rest.
  const release = () => {
    if (!holding) return;
    holding = false;
    restore();
    if (head) res.writeHead(head.status, head.headers);
    if (chunk) res.write(chunk, written);
  };
  const patched = res as unknown as Record<keyof typeof own, unknown>;
  // Connect writes the head when it has the first chunk, and again before ending if headersSent
  // is still false, which while held it is: the later head replaces the held one.
  patched.writeHead = (status: number, headers?: unknown) => {
    if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
      release();
      return (res.writeHead as (s: number, h?: unknown) => unknown)(status, headers);
    }
    head = { status, headers: headers as Headers };
    return res;
  };
  patched.write = (data: unknown, encoding?: unknown, callback?: unknown) => {
    if (chunk !== undefined || !(data instanceof Uint8Array)) {
      release();
      return (res.write as (d: unknown, e?: unknown, c?: unknown) => boolean)(data, encoding, callback);
    }
    chunk = data;
    const cb = typeof encoding === "function" ? encoding : callback;
    written = typeof cb === "function" ? (cb as typeof written) : undefined;
    return true;
  };
  patched.addTrailers = (trailers: unknown) => {
    release();
    return (res.addTrailers as (t: unknown) => unknown)(trailers);
  };
  patched.end = (...args: unknown[]) => {
    const stream = res.stream;
    const first = args[0];
    const plainEnd = first === undefined || typeof first === "function";
    if (holding && head && plainEnd && !stream.destroyed && !stream.closed && !stream.headersSent) {
      holding = false;
      restore();
      stream.respond({ ...head.headers, ":status": head.status });
      if (written) stream.end(chunk, written);
      else stream.end(chunk);
    } else {
      release();
    }
    return (res.end as (...a: unknown[]) => unknown)(...args);
  };
}
