import { execFile } from "node:child_process";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, createFileRegistry, fromBinary, type DescMessage } from "@bufbuild/protobuf";
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import { Code, createClient, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Health } from "@aiki/gen/grpc/health/v1/health_pb";
import * as reflectionV1 from "@aiki/gen/grpc/reflection/v1/reflection_pb";
import * as reflectionV1alpha from "@aiki/gen/grpc/reflection/v1alpha/reflection_pb";
import { HealthStatus, registerHealth, ServingStatus } from "../src/api/health-service.js";
import { registerReflection } from "../src/api/reflection-service.js";

const execFileAsync = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const bufBin = `${repoRoot}node_modules/.bin/buf`;

/**
 * A service built at runtime whose messages use google/protobuf WKTs, so the
 * tests prove reflection ships transitive dependencies that no proto in this
 * repo's gen/ output covers on its own.
 */
const demoFile = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "aiki/test/v1/demo.proto",
    package: "aiki.test.v1",
    syntax: "proto3",
    dependency: ["google/protobuf/timestamp.proto", "google/protobuf/struct.proto"],
    messageType: [
      {
        name: "EchoMessage",
        field: [
          {
            name: "at",
            jsonName: "at",
            number: 1,
            label: FieldDescriptorProto_Label.OPTIONAL,
            type: FieldDescriptorProto_Type.MESSAGE,
            typeName: ".google.protobuf.Timestamp",
          },
          {
            name: "data",
            jsonName: "data",
            number: 2,
            label: FieldDescriptorProto_Label.OPTIONAL,
            type: FieldDescriptorProto_Type.MESSAGE,
            typeName: ".google.protobuf.Struct",
          },
        ],
        nestedType: [{ name: "Inner" }],
        enumType: [{ name: "Kind", value: [{ name: "KIND_UNSPECIFIED", number: 0 }] }],
      },
    ],
    service: [
      {
        name: "DemoService",
        method: [
          {
            name: "Echo",
            inputType: ".aiki.test.v1.EchoMessage",
            outputType: ".aiki.test.v1.EchoMessage",
          },
        ],
      },
    ],
  }),
  (name) =>
    ({
      "google/protobuf/timestamp.proto": file_google_protobuf_timestamp,
      "google/protobuf/struct.proto": file_google_protobuf_struct,
    })[name],
).getFile("aiki/test/v1/demo.proto");
// Typed by hand because the descriptor is built at runtime instead of generated.
const DemoService = demoFile?.services[0] as unknown as GenService<{
  echo: { methodKind: "unary"; input: DescMessage; output: DescMessage };
}>;

