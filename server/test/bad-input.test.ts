// A hostile client against a real server: every bad request gets a clear code naming the field or
// the limit, nothing of it is stored, and afterwards the server still starts and reads runs with
// its memory bounded. Real sockets throughout: Connect/gRPC clients, and raw HTTP/1.1 and HTTP/2
// requests where a client library would refuse to send the garbage.
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { type Value, ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectError } from "@connectrpc/connect";
import { sql } from "kysely";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { BadRequestDetailSchema, LimitExceededDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { GetRunRequestSchema, RunService, StartRunRequestSchema } from "@aiki/gen/aiki/v1/run_service_pb";
import { ScheduleService } from "@aiki/gen/aiki/v1/schedule_service_pb";
import { type Lease, SessionRequestSchema, StreamLeasesRequestSchema, WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { CallerQuotas } from "../../server/src/api/caller-quotas.js";
import { LimitExceededError } from "../../server/src/domain/errors.js";
import { createCleartextServer, defaultConnectionLimits } from "../../server/src/listen-one-port.js";
import { defaultLimits } from "../../server/src/limits.js";
import { AikiMetrics } from "../../server/src/metrics/aiki-metrics.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { closeChecked } from "../../test/support/leak-checks.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { rpcError } from "../../test/support/rpc-error.js";

// Small enough for a test to reach; the defaults (docs/limits.md) are what the refusals name otherwise.
const limits = { maxWaitsPerCaller: 3, maxStreamsPerCaller: 3, maxSessionUnread: 16 };
// The test process hosts the server: its RSS may grow at most this much over the whole suite,
// which sends two 100 MB bodies, 5 MiB messages, 10,000-deep JSON (built by quadratic copying) and
// thousands of unread answers; the client side of all that is counted too.
const rssGrowthBound = 192 * 1024 * 1024;
// Around the two 100 MB bodies alone, which buffered would pass it.
const rssGrowthBoundForBodies = 48 * 1024 * 1024;

const h = useTestAiki({ redis: false, timers: false, limits, connectionLimits: { headersTimeoutMs: 1_000 } });
let aiki: TestAiki;
let rssBefore: number;
const runs = () => aiki.client(RunService);
const leases = () => aiki.client(WorkerLeaseService);
const str = (value: string): Value => create(ValueSchema, { kind: { case: "stringValue", value } });

beforeAll(() => {
  aiki = h.aiki;
  rssBefore = process.memoryUsage().rss;
});
afterEach((t) => {
  if (process.env.AIKI_TEST_RSS) console.log(`${t.task.name}: rss +${Math.round((process.memoryUsage().rss - rssBefore) / 1024 / 1024)} MiB`);
});

/** Every row the store holds, table by table: a refused request must leave this unchanged. */
async function storedRows(): Promise<Record<string, number>> {
  const { rows } = await sql<Record<string, string>>`
    select (select count(*) from runs) as runs, (select count(*) from run_transitions) as run_transitions,
           (select count(*) from events) as events, (select count(*) from tasks) as tasks,
           (select count(*) from schedules) as schedules, (select count(*) from run_waits) as run_waits,
           (select count(*) from child_runs) as child_runs`.execute(aiki.deps.db);
  return Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, Number(v)]));
}

/** Runs `refuse` and checks the store holds exactly what it held before. */
async function nothingStored(refuse: () => Promise<void>): Promise<void> {
  const before = await storedRows();
  await refuse();
  expect(await storedRows()).toEqual(before);
}

function expectInvalid(error: ConnectError, field: string, message?: RegExp): void {
  expect(error.code, error.message).toBe(Code.InvalidArgument);
  const fields = error.findDetails(BadRequestDetailSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));
  expect(fields).toContain(field);
  if (message) expect(error.rawMessage).toMatch(message);
}

function expectLimit(error: ConnectError, code: Code, limit: string, subject?: string): void {
  expect(error.code, error.message).toBe(code);
  const detail = error.findDetails(LimitExceededDetailSchema)[0];
  expect(detail?.limit, error.message).toBe(limit);
  expect(detail?.max).toBeGreaterThan(0n);
  if (subject) expect(detail?.subject).toBe(subject);
}

/** A leased run of its own workflow, for the worker-side tests. */
async function leasedRun(workflowName: string, workerId = "hostile-worker"): Promise<Lease> {
  await runs().startRun({ workflowName, workflowVersionId: "1" });
  const { leases: got } = await leases().pollLeases({ workerId, workflows: [{ workflowName, workflowVersionId: "1" }], maxLeases: 1 });
  expect(got).toHaveLength(1);
  return got[0]!;
}

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request on HTTP/1.1, body as given (a Buffer, or a string sent as is). */
function h1Request(path: string, contentType: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(path, aiki.url),
      { method: "POST", headers: { "content-type": contentType, "connect-protocol-version": "1", ...headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** One request on HTTP/2 (h2c); trailers merged into headers, as gRPC reads them. */
function h2Request(path: string, contentType: string, body: Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(aiki.url);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": contentType, te: "trailers" });
    const headers: RawAnswer["headers"] = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => Object.assign(headers, h));
    stream.on("trailers", (t) => Object.assign(headers, t));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      session.close();
      resolve({ status: Number(headers[":status"]), headers, body: Buffer.concat(chunks) });
    });
    stream.on("error", reject);
    stream.end(body);
  });
}

