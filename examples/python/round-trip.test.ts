// A Python program (Debian's /usr/bin/python3 with python3-grpcio and python3-protobuf, on the
// stubs in gen/python) starts a run, sends it an event, waits for its status and reads its
// output, while a TypeScript @aiki/worker executes the workflow.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Client, client, silentLogger } from "@aiki/sdk";
import { type WorkerHandle, worker } from "@aiki/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TaskStatus } from "@aiki/gen/aiki/v1/history_pb";
import { RunService } from "@aiki/gen/aiki/v1/run_service_pb";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import { EventService } from "@aiki/gen/aiki/v1/event_service_pb";
import { runCommand } from "../../test/support/aiki-cli.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";
import { repoRoot } from "../../test/support/server-process.js";
import { pythonApprovalV1 } from "./approval-workflow.js";

// Debian's interpreter on purpose: another python3 earlier on the PATH may lack grpc and protobuf.
const python = "/usr/bin/python3";
const program = join(repoRoot, "examples/python/round_trip.py");

const h = useTestAiki();

let aiki: TestAiki;
let aikiClient: Client;
let workerHandle: WorkerHandle;

beforeAll(async () => {
  if (!existsSync(python)) throw new Error(`${python} is missing: apt-get install python3-grpcio python3-protobuf (bash .ci/run does)`);
  aiki = h.aiki;
  aikiClient = client({ url: aiki.url, logger: silentLogger });
  workerHandle = await worker({ name: "python-round-trip", workflows: [pythonApprovalV1], opts: { pollWaitMs: 5_000 } }).spawn(aikiClient);
});
afterAll(async () => {
  await workerHandle?.stop();
  await aikiClient?.close();
});

/** round_trip.py against the test server; no bytecode written next to gen/python. */
const roundTrip = (...args: string[]) =>
  runCommand(python, [program, "--target", `127.0.0.1:${aiki.port}`, ...args], { env: { PYTHONDONTWRITEBYTECODE: "1" }, timeoutMs: 60_000 });

describe("Python client round trip", () => {
  it("the generated stubs import with Debian's python3, grpcio and protobuf", async () => {
    const res = await runCommand(
      python,
      [
        "-c",
        "import sys; sys.path.insert(0, 'gen/python'); import grpc, google.protobuf; " +
          "from aiki.v1 import run_service_pb2_grpc, event_service_pb2_grpc, worker_lease_service_pb2_grpc, task_service_pb2_grpc, schedule_service_pb2_grpc, error_details_pb2; " +
          "print(grpc.__version__, google.protobuf.__version__)",
      ],
      { env: { PYTHONDONTWRITEBYTECODE: "1" } },
    );
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
  });

  it("starts a run, sends it an event, waits for completion and reads the output the TypeScript worker produced", async () => {
    const res = await roundTrip("--order-id", "order-py-1", "--amount", "42", "--approver", "ada");
    expect(res.code, res.stderr).toBe(0);
    const result = JSON.parse(res.stdout) as { runId: string; status: string; output: unknown };
    expect(result).toEqual({
      runId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: "completed",
      output: { orderId: "order-py-1", chargeId: "ch-order-py-1", amount: 42, approvedBy: "ada" },
    });
    expect(res.stderr).toMatch(/^started run \S+ \((queued|running)\)\nsent event approval \(\S+\)\n$/);

    // What the server recorded: the run (with its reference id), the task, the consumed event.
    const { run } = await aiki.client(RunService).getRun({ runId: result.runId });
    expect(run).toMatchObject({ workflowName: "python-approval", workflowVersionId: "1.0.0", referenceId: "order-py-1" });
    const { tasks } = await aiki.client(TaskService).listTasks({ runId: result.runId });
    expect(tasks.map((t) => [t.name, t.status, t.attempts])).toEqual([["charge-card", TaskStatus.COMPLETED, 1]]);
    const { events } = await aiki.client(EventService).listEvents({ runId: result.runId });
    expect(events.map((e) => [e.name, e.consumed, e.referenceId])).toEqual([["approval", true, "order-py-1-approval"]]);
  });

  it("reports a failed call with its gRPC code and exits 2", async () => {
    // The reference id order-py-1 already holds a run with other input: ALREADY_EXISTS.
    const res = await roundTrip("--order-id", "order-py-1", "--amount", "7");
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^round_trip: ALREADY_EXISTS: /);
    expect(res.stdout).toBe("");
  });
});
