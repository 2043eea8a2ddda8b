import { describe, expect, it } from "vitest";
import { NonRetryableError, SchemaValidationError, TaskFailedError } from "../src/errors.js";
import { errorToFailure, failureFromPb, failureToPb, RecordedFailureError } from "../src/failure.js";

class PaymentDeclined extends Error {}

describe("failures", () => {
  it("records message, type, stack and the cause chain", () => {
    const failure = errorToFailure(new PaymentDeclined("card declined", { cause: new TypeError("bad card") }));
    expect(failure).toMatchObject({ message: "card declined", type: "PaymentDeclined", nonRetryable: false });
    expect(failure.stack).toContain("card declined");
    expect(failure.cause).toMatchObject({ message: "bad card", type: "TypeError" });
  });

  it("marks NonRetryableError and schema failures non-retryable", () => {
    expect(errorToFailure(new NonRetryableError("stop")).nonRetryable).toBe(true);
    expect(errorToFailure(new SchemaValidationError("task input", new Error("x"))).nonRetryable).toBe(true);
    expect(errorToFailure({ nonRetryable: true } as unknown).nonRetryable).toBe(false);
    expect(errorToFailure("just a string")).toEqual({ message: "just a string", type: "string", nonRetryable: false });
  });

  it("records a TaskFailedError with the task's own failure as its cause", () => {
    const taskFailure = { message: "boom", type: "Error", nonRetryable: false };
    const error = new TaskFailedError({ taskName: "charge", attempts: 3, failure: taskFailure });
    expect(error.message).toBe('task "charge" failed after 3 attempts: boom');
    expect(errorToFailure(error)).toMatchObject({ type: "TaskFailedError", cause: taskFailure });
  });

  it("round-trips through the protobuf Failure", () => {
    const failure = { message: "m", type: "T", stack: "s", nonRetryable: true, cause: { message: "c", nonRetryable: false }, details: { a: 1 } };
    expect(failureFromPb(failureToPb(failure))).toEqual(failure);
  });

  it("rebuilds a recorded failure as an error named like the original", () => {
    const error = new RecordedFailureError({ message: "m", type: "PaymentDeclined", nonRetryable: false, cause: { message: "c", nonRetryable: false } });
    expect(error.name).toBe("PaymentDeclined");
    expect((error.cause as Error).message).toBe("c");
    expect(errorToFailure(error)).toEqual(error.failure);
  });
});