/** A gRPC length-prefixed message: flags, big-endian length, then the bytes. */
function grpcFrame(payload: Buffer, flags = 0, declaredLength = payload.length): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(flags, 0);
  header.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([header, payload]);
}

/** A protobuf varint. */
function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

/** A Connect JSON error body: its code and message. */
function connectErrorOf(answer: RawAnswer): { code: string; message: string } {
  return JSON.parse(answer.body.toString("utf8")) as { code: string; message: string };
}

describe("ids", () => {
  it("reads an upper-case run id as the same run in every RPC", async () => {
    const { run } = await runs().startRun({ workflowName: "ids", workflowVersionId: "1" });
    const upper = run!.id.toUpperCase();
    expect((await runs().getRun({ runId: upper })).run?.id).toBe(run!.id);
    expect((await runs().pauseRun({ runId: upper })).run?.status).toBe(RunStatus.PAUSED);
    expect((await runs().listRunTransitions({ runId: upper })).transitions.length).toBeGreaterThan(1);
    const sent = await aiki.client(EventService).sendEvent({ targets: [{ target: { case: "runId", value: upper } }], eventName: "e" });
    expect(sent.deliveries[0]?.event?.runId).toBe(run!.id);
    expect((await runs().resumeRun({ runId: upper })).run?.status).toBe(RunStatus.QUEUED);
  });

  it("refuses malformed ids naming the field", async () => {
    await nothingStored(async () => {
      for (const bad of ["not-a-uuid", "../../etc/passwd", "00000000-0000-4000-8000-00000000000\u0000", "' or 1=1 --", "x".repeat(10_000)]) {
        expectInvalid(await rpcError(runs().getRun({ runId: bad })), "run_id", /must be a UUID/);
        expectInvalid(await rpcError(runs().cancelRun({ runId: bad })), "run_id");
      }
      expectInvalid(await rpcError(aiki.client(ScheduleService).getSchedule({ scheduleId: "nope" })), "schedule_id");
      expectInvalid(
        await rpcError(aiki.client(EventService).sendEvent({ targets: [{ target: { case: "runId", value: "nope" } }], eventName: "e" })),
        "targets[0].run_id",
      );
    });
  });
});

describe("NUL, control characters and lone surrogates", () => {
  it("refuses U+0000 in input, names, event data and cancel reasons before storing anything", async () => {
    const { run } = await runs().startRun({ workflowName: "nul", workflowVersionId: "1" });
    await nothingStored(async () => {
      expectInvalid(await rpcError(runs().startRun({ workflowName: "nul", workflowVersionId: "1", input: str("a\u0000b") })), "input", /NUL/);
      const nested = create(ValueSchema, {
        kind: { case: "structValue", value: { fields: { "k\u0000": str("v") } } },
      });
      expectInvalid(await rpcError(runs().startRun({ workflowName: "nul", workflowVersionId: "1", input: nested })), "input", /NUL/);
      expectInvalid(await rpcError(runs().startRun({ workflowName: "n\u0000ul", workflowVersionId: "1" })), "workflow_name", /control/);
      expectInvalid(await rpcError(runs().startRun({ workflowName: "nul", workflowVersionId: "1", referenceId: "r\u0007" })), "reference_id");
      expectInvalid(await rpcError(runs().cancelRun({ runId: run!.id, reason: "because\u0000" })), "reason", /NUL/);
      const events = aiki.client(EventService);
      expectInvalid(
        await rpcError(events.sendEvent({ targets: [{ target: { case: "runId", value: run!.id } }], eventName: "e", data: str("\u0000") })),
        "data",
      );
    });
    expect((await runs().getRun({ runId: run!.id })).run?.status).toBe(RunStatus.QUEUED);
  });

  it("refuses a lone surrogate in Connect JSON naming the field", async () => {
    await nothingStored(async () => {
      // Written by hand: "\ud800" is valid JSON text for a string no UTF-8 (and no jsonb) can hold.
      const body = '{"workflowName":"surrogate","workflowVersionId":"1","input":{"note":"\\ud800"}}';
      const answer = await h1Request("/aiki.v1.RunService/StartRun", "application/json", body);
      expect(answer.status).toBe(400);
      expect(connectErrorOf(answer)).toMatchObject({ code: "invalid_argument", message: expect.stringMatching(/^input: .*surrogate/) });
    });
  });

  it("refuses U+0000 in a workflow's output and failure to the worker, and a concurrent batch loses nothing for it", async () => {
    const workflowName = "nul-output";
    await Promise.all(Array.from({ length: 12 }, () => runs().startRun({ workflowName, workflowVersionId: "1" })));
    const { leases: got } = await leases().pollLeases({ workerId: "w-nul", workflows: [{ workflowName, workflowVersionId: "1" }], maxLeases: 12 });
    expect(got).toHaveLength(12);
    const [poisoned, failing, ...fine] = got;
    const answers = await Promise.allSettled([
      leases().completeRun({ runId: poisoned!.run!.id, leaseToken: poisoned!.leaseToken, output: str("bad\u0000output") }),
      leases().failRun({ runId: failing!.run!.id, leaseToken: failing!.leaseToken, failure: { message: "boom\u0000", stack: "at x\n" } }),
      ...fine.map((l, i) => leases().completeRun({ runId: l.run!.id, leaseToken: l.leaseToken, output: str(`ok ${i}`) })),
    ]);
    expect(answers[0]!.status).toBe("rejected");
    expectInvalid((answers[0] as PromiseRejectedResult).reason as ConnectError, "output", /NUL/);
    expectInvalid((answers[1] as PromiseRejectedResult).reason as ConnectError, "failure.message", /NUL/);
    for (const a of answers.slice(2)) expect(a.status).toBe("fulfilled");
    for (const l of fine) expect((await runs().getRun({ runId: l.run!.id })).run?.status).toBe(RunStatus.COMPLETED);
    // The refused ones still hold their leases, untouched: the worker can record what it can.
    expect((await runs().getRun({ runId: poisoned!.run!.id })).run?.status).toBe(RunStatus.RUNNING);
    const recorded = await leases().completeRun({ runId: poisoned!.run!.id, leaseToken: poisoned!.leaseToken, output: str("bad output") });
    expect(recorded.run?.status).toBe(RunStatus.COMPLETED);
  });
});

