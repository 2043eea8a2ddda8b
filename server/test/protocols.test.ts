// One port, every protocol: the same GetRun answered over Connect JSON on HTTP/1.1, gRPC-Web on
// HTTP/1.1, and, with AIKI_TLS_CERT/AIKI_TLS_KEY, gRPC on h2 and Connect on HTTP/1.1 chosen by
// ALPN. Each call goes through a real socket to a real server on a real database.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { promisify } from "node:util";
import { Code, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { type AikiServer, createServer } from "../../server/src/app.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { rpcError } from "../../test/support/rpc-error.js";

const execFileAsync = promisify(execFile);
// Any valid UUID no run has: the not-found answer shows each protocol's error mapping too.
const unknownRunId = "00000000-0000-4000-8000-000000000000";

const h = useTestAiki({ redis: false, timers: false });
let aiki: TestAiki;
let runId: string;

beforeAll(async () => {
  aiki = h.aiki;
  const { run } = await aiki
    .client(RunService)
    .startRun({ workflowName: "order", workflowVersionId: "1.0.0", input: { kind: { case: "stringValue", value: "o-1" } } });
  runId = run!.id;
});

interface JsonAnswer {
  status: number;
  httpVersion: string;
  contentType: string | undefined;
  alpnProtocol: string | false | null | undefined;
  body: Record<string, unknown>;
}

// Node passes ALPNProtocols on to tls.connect, though https.RequestOptions does not declare it.
type TlsRequestOptions = https.RequestOptions & Pick<tls.ConnectionOptions, "ALPNProtocols">;

/** A Connect unary call with a JSON body, by hand, as curl or a browser would make it. */
function connectJson(baseUrl: string, method: string, body: unknown, options: TlsRequestOptions = {}): Promise<JsonAnswer> {
  const url = new URL(`/aiki.v1.RunService/${method}`, baseUrl);
  const request = url.protocol === "https:" ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(url, { ...options, method: "POST", headers: { "content-type": "application/json", "connect-protocol-version": "1" } }, (res) => {
      // Read now: once the body ends, a keep-alive agent takes the socket back.
      const alpnProtocol = (res.socket as tls.TLSSocket | null)?.alpnProtocol;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        try {
          resolve({
            status: res.statusCode ?? 0,
            httpVersion: res.httpVersion,
            contentType: res.headers["content-type"],
            alpnProtocol,
            body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>,
          });
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** Records the content type of every response, so a test can tell which protocol answered. */
function responseContentTypes(): { seen: string[]; interceptor: Interceptor } {
  const seen: string[] = [];
  return {
    seen,
    interceptor: (next) => async (req) => {
      const res = await next(req);
      seen.push(res.header.get("content-type") ?? "");
      return res;
    },
  };
}

describe("cleartext", () => {
  it("answers GetRun over the Connect protocol with JSON on HTTP/1.1", async () => {
    const answer = await connectJson(aiki.url, "GetRun", { runId });
    expect(answer.httpVersion).toBe("1.1");
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe("application/json");
    const run = answer.body.run as Record<string, unknown>;
    expect(run).toMatchObject({ id: runId, workflowName: "order", workflowVersionId: "1.0.0", status: "RUN_STATUS_QUEUED", input: "o-1" });

    const missing = await connectJson(aiki.url, "GetRun", { runId: unknownRunId });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("not_found");
  });

  it("answers GetRun over gRPC-Web on HTTP/1.1", async () => {
    const { seen, interceptor } = responseContentTypes();
    const runs = createClient(RunService, createGrpcWebTransport({ baseUrl: aiki.url, httpVersion: "1.1", interceptors: [interceptor] }));
    const { run } = await runs.getRun({ runId });
    expect(run?.id).toBe(runId);
    expect(run?.status).toBe(RunStatus.QUEUED);
    expect(seen).toEqual(["application/grpc-web+proto"]);

    expect((await rpcError(runs.getRun({ runId: unknownRunId }))).code).toBe(Code.NotFound);
  });
});

describe("TLS", () => {
  let dir: string;
  let ca: Buffer;
  let server: AikiServer;
  let url: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "aiki-tls-"));
    const certFile = join(dir, "cert.pem");
    const keyFile = join(dir, "key.pem");
    // Self-signed for 127.0.0.1, so the client verifies it against itself as the only CA: a
    // cleartext or wrongly certified port fails the handshake.
    await execFileAsync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ]);
    ca = await readFile(certFile);
    // The same store as the cleartext server, so the run started above is there.
    server = createServer({
      db: aiki.deps.db,
      notifier: aiki.deps.notifier,
      logger: pino({ level: "silent" }),
      timers: false,
      tls: { certFile, keyFile },
    });
    ({ url } = await server.listen(0, "127.0.0.1"));
  });
  afterAll(async () => {
    await server?.close(2_000);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("answers gRPC on h2, chosen by ALPN", async () => {
    const sockets: tls.TLSSocket[] = [];
    const port = Number(new URL(url).port);
    const transport = createGrpcTransport({
      baseUrl: url,
      nodeOptions: {
        // Our own TLS socket, to read what ALPN chose; offering both lets the server pick.
        createConnection: () => {
          const socket = tls.connect({ host: "127.0.0.1", port, ca, ALPNProtocols: ["h2", "http/1.1"] });
          sockets.push(socket);
          return socket;
        },
      },
    });
    const { run } = await createClient(RunService, transport).getRun({ runId });
    expect(run?.id).toBe(runId);
    expect(sockets.map((s) => s.alpnProtocol)).toEqual(["h2"]);
    expect(sockets[0]!.authorized).toBe(true);
  });

  it("answers the Connect protocol with JSON on HTTP/1.1, chosen by ALPN", async () => {
    const answer = await connectJson(url, "GetRun", { runId }, { ca, ALPNProtocols: ["http/1.1"], agent: false });
    expect(answer.alpnProtocol).toBe("http/1.1");
    expect(answer.httpVersion).toBe("1.1");
    expect(answer.status).toBe(200);
    expect((answer.body.run as Record<string, unknown>).id).toBe(runId);
  });

  it("refuses a client that does not trust the certificate", async () => {
    await expect(connectJson(url, "GetRun", { runId }, { agent: false })).rejects.toThrow(/self[- ]signed/i);
  });
});