describe("gRPC reflection and health over HTTP/2", () => {
  const health = new HealthStatus();
  const calledServices: string[] = [];
  const sessions = new Set<http2.ServerHttp2Session>();
  let server: http2.Http2Server;
  let baseUrl: string;
  let sessionManager: Http2SessionManager;

  beforeAll(async () => {
    const record: Interceptor = (next) => async (req) => {
      calledServices.push(req.method.parent.typeName);
      return next(req);
    };
    const routes = (router: ConnectRouter): void => {
      registerHealth(router, health);
      router.service(DemoService, { echo: (req) => req });
      registerReflection(router, [Health, DemoService]);
    };
    server = http2.createServer(connectNodeAdapter({ routes, interceptors: [record] }));
    server.on("session", (session) => {
      sessions.add(session);
      session.once("close", () => sessions.delete(session));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    sessionManager = new Http2SessionManager(baseUrl);
  });

  afterAll(async () => {
    sessionManager.abort();
    for (const session of sessions) {
      session.destroy();
    }
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  });

  // The gRPC transport always speaks HTTP/2; the shared session manager lets afterAll close it.
  const transport = () => createGrpcTransport({ baseUrl, sessionManager });

  async function bufCurl(...args: string[]): Promise<string> {
    const { stdout } = await execFileAsync(bufBin, ["curl", "--http2-prior-knowledge", "--protocol", "grpc", ...args], { timeout: 20_000 });
    return stdout;
  }

  it("lets buf curl list every method through reflection", async () => {
    const out = await bufCurl("--list-methods", baseUrl);
    const methods = out.trim().split("\n").sort();
    expect(methods).toEqual([
      "aiki.test.v1.DemoService/Echo",
      "grpc.health.v1.Health/Check",
      "grpc.health.v1.Health/List",
      "grpc.health.v1.Health/Watch",
      "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ]);
  }, 30_000);

  it("lets buf curl call Health/Check using v1 reflection", async () => {
    calledServices.length = 0;
    const out = await bufCurl("-d", "{}", `${baseUrl}/grpc.health.v1.Health/Check`);
    expect(JSON.parse(out)).toEqual({ status: "SERVING" });
    expect(calledServices).toContain("grpc.reflection.v1.ServerReflection");
  }, 30_000);

  it("lets buf curl call Health/Check using v1alpha reflection", async () => {
    calledServices.length = 0;
    const out = await bufCurl("--reflect-protocol", "grpc-v1alpha", "-d", "{}", `${baseUrl}/grpc.health.v1.Health/Check`);
    expect(JSON.parse(out)).toEqual({ status: "SERVING" });
    expect(calledServices).toContain("grpc.reflection.v1alpha.ServerReflection");
    expect(calledServices).not.toContain("grpc.reflection.v1.ServerReflection");
  }, 30_000);

  it("resolves well-known-type dependencies for buf curl in one reflection pass", async () => {
    const body = { at: "2024-05-06T07:08:09Z", data: { answer: 42, nested: { ok: true } } };
    const out = await bufCurl("-d", JSON.stringify(body), `${baseUrl}/aiki.test.v1.DemoService/Echo`);
    expect(JSON.parse(out)).toEqual(body);
  }, 30_000);

  it("answers a @grpc/grpc-js health client over the real socket", async () => {
    const definition = protoLoader.loadSync("grpc/health/v1/health.proto", {
      includeDirs: [`${repoRoot}proto`],
      enums: String,
      defaults: true,
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    };
    const client = new loaded.grpc.health.v1.Health(baseUrl.replace("http://", ""), grpc.credentials.createInsecure());
    type Check = (req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void) => void;
    const check = promisify((client.Check as Check).bind(client));
    try {
      await expect(check({ service: "" })).resolves.toEqual({ status: "SERVING" });
      await expect(check({ service: "no.such.Service" })).rejects.toMatchObject({
        code: grpc.status.NOT_FOUND,
      });
    } finally {
      client.close();
    }
  });

  it("keeps the reflection stream alive across unknown symbols and serves every lookup kind", async () => {
    const { ServerReflectionRequestSchema } = reflectionV1;
    const requests = [
      { messageRequest: { case: "fileContainingSymbol", value: "no.such.Symbol" } },
      { messageRequest: { case: "listServices", value: "" } },
      { messageRequest: { case: "fileContainingSymbol", value: "aiki.test.v1.EchoMessage.at" } },
      { messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.Health.Check" } },
      {
        messageRequest: {
          case: "fileContainingSymbol",
          value: "grpc.health.v1.HealthCheckResponse.ServingStatus",
        },
      },
      { messageRequest: { case: "fileContainingSymbol", value: "aiki.test.v1.EchoMessage.Inner" } },
      { messageRequest: { case: "fileByFilename", value: "google/protobuf/struct.proto" } },
      { messageRequest: { case: "fileByFilename", value: "missing.proto" } },
      {
        messageRequest: {
          case: "fileContainingExtension",
          value: { containingType: "aiki.test.v1.EchoMessage", extensionNumber: 100 },
        },
      },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "aiki.test.v1.EchoMessage" } },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "no.such.Message" } },
    ] as const;
    async function* send() {
      for (const r of requests) {
        yield create(ServerReflectionRequestSchema, r);
      }
    }
    const client = createClient(reflectionV1.ServerReflection, transport());
    const responses: reflectionV1.ServerReflectionResponse[] = [];
    for await (const res of client.serverReflectionInfo(send())) {
      responses.push(res);
    }
    const fileNames = (i: number): string[] => {
      const r = responses[i]?.messageResponse;
      if (r?.case !== "fileDescriptorResponse") {
        throw new Error(`response ${i} is ${r?.case}`);
      }
      return r.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name);
    };
    const error = (i: number) => {
      const r = responses[i]?.messageResponse;
      return r?.case === "errorResponse" ? r.value.errorCode : undefined;
    };

    expect(responses).toHaveLength(requests.length);
    expect(error(0)).toBe(Code.NotFound);
    expect(responses[0]?.originalRequest?.messageRequest).toEqual(requests[0].messageRequest);
    const list = responses[1]?.messageResponse;
    expect(list?.case === "listServicesResponse" && list.value.service.map((s) => s.name)).toEqual([
      "grpc.health.v1.Health",
      "aiki.test.v1.DemoService",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]);
    expect(fileNames(2)).toEqual(["aiki/test/v1/demo.proto", "google/protobuf/timestamp.proto", "google/protobuf/struct.proto"]);
    expect(fileNames(3)).toEqual(["grpc/health/v1/health.proto"]);
    expect(fileNames(4)).toEqual(["grpc/health/v1/health.proto"]);
    expect(fileNames(5)[0]).toBe("aiki/test/v1/demo.proto");
    expect(fileNames(6)).toEqual(["google/protobuf/struct.proto"]);
    expect(error(7)).toBe(Code.NotFound);
    expect(error(8)).toBe(Code.NotFound);
    const numbers = responses[9]?.messageResponse;
    expect(numbers?.case).toBe("allExtensionNumbersResponse");
    expect(numbers?.value).toMatchObject({ baseTypeName: "aiki.test.v1.EchoMessage", extensionNumber: [] });
    expect(error(10)).toBe(Code.NotFound);
  });

  it("maps v1alpha reflection onto the same implementation", async () => {
    async function* send() {
      yield create(reflectionV1alpha.ServerReflectionRequestSchema, {
        host: "example",
        messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.HealthCheckRequest" },
      });
      yield create(reflectionV1alpha.ServerReflectionRequestSchema, {
        messageRequest: { case: "fileContainingSymbol", value: "nope" },
      });
    }
    const client = createClient(reflectionV1alpha.ServerReflection, transport());
    const responses: reflectionV1alpha.ServerReflectionResponse[] = [];
    for await (const res of client.serverReflectionInfo(send())) {
      responses.push(res);
    }
    expect(responses[0]?.validHost).toBe("example");
    expect(responses[0]?.messageResponse.case).toBe("fileDescriptorResponse");
    expect(responses[1]?.messageResponse).toMatchObject({
      case: "errorResponse",
      value: { errorCode: Code.NotFound },
    });
  });

  it("streams Watch updates and releases the subscription when the client leaves", async () => {
    const client = createClient(Health, transport());
    const abort = new AbortController();
    const seen: ServingStatus[] = [];
    const service = "aiki.test.v1.DemoService";
    try {
      for await (const res of client.watch({ service }, { signal: abort.signal })) {
        seen.push(res.status);
        if (seen.length === 1) {
          health.set(service, ServingStatus.SERVING);
        } else if (seen.length === 2) {
          health.set(service, ServingStatus.SERVING); // no change, so no message
          health.set(service, ServingStatus.NOT_SERVING);
        } else {
          abort.abort();
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) {
        throw err;
      }
    }
    expect(seen).toEqual([ServingStatus.SERVICE_UNKNOWN, ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
    await expect.poll(() => health.subscriberCount).toBe(0);
  });
});

describe("HealthStatus", () => {
  it("freezes everything as NOT_SERVING on shutdown until resume", () => {
    const status = new HealthStatus();
    status.set("a", ServingStatus.SERVING);
    const seen: ServingStatus[] = [];
    const unsubscribe = status.subscribe("a", (s) => seen.push(s));

    status.shutdown();
    status.set("a", ServingStatus.SERVING);
    expect(status.entries()).toEqual([
      ["", ServingStatus.NOT_SERVING],
      ["a", ServingStatus.NOT_SERVING],
    ]);

    status.resume();
    status.clear("a");
    expect(status.get("")).toBe(ServingStatus.SERVING);
    expect(status.get("a")).toBeUndefined();
    expect(seen).toEqual([ServingStatus.NOT_SERVING, ServingStatus.SERVING, ServingStatus.SERVICE_UNKNOWN]);

    unsubscribe();
    expect(status.subscriberCount).toBe(0);
  });

  it("rejects SERVICE_UNKNOWN as a stored status", () => {
    const status = new HealthStatus();
    expect(() => status.set("x", ServingStatus.SERVICE_UNKNOWN as ServingStatus.SERVING)).toThrow(RangeError);
  });
});
