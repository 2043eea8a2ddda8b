// AIKI_AUTH=on against a real server, Postgres and Redis: the scope × RPC table for every method
// of every aiki.v1 service (allowed or PERMISSION_DENIED naming the scope), UNAUTHENTICATED for
// every method without a usable key, health and reflection without one, revocation across
// replicas closing open streams, and no plaintext key in the database.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { create, type DescMethod, type DescService, toJsonString } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { sql } from "kysely";
import { beforeAll, describe, expect, it } from "vitest";
import { AdminService, ApiKeyScope as PbScope, ListApiKeysResponseSchema } from "@aiki/gen/aiki/v1/admin_service_pb";
import { BadRequestDetailSchema, PermissionDeniedDetailSchema } from "@aiki/gen/aiki/v1/error_details_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { RunService, WaitForRunStatusResponse_Outcome } from "@aiki/gen/aiki/v1/run_service_pb";
import { client, PermissionDeniedError, silentLogger } from "@aiki/sdk";
import { clientInternals } from "@aiki/sdk/internal";
import { type SessionResponse, WorkerLeaseService } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import { Health } from "@aiki/gen/grpc/health/v1/health_pb";
import * as reflectionV1 from "@aiki/gen/grpc/reflection/v1/reflection_pb";
import { aikiServices } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { methodScopes } from "../src/api/method-scopes.js";
import { type ApiKeyScope, apiKeyScopes, scopeAllows } from "../src/domain/api-key-format.js";
import { createApiKey, generateApiKey } from "../src/engine/api-keys.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { closeChecked } from "../../test/support/leak-checks.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { createTestDatabase } from "../../test/support/database.js";
import { startServerProcess } from "../../test/support/server-process.js";
import { rpcError } from "../../test/support/rpc-error.js";

const execFileAsync = promisify(execFile);

const h = useTestAiki({ auth: {} });
let aiki: TestAiki;
const keys = {} as Record<ApiKeyScope, string>;
let admin: Client<typeof AdminService>;

beforeAll(async () => {
  aiki = h.aiki;
  for (const scope of apiKeyScopes) {
    keys[scope] = (await createApiKey(aiki.deps, { namespace: "default", scopes: [scope], description: `${scope} key` })).secret;
  }
  admin = aiki.client(AdminService, keys.admin);
});

const every = (services: readonly DescService[]) => services.flatMap((s) => s.methods.map((m) => ({ service: s, method: m })));

/**
 * Calls a method with an empty request and says how the call ended: the gRPC code (OK when it
 * answered). An allowed call reaches its handler, which refuses the empty request, answers it,
 * or is still waiting when the deadline cancels it; only the interceptor says UNAUTHENTICATED or
 * PERMISSION_DENIED.
 */
async function callEmpty(method: DescMethod, apiKey: string | undefined, header?: string): Promise<ConnectError | undefined> {
  // Its own connection, closed after the call: one per call would otherwise stay open (idle) for 15 minutes.
  const sessionManager = new Http2SessionManager(aiki.url);
  const transport = createGrpcTransport({
    baseUrl: aiki.url,
    sessionManager,
    interceptors: [
      (next) => (req) => {
        if (header !== undefined) req.header.set("authorization", header);
        else if (apiKey !== undefined) req.header.set("authorization", `Bearer ${apiKey}`);
        return next(req);
      },
    ],
  });
  const client = createClient(method.parent, transport) as unknown as Record<string, (req: unknown, opts: unknown) => unknown>;
  const input = create(method.input);
  const opts = { timeoutMs: 2_000 };
  try {
    switch (method.methodKind) {
      case "unary":
        await client[method.localName]!(input, opts);
        return undefined;
      case "server_streaming":
        for await (const _ of client[method.localName]!(input, opts) as AsyncIterable<unknown>) break;
        return undefined;
      case "bidi_streaming":
      case "client_streaming":
        for await (const _ of client[method.localName]!((async function* () {})(), opts) as AsyncIterable<unknown>) break;
        return undefined;
    }
  } catch (error) {
    return ConnectError.from(error);
  } finally {
    sessionManager.abort();
  }
}