describe("payloads and limits", () => {
  it("refuses a payload over AIKI_MAX_PAYLOAD_BYTES and a message over AIKI_MAX_MESSAGE_BYTES", async () => {
    await nothingStored(async () => {
      const big = await rpcError(runs().startRun({ workflowName: "big", workflowVersionId: "1", input: str("x".repeat(1_100_000)) }));
      expectInvalid(big, "input");
      expectLimit(big, Code.InvalidArgument, "AIKI_MAX_PAYLOAD_BYTES", "input");
      const huge = await rpcError(runs().startRun({ workflowName: "big", workflowVersionId: "1", input: str("x".repeat(5 * 1024 * 1024)) }));
      expectLimit(huge, Code.ResourceExhausted, "AIKI_MAX_MESSAGE_BYTES", "request");
    });
  });

  it("refuses a declared 100 MB HTTP/1.1 body before reading it", async () => {
    const rss = process.memoryUsage().rss;
    await nothingStored(async () => {
      // Headers only: the answer must come without a byte of the body sent.
      const answer = await new Promise<RawAnswer>((resolve, reject) => {
        const req = http.request(
          new URL("/aiki.v1.RunService/StartRun", aiki.url),
          {
            method: "POST",
            agent: false,
            headers: { "content-type": "application/json", "connect-protocol-version": "1", "content-length": String(100 * 1024 * 1024) },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              req.destroy();
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
            });
          },
        );
        req.on("error", reject);
        req.flushHeaders();
      });
      expect(answer.status).toBe(429);
      expect(connectErrorOf(answer)).toMatchObject({ code: "resource_exhausted", message: expect.stringContaining("AIKI_MAX_MESSAGE_BYTES") });
    });
    expect(process.memoryUsage().rss - rss).toBeLessThan(rssGrowthBoundForBodies);
  });

  it("refuses a 100 MB chunked HTTP/1.1 body without buffering it", async () => {
    const rss = process.memoryUsage().rss;
    await nothingStored(async () => {
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const answer = await new Promise<RawAnswer>((resolve, reject) => {
        const req = http.request(
          new URL("/aiki.v1.RunService/StartRun", aiki.url),
          { method: "POST", agent: false, headers: { "content-type": "application/json", "connect-protocol-version": "1" } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => {
              req.destroy();
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
            });
          },
        );
        req.on("error", () => {});
        const pump = () => {
          while (sent < 100 && !req.destroyed) {
            sent++;
            if (!req.write(chunk)) return void req.once("drain", pump);
          }
          if (!req.destroyed) req.end();
        };
        req.write('{"input":"');
        pump();
        setTimeout(() => reject(new Error("no answer within 20 s")), 20_000).unref();
      });
      expect(answer.status).toBe(429);
      expect(connectErrorOf(answer).code).toBe("resource_exhausted");
    });
    expect(process.memoryUsage().rss - rss).toBeLessThan(rssGrowthBoundForBodies);
  });

  it("refuses 10,000-deep JSON without a stack overflow, over Connect JSON and over gRPC", async () => {
    await nothingStored(async () => {
      const depth = 10_000;
      const body = `{"workflowName":"deep","workflowVersionId":"1","input":${"[".repeat(depth)}${"]".repeat(depth)}}`;
      const answer = await h1Request("/aiki.v1.RunService/StartRun", "application/json", body);
      expect(answer.status).toBe(400);
      expect(connectErrorOf(answer).code).toBe("invalid_argument");

      // Encoded by hand, inside out: a client library overflows its own stack serializing this.
      let value = Buffer.from([0x32, 0x00]); // Value { list_value: {} }
      for (let i = 1; i < depth; i++) {
        const list = Buffer.concat([Buffer.from([0x0a]), varint(value.length), value]); // ListValue { values: [value] }
        value = Buffer.concat([Buffer.from([0x32]), varint(list.length), list]); // Value { list_value: list }
      }
      const request = Buffer.concat([
        Buffer.from(toBinary(StartRunRequestSchema, create(StartRunRequestSchema, { workflowName: "deep", workflowVersionId: "1" }))),
        Buffer.from([0x22]),
        varint(value.length),
        value,
      ]);
      const overGrpc = await h2Request("/aiki.v1.RunService/StartRun", "application/grpc", grpcFrame(request));
      expect(Number(overGrpc.headers["grpc-status"]), String(overGrpc.headers["grpc-message"])).toBe(Code.InvalidArgument);

      let nested = create(ValueSchema, { kind: { case: "listValue", value: { values: [] } } });
      for (let i = 1; i < 33; i++) nested = create(ValueSchema, { kind: { case: "listValue", value: { values: [nested] } } });
      const overDepth = await rpcError(runs().startRun({ workflowName: "deep", workflowVersionId: "1", input: nested }));
      expectLimit(overDepth, Code.InvalidArgument, "AIKI_MAX_JSON_DEPTH", "input");
    });
  });

  it("refuses names past AIKI_MAX_NAME_LENGTH, page sizes past AIKI_MAX_PAGE_SIZE, and a heartbeat of 20,000 leases", async () => {
    await nothingStored(async () => {
      const long = await rpcError(runs().startRun({ workflowName: "w".repeat(257), workflowVersionId: "1" }));
      expectLimit(long, Code.InvalidArgument, "AIKI_MAX_NAME_LENGTH", "workflow_name");
      expectLimit(await rpcError(runs().listRuns({ pageSize: 1001 })), Code.InvalidArgument, "AIKI_MAX_PAGE_SIZE", "page_size");
      expectInvalid(await rpcError(runs().listRuns({ pageSize: -1 })), "page_size", /negative/);
      const many = Array.from({ length: 20_000 }, () => ({ runId: crypto.randomUUID(), leaseToken: crypto.randomUUID() }));
      const beat = await rpcError(leases().heartbeat({ workerId: "w", leases: many }));
      expectLimit(beat, Code.InvalidArgument, "AIKI_MAX_HEARTBEAT_LEASES", "leases");
    });
  });

  it("refuses negative and huge durations, far-past and far-future start times", async () => {
    await nothingStored(async () => {
      const start = (trigger: Parameters<ReturnType<typeof runs>["startRun"]>[0]["trigger"]) =>
        rpcError(runs().startRun({ workflowName: "when", workflowVersionId: "1", trigger }));
      expectInvalid(await start({ when: { case: "delay", value: { seconds: -5n } } }), "trigger.delay", /negative/);
      expectInvalid(await start({ when: { case: "delay", value: { seconds: 10n ** 15n } } }), "trigger.delay", /100 years/);
      expectInvalid(await start({ when: { case: "startTime", value: { seconds: -(10n ** 11n) } } }), "trigger.start_time", /between/);
      expectInvalid(await start({ when: { case: "startTime", value: { seconds: 10n ** 13n } } }), "trigger.start_time", /between/);
      expectInvalid(await start({ when: { case: "startTime", value: { seconds: 0n, nanos: -1 } } }), "trigger.start_time");
      const wait = await rpcError(runs().waitForRunStatus({ runId: crypto.randomUUID(), timeout: { seconds: -1n } }));
      expectInvalid(wait, "timeout");
    });
  });

  it("refuses forged and corrupt page tokens and invalid cron expressions", async () => {
    const { run } = await runs().startRun({ workflowName: "pages", workflowVersionId: "1" });
    await nothingStored(async () => {
      const forge = (p: string, f: string) => Buffer.from(JSON.stringify({ p, f })).toString("base64url");
      for (const token of ["!!!", "e30", forge("x", run!.id), "A".repeat(5000)]) {
        expectInvalid(await rpcError(runs().listChildRuns({ parentRunId: run!.id, pageToken: token })), "page_token", /not a token/);
      }
      expectInvalid(await rpcError(runs().listRunTransitions({ runId: run!.id, pageToken: forge("1 or 1=1", run!.id) })), "page_token");
      expectInvalid(await rpcError(runs().listRunTransitions({ runId: run!.id, pageToken: forge("99999999999999999999", run!.id) })), "page_token");
      const schedules = aiki.client(ScheduleService);
      for (const expression of ["not a cron", "61 * * * *", "* * * * * * * *", "*/0 * * * *", "* * *\u0000 * *"]) {
        const error = await rpcError(
          schedules.activateSchedule({ workflowName: "cron", workflowVersionId: "1", spec: { spec: { case: "cron", value: { expression, timezone: "" } } } }),
        );
        expect(error.code, `${expression}: ${error.message}`).toBe(Code.InvalidArgument);
      }
      const zone = await rpcError(
        schedules.activateSchedule({
          workflowName: "cron",
          workflowVersionId: "1",
          spec: { spec: { case: "cron", value: { expression: "* * * * *", timezone: "Mars/Olympus" } } },
        }),
      );
      expect(zone.code).toBe(Code.InvalidArgument);
    });
  });
});

