import { create } from "@bufbuild/protobuf";
import { type Failure as PbFailure, FailureSchema } from "@aiki/gen/aiki/v1/payload_pb";
import { AikiError, isNonRetryable, TaskFailedError } from "./errors.js";
import { fromValue, toValue } from "./json-value.js";
import type { JsonValue } from "./canonical-json.js";

/** A failure of user code, as recorded: data, not a live error. */
export interface Failure {
  message: string;
  /** The error's name or class, e.g. "TypeError"; undefined when unknown. */
  type?: string;
  stack?: string;
  nonRetryable: boolean;
  cause?: Failure;
  details?: JsonValue;
}

// Cause chains can be cyclic or absurdly deep; a failure record is for humans.
const maxCauseDepth = 8;

export function errorToFailure(error: unknown, depth = 0): Failure {
  if (error instanceof TaskFailedError) {
    // The recorded task failure is the cause, whether this error was thrown live or replayed.
    return { message: error.message, type: error.name, stack: error.stack, nonRetryable: false, cause: error.failure };
  }
  if (error instanceof RecordedFailureError) return error.failure;
  if (error instanceof Error) {
    const type = error.name !== "Error" ? error.name : error.constructor?.name || "Error";
    const failure: Failure = { message: error.message, type, stack: error.stack, nonRetryable: isNonRetryable(error) };
    if (error.cause !== undefined && depth < maxCauseDepth) failure.cause = errorToFailure(error.cause, depth + 1);
    return failure;
  }
  return { message: typeof error === "string" ? error : safeString(error), type: typeof error, nonRetryable: false };
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/**
 * Failure text as the server stores it: a NUL character (which no Postgres text holds) written as
 * the escape `\u0000`, a lone surrogate as U+FFFD. An error message quoting binary data would
 * otherwise make the failure itself unrecordable, and the run retried forever.
 */
function storableText(text: string): string {
  return text.replaceAll("\u0000", "\\u0000").replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
}

export function failureToPb(failure: Failure): PbFailure {
  return create(FailureSchema, {
    message: storableText(failure.message),
    type: storableText(failure.type ?? ""),
    stack: storableText(failure.stack ?? ""),
    nonRetryable: failure.nonRetryable,
    cause: failure.cause ? failureToPb(failure.cause) : undefined,
    details: failure.details === undefined ? undefined : toValue(failure.details),
  });
}

export function failureFromPb(pb: PbFailure): Failure {
  const failure: Failure = { message: pb.message, nonRetryable: pb.nonRetryable };
  if (pb.type) failure.type = pb.type;
  if (pb.stack) failure.stack = pb.stack;
  if (pb.cause) failure.cause = failureFromPb(pb.cause);
  const details = fromValue(pb.details);
  if (details !== undefined) failure.details = details;
  return failure;
}

/** An error rebuilt from a recorded Failure (a replayed task failure's cause), named as the original. */
export class RecordedFailureError extends AikiError {
  readonly failure: Failure;

  constructor(failure: Failure) {
    super(failure.message, { cause: failure.cause ? new RecordedFailureError(failure.cause) : undefined });
    this.failure = failure;
    if (failure.type) this.name = failure.type;
    if (failure.stack) this.stack = failure.stack;
  }
}
