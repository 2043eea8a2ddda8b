import { type RetryStrategy, validateRetryStrategy } from "./retry-strategy.js";
import { engineOf, type WorkflowRunContext } from "./run-context.js";
import type { Schema } from "./schema.js";

export interface TaskOptions<Input, Output> {
  /** Identifies the task in history: with the input's hash it forms the call's replay address. */
  name: string;
  handler(input: Input): Output | Promise<Output>;
  opts?: { retry?: RetryStrategy };
  schema?: { input?: Schema<Input>; output?: Schema<Output> };
}

/** A unit of work a workflow calls; its result is recorded and replayed, never recomputed. */
export interface Task<Input, Output> {
  readonly name: string;
  /** Runs the task from a workflow handler (or returns its recorded output on replay). */
  start(run: WorkflowRunContext, input: Input): Promise<Output>;
}

/** What the replay executor needs of a task. */
export interface TaskInternals<Input, Output> {
  readonly name: string;
  readonly handler: (input: Input) => Output | Promise<Output>;
  readonly retry: RetryStrategy | undefined;
  readonly inputSchema: Schema<Input> | undefined;
  readonly outputSchema: Schema<Output> | undefined;
}

export function task<Input = void, Output = void>(options: TaskOptions<Input, Output>): Task<Input, Output> {
  if (!options || typeof options.name !== "string" || options.name === "") throw new TypeError("task(): `name` must be a non-empty string");
  if (typeof options.handler !== "function") throw new TypeError(`task "${options.name}": \`handler\` must be a function`);
  const retry = options.opts?.retry;
  if (retry) validateRetryStrategy(retry, `task "${options.name}"`);
  const internals: TaskInternals<Input, Output> = Object.freeze({
    name: options.name,
    handler: options.handler.bind(options),
    retry,
    inputSchema: options.schema?.input,
    outputSchema: options.schema?.output,
  });
  return Object.freeze({
    name: options.name,
    start(run: WorkflowRunContext, input: Input): Promise<Output> {
      try {
        const engine = engineOf(run, `task "${options.name}".start(run, input)`);
        return engine.runTask(internals as TaskInternals<unknown, unknown>, input) as Promise<Output>;
      } catch (error) {
        return Promise.reject(error);
      }
    },
  });
}
