import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  BadRequestDetailSchema,
  InvalidTransitionDetailSchema,
  LeaseLostDetailSchema,
  LimitExceededDetailSchema,
  PermissionDeniedDetailSchema,
  RunConflictDetail_Kind,
  RunConflictDetailSchema,
  RunNotFoundDetailSchema,
  ScheduleConflictDetailSchema,
  ScheduleNotFoundDetailSchema,
  ScheduleStateDetailSchema,
} from "@aiki/gen/aiki/v1/error_details_pb";
import { RunStatus } from "@aiki/gen/aiki/v1/run_pb";
import { ScheduleStatus } from "@aiki/gen/aiki/v1/schedule_service_pb";
import {
  AikiRpcError,
  InvalidArgumentError,
  InvalidTransitionError,
  LeaseLostError,
  LimitExceededError,
  PermissionDeniedError,
  RunNotFoundError,
  ScheduleConflictError,
  ScheduleNotFoundError,
  ScheduleStateError,
  WorkflowRunConflictError,
} from "../src/errors.js";
import { isTransientRpcError, rpcCodeOf, translateRpcError } from "../src/rpc-error-translation.js";

// Errors as they arrive from the wire: details as type name + binary, the way the transport decodes them.
function wire(code: Code, message: string, details: { desc: DescMessage; value: MessageInitShape<DescMessage> }[] = []): ConnectError {
  const error = new ConnectError(message, code);
  error.details = details.map((d) => ({ type: d.desc.typeName, value: toBinary(d.desc, create(d.desc, d.value)) }));
  return error;
}

describe("translateRpcError", () => {
  it("turns NOT_FOUND with RunNotFoundDetail into RunNotFoundError, by id or by reference", () => {
    const byId = translateRpcError(wire(Code.NotFound, "run x not found", [{ desc: RunNotFoundDetailSchema, value: { runId: "r-1" } }]));
    expect(byId).toBeInstanceOf(RunNotFoundError);
    expect((byId as RunNotFoundError).runId).toBe("r-1");
    expect((byId as RunNotFoundError).message).toBe("run x not found");
    expect((byId as RunNotFoundError).cause).toBeInstanceOf(ConnectError);

    const byRef = translateRpcError(
      wire(Code.NotFound, "nope", [{ desc: RunNotFoundDetailSchema, value: { reference: { workflowName: "w", workflowVersionId: "1", referenceId: "ref" } } }]),
    ) as RunNotFoundError;
    expect(byRef.runId).toBeUndefined();
    expect(byRef.reference).toEqual({ workflowName: "w", versionId: "1", referenceId: "ref" });
  });

  it("turns FAILED_PRECONDITION with InvalidTransitionDetail into InvalidTransitionError naming the status", () => {
    const error = translateRpcError(
      wire(Code.FailedPrecondition, "cannot resume a running run", [
        { desc: InvalidTransitionDetailSchema, value: { runId: "r", currentStatus: RunStatus.RUNNING, action: "resume", revision: 4 } },
      ]),
    ) as InvalidTransitionError;
    expect(error).toBeInstanceOf(InvalidTransitionError);
    expect(error).toMatchObject({ runId: "r", currentStatus: "running", action: "resume", revision: 4, code: "failed_precondition" });
  });

  it("turns FAILED_PRECONDITION with LeaseLostDetail into LeaseLostError", () => {
    const error = translateRpcError(
      wire(Code.FailedPrecondition, "lease lost", [{ desc: LeaseLostDetailSchema, value: { runId: "r", currentStatus: RunStatus.PAUSED } }]),
    );
    expect(error).toBeInstanceOf(LeaseLostError);
    expect(error).toMatchObject({ runId: "r", currentStatus: "paused" });
  });

  it("turns ALREADY_EXISTS with RunConflictDetail into WorkflowRunConflictError", () => {
    const byRef = translateRpcError(
      wire(Code.AlreadyExists, "conflict", [
        { desc: RunConflictDetailSchema, value: { kind: RunConflictDetail_Kind.REFERENCE_ID, existingRunId: "r-0", referenceId: "order-1" } },
      ]),
    );
    expect(byRef).toBeInstanceOf(WorkflowRunConflictError);
    expect(byRef).toMatchObject({ existingRunId: "r-0", referenceId: "order-1", requestId: undefined });
    const byRequest = translateRpcError(
      wire(Code.AlreadyExists, "conflict", [
        { desc: RunConflictDetailSchema, value: { kind: RunConflictDetail_Kind.REQUEST_ID, existingRunId: "r-0", requestId: "q" } },
      ]),
    );
    expect(byRequest).toMatchObject({ existingRunId: "r-0", referenceId: undefined, requestId: "q" });
  });

  it("turns INVALID_ARGUMENT into InvalidArgumentError listing the fields", () => {
    const error = translateRpcError(
      wire(Code.InvalidArgument, "bad", [
        { desc: BadRequestDetailSchema, value: { fieldViolations: [{ field: "workflow_name", description: "is required" }] } },
      ]),
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).fieldViolations).toEqual([{ field: "workflow_name", description: "is required" }]);
  });

  it("keeps other codes as AikiRpcError with the code, and says which are transient", () => {
    const unavailable = translateRpcError(wire(Code.Unavailable, "down"));
    expect(unavailable).toBeInstanceOf(AikiRpcError);
    expect(unavailable).not.toBeInstanceOf(RunNotFoundError);
    expect((unavailable as AikiRpcError).code).toBe("unavailable");
    expect((unavailable as AikiRpcError).retryable).toBe(true);
    expect(isTransientRpcError(unavailable)).toBe(true);
    expect(isTransientRpcError(new ConnectError("x", Code.Unavailable))).toBe(true);
    // A detail-less NOT_FOUND (e.g. an unknown method) is not claimed to be a missing run.
    expect(translateRpcError(wire(Code.NotFound, "no route"))).not.toBeInstanceOf(RunNotFoundError);
    expect(rpcCodeOf(translateRpcError(wire(Code.Internal, "boom")))).toBe("internal");
    expect(isTransientRpcError(translateRpcError(wire(Code.Internal, "boom")))).toBe(false);
  });

  it("counts a CANCEL it did not cause (a server dying mid-call) as transient, and its own cancel as final", () => {
    const reset = new ConnectError("http/2 stream closed with error code CANCEL (0x8)", Code.Canceled);
    expect(isTransientRpcError(reset)).toBe(true);
    expect(isTransientRpcError(reset, new AbortController().signal)).toBe(true);
    const mine = new AbortController();
    mine.abort();
    expect(isTransientRpcError(reset, mine.signal)).toBe(false);
  });

  it("passes non-RPC errors through untouched", () => {
    const plain = new TypeError("x");
    expect(translateRpcError(plain)).toBe(plain);
    expect(rpcCodeOf(plain)).toBeUndefined();
  });
});