describe("the scope table", () => {
  it("names every method of every aiki.v1 service, and nothing else", () => {
    const served = every(aikiServices).map(({ service, method }) => `${service.typeName}/${method.name}`);
    expect(served.filter((m) => !(m in methodScopes))).toEqual([]);
    expect(Object.keys(methodScopes).filter((m) => !served.includes(m))).toEqual([]);
  });

  // Temporal's authorizer tests are the model: for each method and each scope, allowed or not.
  for (const { service, method } of every(aikiServices)) {
    const name = `${service.typeName}/${method.name}`;
    it(`${name}: allowed for exactly the keys holding "${methodScopes[name]}" (or admin)`, async () => {
      const needed = methodScopes[name]!;
      for (const scope of apiKeyScopes) {
        const error = await callEmpty(method, keys[scope]);
        if (scopeAllows([scope], needed)) {
          expect(error?.code, `${scope} key on ${name}: ${error?.rawMessage}`).not.toBe(Code.PermissionDenied);
          expect(error?.code, `${scope} key on ${name}: ${error?.rawMessage}`).not.toBe(Code.Unauthenticated);
        } else {
          expect(error?.code, `${scope} key on ${name}`).toBe(Code.PermissionDenied);
          const [detail] = error!.findDetails(PermissionDeniedDetailSchema);
          expect(detail).toMatchObject({ requiredScope: needed, method: name });
        }
      }
    });
  }
});

describe("UNAUTHENTICATED", () => {
  let revoked: string;
  let expired: string;
  beforeAll(async () => {
    const r = await admin.createApiKey({ namespace: "default", scopes: [PbScope.ADMIN] });
    await admin.revokeApiKey({ id: r.key!.id });
    revoked = r.secret;
    const e = await createApiKey(aiki.deps, { namespace: "default", scopes: ["admin"], description: "", ttlMs: 60_000 });
    await sql`update api_keys set expire_time = now() - interval '1 second' where id = ${e.row.id}`.execute(aiki.deps.db);
    expired = e.secret;
  });

  const wrongSecret = () => `${keys.admin.slice(0, "aiki_12345678_".length)}${"A".repeat(43)}`;
  const cases: Array<[string, () => { key?: string; header?: string }, string]> = [
    ["no key", () => ({}), "no API key"],
    ["an empty header", () => ({ header: "" }), "no API key"],
    ["another scheme", () => ({ header: `Basic ${keys.admin}` }), "malformed"],
    ["a malformed key", () => ({ key: "not-a-key" }), "malformed"],
    ["an unknown key", () => ({ key: generateApiKey().key }), "unknown"],
    ["a known prefix with a wrong secret", () => ({ key: wrongSecret() }), "unknown"],
    ["a revoked key", () => ({ key: revoked }), "revoked"],
    ["an expired key", () => ({ key: expired }), "expired"],
  ];
  for (const [label, given, says] of cases) {
    it(`${label}: every method refuses, saying "${says}" and never echoing the key`, async () => {
      const { key, header } = given();
      for (const { service, method } of every(aikiServices)) {
        const error = await callEmpty(method, key, header);
        expect(error?.code, `${service.typeName}/${method.name}`).toBe(Code.Unauthenticated);
        expect(error!.rawMessage).toContain(says);
        if (key) expect(error!.rawMessage).not.toContain(key.startsWith("aiki_") ? key.slice(14) : key);
      }
    });
  }

  it("counts refusals by reason in aiki_auth_failures_total", async () => {
    const text = await (await fetch(`${aiki.url}/metrics`)).text();
    for (const reason of ["missing", "malformed", "unknown", "revoked", "expired", "permission_denied"]) {
      const line = text.split("\n").find((l) => l.startsWith(`aiki_auth_failures_total{reason="${reason}"}`));
      expect(Number(line?.split(" ")[1]), reason).toBeGreaterThan(0);
    }
    // Refused calls are RPCs too: counted with their code like any other.
    for (const code of ["Unauthenticated", "PermissionDenied"]) {
      expect(text, code).toMatch(new RegExp(`aiki_rpc_requests_total\\{[^}]*code="${code}"[^}]*\\} [1-9]`));
    }
  });
});

