// @aiki/worker: runs workflow versions: takes leased runs from the server, replays and executes them.

export { worker, type Worker } from "./worker.js";
export type { AnyWorkflowVersion, SubscriberOptions, WorkerHandle, WorkerOptions } from "./worker-options.js";
export type { ExecutionOutcome } from "./execution-ended.js";
