// What another language sees: a plain grpc-js client built from the .proto files at run time,
// no generated TypeScript, over a real socket.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { beforeAll, expect, it } from "vitest";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const protoRoot = fileURLToPath(new URL("../../proto", import.meta.url));

/** A unary method as grpc-js builds it from the .proto: request in, callback with the response. */
type Unary = (request: object, callback: (error: grpc.ServiceError | null, response: unknown) => void) => void;

/** google.protobuf.Value as protobufjs reads it (camelCase, one field set). */
interface WireValue {
  stringValue?: string;
  structValue?: { fields: Record<string, WireValue> };
  listValue?: { values: WireValue[] };
}

/** The part of aiki.v1.Run these tests read, with the .proto's field names (keepCase). */
interface WireRun {
  id: string;
  status: string;
  reference_id: string;
  input: WireValue;
}

const h = useTestAiki();
let client: grpc.Client & Record<string, Unary>;

beforeAll(() => {
  const definition = protoLoader.loadSync("aiki/v1/run_service.proto", {
    includeDirs: [protoRoot],
    keepCase: true,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { aiki: { v1: { RunService: grpc.ServiceClientConstructor } } };
  client = new pkg.aiki.v1.RunService(`127.0.0.1:${h.aiki.port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Unary>;
  h.defer(() => client.close());
});

const fails = (method: string, request: object) =>
  call(method, request).then(
    () => {
      throw new Error(`${method} was expected to fail`);
    },
    (e: grpc.ServiceError) => e,
  );

const call = <T>(method: string, request: object) =>
  new Promise<T>((resolve, reject) => client[method]!(request, (error, response) => (error ? reject(error) : resolve(response as T))));

it("starts a run and reads it back", async () => {
  // protobufjs ships google.protobuf.Value with camelCase field names, whatever keepCase says.
  const input = {
    structValue: {
      fields: {
        orderId: { stringValue: "order-123" },
        items: { listValue: { values: [{ stringValue: "Burger" }, { stringValue: "Fries" }] } },
      },
    },
  };
  const started = await call<{ run: WireRun }>("StartRun", {
    workflow_name: "restaurant-order",
    workflow_version_id: "1.0.0",
    input,
    reference_id: "order-123",
  });
  expect(started.run.status).toBe("RUN_STATUS_QUEUED");
  const got = await call<{ run: WireRun }>("GetRun", { run_id: started.run.id });
  expect(got.run.id).toBe(started.run.id);
  expect(got.run.reference_id).toBe("order-123");
  expect(got.run.input.structValue!.fields.orderId!.stringValue).toBe("order-123");
  expect(got.run.input.structValue!.fields.items!.listValue!.values.map((v) => v.stringValue)).toEqual(["Burger", "Fries"]);
});

it("sees gRPC status codes: NOT_FOUND, INVALID_ARGUMENT, FAILED_PRECONDITION", async () => {
  const notFound = await fails("GetRun", { run_id: "0190a0b0-0000-7000-8000-000000000000" });
  expect(notFound.code).toBe(grpc.status.NOT_FOUND);
  const invalid = await fails("StartRun", { workflow_name: "" });
  expect(invalid.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(invalid.details).toContain("workflow_name");
  const { run } = await call<{ run: WireRun }>("StartRun", { workflow_name: "w", workflow_version_id: "1" });
  const refused = await fails("ResumeRun", { run_id: run.id });
  expect(refused.code).toBe(grpc.status.FAILED_PRECONDITION);
  expect(refused.details).toContain("queued");
});