describe("open services", () => {
  it("health and reflection answer without a key", async () => {
    const health = aiki.client(Health);
    expect((await health.check({})).status).toBe(1);
    const reflection = aiki.client(reflectionV1.ServerReflection);
    const names: string[] = [];
    for await (const res of reflection.serverReflectionInfo(
      (async function* () {
        yield create(reflectionV1.ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } });
      })(),
    )) {
      if (res.messageResponse.case === "listServicesResponse") names.push(...res.messageResponse.value.service.map((s) => s.name));
    }
    expect(names).toContain("aiki.v1.AdminService");
    expect(names).toContain("aiki.v1.RunService");
  });
});

describe("AdminService", () => {
  it("WhoAmI says the key's namespace, scopes and id", async () => {
    const me = await aiki.client(AdminService, keys.read).whoAmI({});
    expect(me.namespace).toBe("default");
    expect(me.scopes).toEqual([PbScope.READ]);
    expect(me.keyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(me.authEnabled).toBe(true);
  });

  it("creates, lists and deletes namespaces; upper case is refused; a non-empty one stays", async () => {
    const created = await admin.createNamespace({ name: "ops-1" });
    expect(created.namespace?.name).toBe("ops-1");
    expect((await rpcError(admin.createNamespace({ name: "ops-1" }))).code).toBe(Code.AlreadyExists);
    const upper = await rpcError(admin.createNamespace({ name: "Ops-1" }));
    expect(upper.code).toBe(Code.InvalidArgument);
    expect(upper.findDetails(BadRequestDetailSchema)[0]?.fieldViolations[0]?.field).toBe("name");
    expect((await admin.listNamespaces({})).namespaces.map((n) => n.name)).toEqual(expect.arrayContaining(["default", "ops-1"]));

    const key = await admin.createApiKey({ namespace: "ops-1", scopes: [PbScope.CLIENT] });
    const held = await rpcError(admin.deleteNamespace({ name: "ops-1" }));
    expect(held.code).toBe(Code.FailedPrecondition);
    expect(held.rawMessage).toContain("API keys");
    await aiki.client(RunService, key.secret).startRun({ workflowName: "w", workflowVersionId: "1" });
    await admin.revokeApiKey({ id: key.key!.id });
    const runsLeft = await rpcError(admin.deleteNamespace({ name: "ops-1" }));
    expect(runsLeft.code).toBe(Code.FailedPrecondition);
    expect(runsLeft.rawMessage).toContain("runs");
    expect(runsLeft.rawMessage).not.toContain("API keys");

    await admin.createNamespace({ name: "ops-2" });
    await admin.deleteNamespace({ name: "ops-2" });
    expect((await admin.listNamespaces({})).namespaces.map((n) => n.name)).not.toContain("ops-2");
    expect((await rpcError(admin.deleteNamespace({ name: "ops-2" }))).code).toBe(Code.NotFound);
    expect((await rpcError(admin.deleteNamespace({ name: "default" }))).code).toBe(Code.InvalidArgument);
  });

  it("creates keys only for existing namespaces with valid scopes, lists them without secrets, revokes", async () => {
    expect((await rpcError(admin.createApiKey({ namespace: "nowhere", scopes: [PbScope.READ] }))).code).toBe(Code.NotFound);
    const bad = await rpcError(admin.createApiKey({ namespace: "default", scopes: [PbScope.UNSPECIFIED] }));
    expect(bad.findDetails(BadRequestDetailSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual(["scopes[0]"]);
    expect((await rpcError(admin.createApiKey({ namespace: "default", scopes: [] }))).code).toBe(Code.InvalidArgument);

    const made = await admin.createApiKey({ namespace: "default", scopes: [PbScope.WORKER, PbScope.READ], description: "ci" });
    expect(made.secret.startsWith(`${made.key!.prefix}_`)).toBe(true);
    const listed = await admin.listApiKeys({ namespace: "default" });
    const mine = listed.keys.find((k) => k.id === made.key!.id);
    expect(mine).toMatchObject({ prefix: made.key!.prefix, description: "ci", scopes: [PbScope.WORKER, PbScope.READ] });
    expect(toJsonString(ListApiKeysResponseSchema, listed)).not.toContain(made.secret.slice(14));

    const revoked = await admin.revokeApiKey({ id: made.key!.id });
    expect(revoked.key?.revokeTime).toBeDefined();
    expect((await admin.listApiKeys({ namespace: "default" })).keys.map((k) => k.id)).not.toContain(made.key!.id);
    expect((await admin.listApiKeys({ namespace: "default", includeInactive: true })).keys.map((k) => k.id)).toContain(made.key!.id);
    expect((await rpcError(admin.revokeApiKey({ id: "00000000-0000-7000-8000-000000000000" }))).code).toBe(Code.NotFound);
  });

  it("records a key's last use", async () => {
    const made = await admin.createApiKey({ namespace: "default", scopes: [PbScope.READ] });
    expect(made.key?.lastUsedTime).toBeUndefined();
    await aiki.client(AdminService, made.secret).whoAmI({});
    const { rows } = await sql<{ last_used_time: Date | null }>`select last_used_time from api_keys where id = ${made.key!.id}`.execute(aiki.deps.db);
    // Written after the call, off its path: wait for it rather than sleep.
    const deadline = Date.now() + 5_000;
    let used = rows[0]?.last_used_time ?? null;
    while (!used && Date.now() < deadline) {
      await new Promise((r) => setImmediate(r));
      const again = await sql<{ last_used_time: Date | null }>`select last_used_time from api_keys where id = ${made.key!.id}`.execute(aiki.deps.db);
      used = again.rows[0]?.last_used_time ?? null;
    }
    expect(used).toBeInstanceOf(Date);
  });
});

describe("scopes in practice", () => {
  it("a worker key cannot start runs; a client key cannot lease", async () => {
    const started = await rpcError(aiki.client(RunService, keys.worker).startRun({ workflowName: "w", workflowVersionId: "1" }));
    expect(started.code).toBe(Code.PermissionDenied);
    expect(started.findDetails(PermissionDeniedDetailSchema)[0]?.requiredScope).toBe("client");
    const leased = await rpcError(
      aiki.client(WorkerLeaseService, keys.client).pollLeases({ workerId: "w1", workflows: [{ workflowName: "w", workflowVersionId: "1" }] }),
    );
    expect(leased.code).toBe(Code.PermissionDenied);
    expect(leased.findDetails(PermissionDeniedDetailSchema)[0]?.requiredScope).toBe("worker");
  });

  it("each call on a ClientSession needs its unary RPC's scope; a refused one leaves the stream open", async () => {
    const sdk = (key: string) => {
      const c = client({ url: aiki.url, apiKey: key, logger: silentLogger });
      h.defer(() => c.close());
      return clientInternals(c);
    };
    const writer = sdk(keys.client);
    const reader = sdk(keys.read);
    const { run } = await writer.runs.startRun({ workflowName: "session-scopes", workflowVersionId: "1" });
    // A client key starts and sends, but may not wait (WaitForRunStatus is "read").
    const clientWait = await writer.runs.waitForRunStatus({ runId: run!.id, status: RunStatus.QUEUED }).catch((e: unknown) => e);
    expect(clientWait).toBeInstanceOf(PermissionDeniedError);
    expect(clientWait).toMatchObject({ requiredScope: "read", method: "aiki.v1.RunService/WaitForRunStatus" });
    await writer.events.sendEvent({ eventName: "go", targets: [{ target: { case: "runId", value: run!.id } }] });
    // A read key waits on the same stream where its start and its event were refused.
    const readStart = await reader.runs.startRun({ workflowName: "session-scopes", workflowVersionId: "1" }).catch((e: unknown) => e);
    expect(readStart).toBeInstanceOf(PermissionDeniedError);
    expect(readStart).toMatchObject({ requiredScope: "client", method: "aiki.v1.RunService/StartRun" });
    const readSend = await reader.events.sendEvent({ eventName: "go", targets: [{ target: { case: "runId", value: run!.id } }] }).catch((e: unknown) => e);
    expect(readSend).toMatchObject({ requiredScope: "client", method: "aiki.v1.EventService/SendEvent" });
    const waited = await reader.runs.waitForRunStatus({ runId: run!.id, status: RunStatus.QUEUED });
    expect(waited.outcome).toBe(WaitForRunStatusResponse_Outcome.REACHED);
    // A worker key may open the stream, and nothing on it.
    const worker = sdk(keys.worker);
    await expect(worker.runs.waitForRunStatus({ runId: run!.id, status: RunStatus.QUEUED })).rejects.toBeInstanceOf(PermissionDeniedError);
    await expect(worker.runs.startRun({ workflowName: "session-scopes", workflowVersionId: "1" })).rejects.toBeInstanceOf(PermissionDeniedError);
  });
});

describe("revocation", () => {
  it("a key revoked on one replica fails within seconds on another, and its open Session there is closed", async () => {
    // A cache far longer than the test: only the revocation hint can make replica B refuse in time.
    const b = await h.startServer({ database: aiki.database, auth: { cacheTtlMs: 600_000 } });
    try {
      const made = await admin.createApiKey({ namespace: "default", scopes: [PbScope.WORKER] });
      const onB = b.client(WorkerLeaseService, made.secret);
      expect((await b.client(AdminService, made.secret).whoAmI({})).keyId).toBe(made.key!.id);

      let wake = () => {};
      const received: SessionResponse[] = [];
      const session = (async () => {
        try {
          for await (const r of onB.session(
            (async function* () {
              yield {
                kind: {
                  case: "open" as const,
                  value: { workerId: "revoked-worker", workflows: [{ workflowName: "never", workflowVersionId: "1" }], credits: 1 },
                },
              };
              await new Promise<void>((r) => {
                wake = r;
              });
            })(),
          )) {
            received.push(r);
          }
          return undefined;
        } catch (error) {
          return ConnectError.from(error);
        }
      })();
      await b.listening("aiki:ready:default:never:1:");
      // A lease stream opened with the key on B too.
      const stream = (async () => {
        try {
          for await (const _ of onB.streamLeases({
            workerId: "revoked-streamer",
            workflows: [{ workflowName: "never2", workflowVersionId: "1" }],
            maxInFlight: 1,
          })) {
          }
          return undefined;
        } catch (error) {
          return ConnectError.from(error);
        }
      })();
      await b.listening("aiki:ready:default:never2:1:");

      const revokedAt = Date.now();
      await admin.revokeApiKey({ id: made.key!.id });
      const ended = await session;
      wake();
      expect(ended?.code).toBe(Code.Unauthenticated);
      expect(ended?.rawMessage).toContain("revoked");
      const streamEnded = await stream;
      expect(streamEnded?.code).toBe(Code.Unauthenticated);
      const refused = await rpcError(b.client(AdminService, made.secret).whoAmI({}));
      expect(refused.code).toBe(Code.Unauthenticated);
      expect(refused.rawMessage).toContain("revoked");
      expect(Date.now() - revokedAt).toBeLessThan(5_000);
    } finally {
      await closeChecked(b);
    }
  });
});

describe("revocation without the hint", () => {
  it("a replica that misses the hint (no shared notifier) refuses the key once its short cache lapses", async () => {
    // In-process notifier: the revocation on the first server never reaches this one.
    const c = await h.startServer({ database: aiki.database, redis: false, auth: { cacheTtlMs: 300 } });
    try {
      const made = await admin.createApiKey({ namespace: "default", scopes: [PbScope.READ] });
      const onC = c.client(AdminService, made.secret);
      await onC.whoAmI({});
      await admin.revokeApiKey({ id: made.key!.id });
      const revokedAt = Date.now();
      let refused: ConnectError | undefined;
      while (!refused) {
        refused = await onC.whoAmI({}).then(
          () => undefined,
          (error: unknown) => ConnectError.from(error),
        );
        if (!refused) await new Promise((r) => setTimeout(r, 25));
      }
      expect(refused.code).toBe(Code.Unauthenticated);
      expect(Date.now() - revokedAt).toBeLessThan(2_000);
    } finally {
      await closeChecked(c);
    }
  });
});

describe("other protocols", () => {
  it("the Connect protocol over HTTP/1.1 (plain fetch) takes the key from the Authorization header", async () => {
    const call = (headers: Record<string, string>) =>
      fetch(`${aiki.url}/aiki.v1.AdminService/WhoAmI`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" });
    const ok = await call({ authorization: `Bearer ${keys.client}` });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ namespace: "default", scopes: ["API_KEY_SCOPE_CLIENT"], authEnabled: true });
    const refused = await call({});
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: "unauthenticated" });
  });
});

