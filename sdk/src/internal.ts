// @aiki/sdk/internal: what @aiki/worker needs of the SDK. Not a public API; it changes freely.

export { clientInternals, type ClientInternals } from "./client.js";
export { createRunContext, engineOf } from "./run-context.js";
export type { RunEngine, ChildStartRequest, ChildWaitRequest } from "./run-engine.js";
export { workflowVersionInternals, type WorkflowVersionInternals } from "./workflow-version.js";
export type { TaskInternals } from "./task.js";
export { durationToMs, durationToPb } from "./duration.js";
export { maxAttemptsOf, retryDelayMs, retryStrategyToPb, validateRetryStrategy } from "./retry-strategy.js";
export { canonicalHash, canonicalJson, childRunKey, taskAddress, toJsonValue, type JsonValue } from "./canonical-json.js";
export { fromValue, toValue } from "./json-value.js";
export { errorToFailure, failureFromPb, failureToPb, RecordedFailureError } from "./failure.js";
export { callErrorToConnectError, isTransientRpcError, rpcCodeOf, translateRpcError } from "./rpc-error-translation.js";
export { defaultNamespace, readyChannel } from "./ready-channel.js";
export { isNonRetryable } from "./errors.js";
export { parseWithSchema } from "./schema.js";
export { isTerminalStatus, runFailureCauseToPb, runStatusFromPb, runStatusToPb } from "./run-status.js";
export { startOptionsToPb } from "./start-options.js";
export { runFromPb } from "./workflow-run.js";
export { abortableDelay, Backoff } from "./backoff.js";
export { replayAwareLogger } from "./logger.js";
export { traceContextOf, type TraceContextHeaders } from "./trace-propagation.js";