describe("auth and limit errors", () => {
  it("name the scope a key lacks and the limit a request passed", () => {
    const denied = translateRpcError(
      wire(Code.PermissionDenied, "no", [{ desc: PermissionDeniedDetailSchema, value: { requiredScope: "worker", method: "aiki.v1.TaskService/StartTask" } }]),
    );
    expect(denied).toBeInstanceOf(PermissionDeniedError);
    expect(denied).toMatchObject({ code: "permission_denied", requiredScope: "worker", method: "aiki.v1.TaskService/StartTask" });
    const limited = translateRpcError(
      wire(Code.ResourceExhausted, "too big", [
        { desc: LimitExceededDetailSchema, value: { limit: "AIKI_MAX_MESSAGE_BYTES", max: 4n, actual: 5n, subject: "request" } },
      ]),
    );
    expect(limited).toBeInstanceOf(LimitExceededError);
    expect(limited).toMatchObject({ code: "resource_exhausted", limit: "AIKI_MAX_MESSAGE_BYTES", max: 4, actual: 5, subject: "request", retryable: true });
    expect(translateRpcError(wire(Code.PermissionDenied, "bare"))).not.toBeInstanceOf(PermissionDeniedError);
  });
});

describe("schedule errors", () => {
  const id = "0b6f3f2e-1111-8222-9333-444455556666";
  const other = "0b6f3f2e-1111-8222-9333-777788889999";

  it("are named by their typed details, not guessed from the call", () => {
    const missing = translateRpcError(wire(Code.NotFound, `schedule ${id} not found`, [{ desc: ScheduleNotFoundDetailSchema, value: { scheduleId: id } }]));
    expect(missing).toBeInstanceOf(ScheduleNotFoundError);
    expect(missing).toMatchObject({ scheduleId: id, code: "not_found", message: `schedule ${id} not found` });
    expect((missing as Error).cause).toBeInstanceOf(ConnectError);

    const conflict = translateRpcError(
      wire(Code.AlreadyExists, "exists", [{ desc: ScheduleConflictDetailSchema, value: { scheduleName: "nightly", existingScheduleId: other } }]),
    );
    expect(conflict).toBeInstanceOf(ScheduleConflictError);
    expect(conflict).toMatchObject({ scheduleName: "nightly", existingScheduleId: other, code: "already_exists" });

    const paused = translateRpcError(
      wire(Code.FailedPrecondition, "it is paused", [
        { desc: ScheduleStateDetailSchema, value: { scheduleId: id, action: "pause", currentStatus: ScheduleStatus.PAUSED } },
      ]),
    );
    expect(paused).toBeInstanceOf(ScheduleStateError);
    expect(paused).toMatchObject({ scheduleId: id, action: "pause", currentStatus: "paused" });
    const active = translateRpcError(
      wire(Code.FailedPrecondition, "it is active", [
        { desc: ScheduleStateDetailSchema, value: { scheduleId: id, action: "resume", currentStatus: ScheduleStatus.ACTIVE } },
      ]),
    );
    expect(active).toMatchObject({ action: "resume", currentStatus: "active" });
  });

  it("without a detail stay generic: a bare code is never taken for a schedule error", () => {
    for (const code of [Code.NotFound, Code.AlreadyExists, Code.FailedPrecondition]) {
      const bare = translateRpcError(wire(code, "x"));
      expect(bare).toBeInstanceOf(AikiRpcError);
      expect(bare).not.toBeInstanceOf(ScheduleNotFoundError);
      expect(bare).not.toBeInstanceOf(ScheduleConflictError);
      expect(bare).not.toBeInstanceOf(ScheduleStateError);
    }
  });
});