describe("expiry", () => {
  it("a stream opened with a key that then expires ends with UNAUTHENTICATED when it expires", async () => {
    const { secret, row } = await createApiKey(aiki.deps, { namespace: "default", scopes: ["worker"], description: "", ttlMs: 1_500 });
    const leases = aiki.client(WorkerLeaseService, secret);
    let error: ConnectError | undefined;
    try {
      for await (const _ of leases.streamLeases({ workerId: "expiring", workflows: [{ workflowName: "never3", workflowVersionId: "1" }], maxInFlight: 1 })) {
      }
    } catch (e) {
      error = ConnectError.from(e);
    }
    expect(error?.code).toBe(Code.Unauthenticated);
    expect(error?.rawMessage).toContain("expired");
    expect(Date.now()).toBeGreaterThanOrEqual(row.expire_time!.getTime());
  });
});

describe("the stored keys", () => {
  it("the database holds no plaintext key (pg_dump, grep)", async () => {
    const made = await admin.createApiKey({ namespace: "default", scopes: [PbScope.READ], description: "dump me" });
    const { stdout } = await execFileAsync("/usr/lib/postgresql/15/bin/pg_dump", ["--data-only", aiki.database.url], { maxBuffer: 256 * 1024 * 1024 });
    expect(stdout).toContain("dump me");
    expect(stdout).toContain(made.key!.prefix);
    expect(stdout).not.toContain(made.secret);
    expect(stdout).not.toContain(made.secret.slice(14));
    for (const key of Object.values(keys)) expect(stdout).not.toContain(key.slice(14));
  });
});