describe("the wire", () => {
  it("refuses unknown JSON fields and enum names instead of dropping them", async () => {
    await nothingStored(async () => {
      const typo = await h1Request("/aiki.v1.RunService/StartRun", "application/json", '{"workflowName":"typo","workflowVersionId":"1","inptu":{"a":1}}');
      expect(typo.status).toBe(400);
      expect(connectErrorOf(typo)).toMatchObject({ code: "invalid_argument", message: expect.stringContaining("inptu") });
      const enumName = await h1Request(
        "/aiki.v1.RunService/StartRun",
        "application/json",
        '{"workflowName":"typo","workflowVersionId":"1","conflictPolicy":"REFERENCE_CONFLICT_POLICY_OVERWRITE_EVERYTHING"}',
      );
      expect(enumName.status).toBe(400);
      expect(connectErrorOf(enumName).code).toBe("invalid_argument");
    });
  });

  it("answers undecodable gRPC, gRPC-Web and Connect frames with INVALID_ARGUMENT", async () => {
    await nothingStored(async () => {
      const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34]);
      // gRPC: a garbage message, a frame shorter than it claims, and a "compressed" frame with no encoding.
      for (const body of [grpcFrame(garbage), grpcFrame(garbage, 0, 1000), grpcFrame(garbage, 1), Buffer.from([0x00, 0x01])]) {
        const answer = await h2Request("/aiki.v1.RunService/StartRun", "application/grpc", body);
        expect(answer.status).toBe(200);
        expect(Number(answer.headers["grpc-status"]), String(answer.headers["grpc-message"])).toBe(Code.InvalidArgument);
      }
      const web = await h1Request("/aiki.v1.RunService/GetRun", "application/grpc-web+proto", grpcFrame(garbage), { "x-grpc-web": "1" });
      const trailer = web.body.subarray(web.body.indexOf(0x80) + 5).toString("latin1");
      expect(web.headers["grpc-status"] ?? trailer.match(/grpc-status: ?(\d+)/)?.[1]).toBe(String(Code.InvalidArgument));
      const connect = await h1Request("/aiki.v1.RunService/StartRun", "application/proto", garbage);
      expect(connect.status).toBe(400);
      expect(connectErrorOf(connect).code).toBe("invalid_argument");
      const json = await h1Request("/aiki.v1.RunService/StartRun", "application/json", "{not json");
      expect(json.status).toBe(400);
      expect(connectErrorOf(json).code).toBe("invalid_argument");
      // A valid message for another method: decodes as something else, or not at all; never INTERNAL.
      const other = toBinary(GetRunRequestSchema, create(GetRunRequestSchema, { runId: "x".repeat(40) }));
      const confused = await h2Request("/aiki.v1.RunService/StartRun", "application/grpc", grpcFrame(Buffer.from(other)));
      expect(Number(confused.headers["grpc-status"])).toBe(Code.InvalidArgument);
    });
  });

  it("answers wrong content types with 415, not a decode of the wrong thing", async () => {
    await nothingStored(async () => {
      for (const contentType of ["text/plain", "application/xml", "multipart/form-data; boundary=x"]) {
        const answer = await h1Request("/aiki.v1.RunService/StartRun", contentType, '{"workflowName":"ct","workflowVersionId":"1"}');
        expect(answer.status, contentType).toBe(415);
      }
    });
  });

  it("closes connections that send nothing, or only part of their headers", async () => {
    const closedWithin = (send: string | undefined) =>
      new Promise<number>((resolve, reject) => {
        const started = Date.now();
        const socket = net.connect(aiki.port, "127.0.0.1", () => {
          if (send !== undefined) socket.write(send);
        });
        socket.on("data", () => {});
        socket.on("error", () => {});
        socket.on("close", () => resolve(Date.now() - started));
        setTimeout(() => reject(new Error("the connection was kept")), 10_000).unref();
      });
    // headersTimeoutMs is 1 s here (10 s by default).
    expect(await closedWithin(undefined)).toBeLessThan(5_000);
    expect(await closedWithin("POST /aiki.v1.RunService/GetRun HTTP/1.1\r\nHost: x\r\n")).toBeLessThan(5_000);
  });

  it("advertises a bound on concurrent HTTP/2 streams", async () => {
    const session = http2.connect(aiki.url);
    const settings = await new Promise<http2.Settings>((resolve) => session.once("remoteSettings", resolve));
    session.close();
    expect(settings.maxConcurrentStreams).toBe(1000);
  });
});

