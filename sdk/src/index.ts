// @aiki/sdk: define workflows, tasks and events; start, find and control runs.

// Defining work
export { workflow, type WorkflowDefinition } from "./workflow.js";
export type { WorkflowVersion, WorkflowVersionOptions, WorkflowStartBuilder } from "./workflow-version.js";
export { task, type Task, type TaskOptions } from "./task.js";
export { event, type EventDefinition, type EventDefinitions, type EventData } from "./event.js";
export type { WorkflowRunContext, EventWaiter, EventWaiters } from "./run-context.js";
export type { Schema } from "./schema.js";
export type { Duration } from "./duration.js";
export type { RetryStrategy } from "./retry-strategy.js";
export type { StartOptionValues, StartTrigger, ReferenceConflictPolicyName } from "./start-options.js";

// Talking to the server
export { client, type Client, type ClientOptions, type RedisOptions } from "./client.js";
export type { WorkflowRunHandle, WaitForCompletionOptions, WaitForStatusOptions, WaitForStatusResult } from "./run-handle.js";
export type { ChildRunHandle } from "./child-run-handle.js";
export type { ChildRunInfo, ChildWaitResult, EventWaitResult } from "./run-engine.js";
export type { EventSender, EventSendBuilder, EventSenders, VersionEventSender, VersionEventSendBuilder, VersionEventSenders } from "./event-senders.js";
export type { WorkflowRun, WorkflowRunState, StateForStatus, NonTerminalRunStatus } from "./workflow-run.js";
export type { RerunFrom, RerunOptions, RerunStepInfo } from "./rerun-options.js";
export {
  batchOperation,
  countBatchRuns,
  startBatchOperation,
  type BatchAction,
  type BatchOperationHandle,
  type BatchOperationInfo,
  type BatchOperationStatus,
  type BatchRunSelection,
  type StartBatchOptions,
} from "./batch-operations.js";
export type { RunStatus, TerminalRunStatus, RunFailureCause } from "./run-status.js";
export type { Failure } from "./failure.js";
export {
  schedule,
  type OverlapPolicy,
  type ScheduleActivateOptions,
  type ScheduleDefinition,
  type ScheduleHandle,
  type ScheduleSpec,
  type ScheduleState,
  type ScheduleStatus,
} from "./schedule.js";

// Errors
export {
  AikiError,
  AikiRpcError,
  InvalidArgumentError,
  InvalidTransitionError,
  LeaseLostError,
  LimitExceededError,
  NonDeterminismError,
  NonRetryableError,
  PermissionDeniedError,
  ReplayMismatchError,
  RunNotFoundError,
  ScheduleConflictError,
  ScheduleNotFoundError,
  ScheduleStateError,
  SchemaValidationError,
  TaskFailedError,
  WorkflowRunConflictError,
  WorkflowRunFailedError,
  type RpcCode,
  type UnconsumedEntry,
} from "./errors.js";

// Logging
export { createConsoleLogger, silentLogger, type Logger, type LogLevel, type LogFields, type ConsoleLoggerOptions } from "./logger.js";