describe("configuration", () => {
  it("AIKI_AUTH is on or off (default off); AIKI_ADMIN_KEY must be a key", () => {
    expect(loadConfig({}).auth).toBe(false);
    expect(loadConfig({ AIKI_AUTH: "on" }).auth).toBe(true);
    expect(() => loadConfig({ AIKI_AUTH: "yes" })).toThrow(/AIKI_AUTH/);
    expect(() => loadConfig({ AIKI_ADMIN_KEY: "hunter2" })).toThrow(/AIKI_ADMIN_KEY/);
    const { key } = generateApiKey();
    expect(loadConfig({ AIKI_ADMIN_KEY: key }).adminKey).toBe(key);
  });

  it("a server started with AIKI_AUTH=on and AIKI_ADMIN_KEY takes that key as an admin key of default, stored hashed", { timeout: 120_000 }, async () => {
    const database = await createTestDatabase();
    const { key } = generateApiKey();
    const server = await startServerProcess({ DATABASE_URL: database.url, AIKI_AUTH: "on", AIKI_ADMIN_KEY: key, AIKI_LOG_LEVEL: "info" }, 90_000);
    try {
      expect(server.output()).toContain('"auth":"on"');
      const transport = createGrpcTransport({
        baseUrl: server.url,
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${key}`);
            return next(req);
          },
        ],
      });
      const me = await createClient(AdminService, transport).whoAmI({});
      expect(me).toMatchObject({ namespace: "default", scopes: [PbScope.ADMIN], authEnabled: true });
      expect((await rpcError(createClient(AdminService, createGrpcTransport({ baseUrl: server.url })).whoAmI({}))).code).toBe(Code.Unauthenticated);
      const { stdout } = await execFileAsync("/usr/lib/postgresql/15/bin/pg_dump", ["--data-only", database.url], { maxBuffer: 256 * 1024 * 1024 });
      expect(stdout).toContain(key.slice(0, 13));
      expect(stdout).not.toContain(key.slice(14));
    } finally {
      await server.stop();
      await database.destroy();
    }
  });
});