describe("leases", () => {
  it("refuses made-up and stolen lease tokens, and stores nothing they carry", async () => {
    const mine = await leasedRun("stolen-a");
    const theirs = await leasedRun("stolen-b", "other-worker");
    await nothingStored(async () => {
      const madeUp = await rpcError(leases().completeRun({ runId: mine.run!.id, leaseToken: crypto.randomUUID(), output: str("forged") }));
      expect(madeUp.code).toBe(Code.FailedPrecondition);
      const stolen = await rpcError(leases().completeRun({ runId: mine.run!.id, leaseToken: theirs.leaseToken, output: str("forged") }));
      expect(stolen.code).toBe(Code.FailedPrecondition);
      const failed = await rpcError(leases().failRun({ runId: theirs.run!.id, leaseToken: mine.leaseToken, failure: { message: "forged" } }));
      expect(failed.code).toBe(Code.FailedPrecondition);
      expectInvalid(await rpcError(leases().completeRun({ runId: mine.run!.id, leaseToken: "token" })), "lease_token");
    });
    for (const l of [mine, theirs]) {
      const { run } = await runs().getRun({ runId: l.run!.id });
      expect(run?.status).toBe(RunStatus.RUNNING);
      expect(run?.output).toBeUndefined();
    }
  });
});

describe("held calls and streams", () => {
  it("refuses a caller's WaitForRunStatus past AIKI_MAX_WAITS_PER_CALLER, and takes more once one ends", async () => {
    const { run } = await runs().startRun({ workflowName: "waits", workflowVersionId: "1" });
    const stop = new AbortController();
    const held = Array.from({ length: limits.maxWaitsPerCaller }, () =>
      runs()
        .waitForRunStatus({ runId: run!.id, status: RunStatus.COMPLETED }, { signal: stop.signal })
        .catch(() => undefined),
    );
    await aiki.listening(`aiki:run:default:${run!.id}`);
    let refused: ConnectError | undefined;
    // The held calls register as they arrive: the first past the limit is refused.
    await expect
      .poll(
        async () => {
          refused = await rpcError(runs().waitForRunStatus({ runId: run!.id, timeout: { seconds: 0n, nanos: 1_000_000 } })).catch(() => undefined);
          return refused?.code;
        },
        { timeout: 5_000 },
      )
      .toBe(Code.ResourceExhausted);
    expectLimit(refused!, Code.ResourceExhausted, "AIKI_MAX_WAITS_PER_CALLER", "held_waits");
    stop.abort();
    await Promise.all(held);
    await expect
      .poll(
        async () =>
          (
            await runs()
              .waitForRunStatus({ runId: run!.id, timeout: { seconds: 0n, nanos: 1_000_000 } })
              .catch(() => undefined)
          )?.run?.id,
        {
          timeout: 5_000,
        },
      )
      .toBe(run!.id);
  });

  it("counts a dashboard's watch streams against the caller's streams too", async () => {
    const stop = new AbortController();
    const open = async (signal: AbortSignal) => {
      const stream = runs().watchRuns({}, { signal })[Symbol.asyncIterator]();
      await stream.next(); // the initial message: the watch is open
      return stream;
    };
    const held = await Promise.all(Array.from({ length: limits.maxStreamsPerCaller }, () => open(stop.signal)));
    expectLimit(await rpcError(open(new AbortController().signal)), Code.ResourceExhausted, "AIKI_MAX_STREAMS_PER_CALLER", "open_streams");
    stop.abort();
    await Promise.allSettled(held.map((s) => s.next()));
    // Closed watches give their places back.
    const again = new AbortController();
    await expect
      .poll(async () =>
        open(again.signal).then(
          () => true,
          () => false,
        ),
      )
      .toBe(true);
    again.abort();
  });

  it("refuses a caller's streams past AIKI_MAX_STREAMS_PER_CALLER, and leases nothing to a stream that does not read", async () => {
    const workflowName = "unread";
    const workflows = [{ workflowName, workflowVersionId: "1" }];
    // A client that never reads: a zero HTTP/2 window, so not a byte of any push can leave the server.
    const session = http2.connect(aiki.url, { settings: { initialWindowSize: 0 } });
    session.on("error", () => {});
    const request = toBinary(StreamLeasesRequestSchema, create(StreamLeasesRequestSchema, { workerId: "deaf", workflows, maxInFlight: 100 }));
    const open = (): http2.ClientHttp2Stream => {
      const stream = session.request({
        ":method": "POST",
        ":path": "/aiki.v1.WorkerLeaseService/StreamLeases",
        "content-type": "application/grpc",
        te: "trailers",
      });
      stream.on("error", () => {});
      stream.end(grpcFrame(Buffer.from(request)));
      return stream;
    };
    const deaf = open();
    // The caller's other streams, reading, for another workflow.
    const stopFillers = new AbortController();
    const fillers = Array.from({ length: limits.maxStreamsPerCaller - 1 }, async (_, i) => {
      const stream = leases().streamLeases(
        { workerId: `filler-${i}`, workflows: [{ workflowName: "filler", workflowVersionId: "1" }], maxInFlight: 1 },
        { signal: stopFillers.signal },
      );
      for await (const _ of stream);
    });
    const workerIds = ["deaf", ...Array.from({ length: limits.maxStreamsPerCaller - 1 }, (_, i) => `filler-${i}`)];
    await expect.poll(async () => (await aiki.deps.db.selectFrom("workers").select("id").where("id", "in", workerIds).execute()).length).toBe(workerIds.length);

    // The caller's next stream is refused, from any client.
    const fourth = leases().streamLeases({ workerId: "w", workflows, maxInFlight: 1 });
    const refused = await rpcError(
      (async () => {
        for await (const _ of fourth) return;
      })(),
    );
    expectLimit(refused, Code.ResourceExhausted, "AIKI_MAX_STREAMS_PER_CALLER", "open_streams");

    stopFillers.abort();
    await Promise.allSettled(fillers);
    // The first run is pushed to the deaf stream (nothing it was sent had yet to leave); after that, nothing more.
    await runs().startRun({ workflowName, workflowVersionId: "1" });
    await expect
      .poll(async () => (await aiki.deps.db.selectFrom("runs").select("status").where("workflow_name", "=", workflowName).execute())[0]?.status)
      .toBe("running");
    await Promise.all(Array.from({ length: 6 }, () => runs().startRun({ workflowName, workflowVersionId: "1" })));
    // A worker that reads gets every other run, at least one recheck (2 s) of the deaf streams later.
    const got: Lease[] = [];
    const until = Date.now() + 4_000;
    while (Date.now() < until) {
      const { leases: more } = await leases().pollLeases({ workerId: "reader", workflows, maxLeases: 10, wait: { seconds: 1n } });
      got.push(...more);
    }
    expect(got).toHaveLength(6);
    const deafRuns = await aiki.deps.db
      .selectFrom("runs")
      .select("id")
      .where("workflow_name", "=", workflowName)
      .where("lease_worker_id", "=", "deaf")
      .execute();
    expect(deafRuns).toHaveLength(1);
    deaf.close(http2.constants.NGHTTP2_CANCEL);
    session.destroy();
  });

  it("stops reading a session's calls while its answers go unread, so its memory stays bounded", async () => {
    const session = http2.connect(aiki.url, { settings: { initialWindowSize: 0 } });
    session.on("error", () => {});
    const stream = session.request({ ":method": "POST", ":path": "/aiki.v1.WorkerLeaseService/Session", "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => {});
    const frame = (msg: Parameters<typeof create<typeof SessionRequestSchema>>[1]) =>
      grpcFrame(Buffer.from(toBinary(SessionRequestSchema, create(SessionRequestSchema, msg))));
    stream.write(
      frame({ kind: { case: "open", value: { workerId: "deaf-session", workflows: [{ workflowName: "none", workflowVersionId: "1" }], credits: 0 } } }),
    );
    const calls = 5000;
    for (let i = 1; i <= calls; i++) {
      stream.write(frame({ kind: { case: "call", value: { callId: i, request: { case: "heartbeat", value: { workerId: "deaf-session", leases: [] } } } } }));
    }
    const answered = async () => {
      const text = (await (await fetch(new URL("/metrics", aiki.url))).text()).split("\n");
      const line = text.find((l) => l.startsWith("aiki_rpc_requests_total") && l.includes('method="Session.heartbeat"'));
      return line ? Number(line.split(" ").pop()) : 0;
    };
    await expect.poll(answered, { timeout: 10_000 }).toBeGreaterThanOrEqual(limits.maxSessionUnread);
    // It answered what its bounds allow (AIKI_MAX_SESSION_UNREAD answers held, 4 KiB of answers
    // of about 13 bytes buffered unsent), and stops there however long the worker does not read.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await answered()).toBeLessThan(limits.maxSessionUnread + 4096 / 13 + 50);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    session.destroy();
  });
});

describe("500 never-read lease streams, default limits", () => {
  it("holds AIKI_MAX_STREAMS_PER_CALLER (100) of them, refuses the rest, and still serves", async () => {
    const own = await h.startServer({ redis: false, timers: false });
    const rss = process.memoryUsage().rss;
    const session = http2.connect(own.url);
    session.on("error", () => {});
    try {
      const request = grpcFrame(
        Buffer.from(
          toBinary(
            StreamLeasesRequestSchema,
            create(StreamLeasesRequestSchema, { workerId: "deaf-500", workflows: [{ workflowName: "deaf-500", workflowVersionId: "1" }], maxInFlight: 10 }),
          ),
        ),
      );
      const statuses: Array<string | undefined> = [];
      for (let i = 0; i < 500; i++) {
        const stream = session.request({
          ":method": "POST",
          ":path": "/aiki.v1.WorkerLeaseService/StreamLeases",
          "content-type": "application/grpc",
          te: "trailers",
        });
        stream.on("error", () => {});
        // Never read: what the server pushes stays in the HTTP/2 buffers.
        stream.pause();
        stream.on("trailers", (t) => statuses.push(t["grpc-status"] as string | undefined));
        stream.on("response", (h) => h["grpc-status"] !== undefined && statuses.push(h["grpc-status"] as string));
        stream.end(request);
      }
      await expect.poll(() => statuses.length, { timeout: 20_000 }).toBe(400);
      expect(new Set(statuses)).toEqual(new Set([String(Code.ResourceExhausted)]));
      const runs = own.client(RunService);
      const { run } = await runs.startRun({ workflowName: "after-500", workflowVersionId: "1" });
      expect((await runs.getRun({ runId: run!.id })).run?.status).toBe(RunStatus.QUEUED);
      expect(process.memoryUsage().rss - rss).toBeLessThan(rssGrowthBoundForBodies);
    } finally {
      session.destroy();
      await closeChecked(own);
    }
  });
});

describe("session credits and the server's stream total", () => {
  it("refuses a session opened with more than AIKI_MAX_SESSION_CREDITS credits", async () => {
    async function* requests() {
      yield { kind: { case: "open" as const, value: { workerId: "greedy", workflows: [{ workflowName: "greedy", workflowVersionId: "1" }], credits: 5000 } } };
    }
    const refused = await rpcError(
      (async () => {
        for await (const _ of leases().session(requests()));
      })(),
    );
    expectLimit(refused, Code.InvalidArgument, "AIKI_MAX_SESSION_CREDITS", "open.credits");
  });

  it("refuses streams past AIKI_MAX_STREAMS whoever the caller", () => {
    const quotas = new CallerQuotas({ ...defaultLimits, maxStreams: 3, maxStreamsPerCaller: 2 });
    const held = [quotas.hold("streams", "a"), quotas.hold("streams", "a"), quotas.hold("streams", "b")];
    let refused: unknown;
    try {
      quotas.hold("streams", "c");
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(LimitExceededError);
    expect((refused as LimitExceededError).breach).toMatchObject({ limit: "AIKI_MAX_STREAMS", max: 3, subject: "open_streams" });
    held[0]!();
    held[0]!(); // a release counts once
    quotas.hold("streams", "c");
    expect(() => quotas.hold("streams", "b")).toThrow(LimitExceededError);
  });
});

describe("idle connections", () => {
  it("closes an HTTP/2 connection with no call open, and keeps one whose call is quiet", async () => {
    const port = createCleartextServer(
      (req, res) => {
        // Headers now, and then nothing: a call open and quiet, like a worker stream with no work.
        if (req.url === "/quiet") return void res.writeHead(200);
        res.end("ok");
      },
      { ...defaultConnectionLimits, idleTimeoutMs: 300 },
    );
    await new Promise<void>((resolve) => port.server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(port.server.address() as net.AddressInfo).port}`;
    try {
      const idle = http2.connect(url);
      const quiet = http2.connect(url);
      for (const s of [idle, quiet]) s.on("error", () => {});
      const call = quiet.request({ ":path": "/quiet" });
      call.on("error", () => {});
      await new Promise((resolve) => call.once("response", resolve));
      const idleClosedAt = await new Promise<number>((resolve) => idle.once("goaway", () => resolve(Date.now())));
      // Three idle timeouts later the connection with a call open is still there.
      await new Promise((resolve) => setTimeout(resolve, 900));
      expect(idleClosedAt).toBeGreaterThan(0);
      expect(quiet.closed || quiet.destroyed).toBe(false);
      call.close();
      await new Promise((resolve) => quiet.once("goaway", resolve));
      idle.destroy();
      quiet.destroy();
    } finally {
      await port.close(100);
    }
  });
});

describe("metrics", () => {
  it("labels at most AIKI_MAX_METRIC_WORKFLOWS workflow names, the rest as other", async () => {
    const metrics = new AikiMetrics({ processMetrics: false, maxWorkflowLabels: 2 });
    const now = new Date();
    metrics.runsLeased(["a", "b", "c", "d", "a"].map((workflow_name) => ({ workflow_name, update_time: now, queued_time: now })));
    const { body } = await metrics.scrape();
    const labels = new Set([...body.matchAll(/aiki_run_pickup_latency_seconds_count\{workflow="([^"]+)"\}/g)].map((m) => m[1]));
    expect(labels).toEqual(new Set(["a", "b", "other"]));
  });
});

describe("afterwards", () => {
  it("still starts and gets a run, with the test process's RSS within the stated bound", async () => {
    const { run } = await runs().startRun({ workflowName: "after", workflowVersionId: "1", input: str("fine") });
    const { run: got } = await runs().getRun({ runId: run!.id });
    expect(got?.input).toEqual(str("fine"));
    const grown = process.memoryUsage().rss - rssBefore;
    expect(grown, `RSS grew by ${Math.round(grown / 1024 / 1024)} MiB`).toBeLessThan(rssGrowthBound);
  });
});
