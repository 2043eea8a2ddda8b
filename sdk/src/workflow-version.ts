import { randomUUID } from "node:crypto";
import type { Run } from "@aiki/gen/aiki/v1/run_pb";
import { Backoff } from "./backoff.js";
import { ChildRunHandleImpl, type ChildRunHandle } from "./child-run-handle.js";
import { type Client, clientInternals } from "./client.js";
import { AikiError, RunNotFoundError } from "./errors.js";
import type { EventDefinitions } from "./event.js";
import { createVersionEventSenders, type VersionEventSenders } from "./event-senders.js";
import { toValue } from "./json-value.js";
import type { RetryStrategy } from "./retry-strategy.js";
import { isTransientRpcError } from "./rpc-error-translation.js";
import { engineOf, type WorkflowRunContext } from "./run-context.js";
import { type HandleVersion, RunHandle, rerunWithRetries, type WorkflowRunHandle } from "./run-handle.js";
import { type RerunOptions, rerunRequest } from "./rerun-options.js";
import { parseWithSchema, type Schema } from "./schema.js";
import { type StartOptions, type StartOptionValues, startOptionsToPb, withStartOption } from "./start-options.js";

/** What `.v(versionId, …)` takes. */
// biome-ignore lint/complexity/noBannedTypes: {} is "no events declared"
export interface WorkflowVersionOptions<Input, Output, Events extends EventDefinitions = {}> {
  /** The workflow body; runs again from the top on every resume, so only `run` may reach the outside world. */
  handler(run: WorkflowRunContext<Events>, input: Input): Output | Promise<Output>;
  events?: Events;
  opts?: { retry?: RetryStrategy };
  schema?: { input?: Schema<Input>; output?: Schema<Output> };
}

/** Chainable per-start options: `.with().opt("reference.id", id).opt("shard", s).start(client, input)`. */
export interface WorkflowStartBuilder<Input, Output, Events extends EventDefinitions> {
  opt<K extends keyof StartOptionValues>(key: K, value: StartOptionValues[K]): WorkflowStartBuilder<Input, Output, Events>;
  start(client: Client, input: Input): Promise<WorkflowRunHandle<Input, Output, Events>>;
  startAsChild(run: WorkflowRunContext, input: Input): Promise<ChildRunHandle<Input, Output, Events>>;
}

/** One version of a workflow: start runs of it, find them, send them events. */
export interface WorkflowVersion<Input, Output, Events extends EventDefinitions> {
  readonly name: string;
  readonly versionId: string;
  readonly events: VersionEventSenders<Events>;
  start(client: Client, input: Input): Promise<WorkflowRunHandle<Input, Output, Events>>;
  /** From a workflow handler: starts a child run (once, across replays) and returns its handle. */
  startAsChild(run: WorkflowRunContext, input: Input): Promise<ChildRunHandle<Input, Output, Events>>;
  with(): WorkflowStartBuilder<Input, Output, Events>;
  getHandleById(client: Client, runId: string): Promise<WorkflowRunHandle<Input, Output, Events>>;
  getHandleByReferenceId(client: Client, referenceId: string): Promise<WorkflowRunHandle<Input, Output, Events>>;
  /**
   * Reruns a finished run of this workflow (any version) on this version (docs/semantics.md,
   * Rerun): e.g. a run that failed on the old code, rerun from its last failure on the fixed one.
   * Code that calls differently than the copied records fails the rerun with NonDeterminismError.
   */
  rerun(client: Client, runId: string, options: RerunOptions<Input>): Promise<WorkflowRunHandle<Input, Output, Events>>;
}

/** What the worker needs of a version. */
export interface WorkflowVersionInternals {
  readonly name: string;
  readonly versionId: string;
  readonly handler: (run: WorkflowRunContext<EventDefinitions>, input: unknown) => unknown;
  readonly events: EventDefinitions;
  readonly retry: RetryStrategy | undefined;
  readonly inputSchema: Schema<unknown> | undefined;
  readonly outputSchema: Schema<unknown> | undefined;
}

const versionInternals = new WeakMap<object, WorkflowVersionInternals>();

export function workflowVersionInternals(version: unknown): WorkflowVersionInternals {
  const found = typeof version === "object" && version !== null ? versionInternals.get(version) : undefined;
  if (!found) throw new TypeError("expected a workflow version created by workflow(...).v(...) from @aiki/sdk");
  return found;
}

// A start carries a request id, so repeating it after a transient failure never starts twice.
const maxStartAttempts = 5;

export class WorkflowVersionImpl<Input, Output, Events extends EventDefinitions> implements WorkflowVersion<Input, Output, Events> {
  readonly events: VersionEventSenders<Events>;
  private readonly handleVersion: HandleVersion<Output, Events>;
  private readonly inputSubject: string;

  constructor(
    readonly name: string,
    readonly versionId: string,
    private readonly options: WorkflowVersionOptions<Input, Output, Events>,
  ) {
    const events = (options.events ?? {}) as Events;
    this.events = createVersionEventSenders({ name, versionId }, events);
    this.inputSubject = `workflow "${name}" ${versionId} input`;
    this.handleVersion = {
      name,
      versionId,
      events,
      decodeOutput: (json) => parseWithSchema(options.schema?.output, json, `workflow "${name}" ${versionId} output`),
      parseInput: (input) => parseWithSchema(options.schema?.input, input as Input, this.inputSubject),
    };
    versionInternals.set(this, {
      name,
      versionId,
      handler: options.handler.bind(options) as WorkflowVersionInternals["handler"],
      events,
      retry: options.opts?.retry,
      inputSchema: options.schema?.input,
      outputSchema: options.schema?.output,
    });
  }

  start(client: Client, input: Input): Promise<WorkflowRunHandle<Input, Output, Events>> {
    return this.startWith(client, input, {});
  }

  startAsChild(run: WorkflowRunContext, input: Input): Promise<ChildRunHandle<Input, Output, Events>> {
    return this.startChildWith(run, input, {});
  }

  with(): WorkflowStartBuilder<Input, Output, Events> {
    const builder = (options: StartOptions): WorkflowStartBuilder<Input, Output, Events> => ({
      opt: (key, value) => builder(withStartOption(options, key, value)),
      start: (client, input) => this.startWith(client, input, options),
      startAsChild: (run, input) => this.startChildWith(run, input, options),
    });
    return builder({});
  }

  async getHandleById(client: Client, runId: string): Promise<WorkflowRunHandle<Input, Output, Events>> {
    const { run } = await clientInternals(client).runs.getRun({ runId });
    return this.handleFor(client, this.checkRun(run, `run ${runId}`));
  }

  async getHandleByReferenceId(client: Client, referenceId: string): Promise<WorkflowRunHandle<Input, Output, Events>> {
    const { run } = await clientInternals(client).runs.getRunByReferenceId({
      reference: { workflowName: this.name, workflowVersionId: this.versionId, referenceId },
    });
    return this.handleFor(client, this.checkRun(run, `run with reference id "${referenceId}"`));
  }

  async rerun(client: Client, runId: string, options: RerunOptions<Input>): Promise<WorkflowRunHandle<Input, Output, Events>> {
    const { run: source } = await clientInternals(client).runs.getRun({ runId });
    if (source && source.workflowName !== this.name) {
      throw new RunNotFoundError(`run ${runId} is a run of workflow "${source.workflowName}", not of "${this.name}"`, { runId });
    }
    const input = options.input === undefined ? undefined : parseWithSchema(this.options.schema?.input, options.input, this.inputSubject);
    const run = await rerunWithRetries(client, rerunRequest(runId, options, this.versionId, input));
    return this.handleFor(client, this.checkRun(run, "rerun"));
  }

  private async startWith(client: Client, input: Input, options: StartOptions): Promise<WorkflowRunHandle<Input, Output, Events>> {
    const parsed = parseWithSchema(this.options.schema?.input, input, this.inputSubject);
    const request = {
      requestId: randomUUID(),
      workflowName: this.name,
      workflowVersionId: this.versionId,
      input: toValue(parsed),
      ...startOptionsToPb(options, this.options.opts?.retry),
    };
    const runs = clientInternals(client).runs;
    const backoff = new Backoff();
    for (let attempt = 1; ; attempt++) {
      try {
        const { run } = await runs.startRun(request);
        return this.handleFor(client, this.checkRun(run, "started run"));
      } catch (error) {
        if (attempt >= maxStartAttempts || !isTransientRpcError(error, clientInternals(client).closeSignal)) throw error;
        await backoff.wait(clientInternals(client).closeSignal);
      }
    }
  }

  private async startChildWith(run: WorkflowRunContext, input: Input, options: StartOptions): Promise<ChildRunHandle<Input, Output, Events>> {
    const engine = engineOf(run, `workflow "${this.name}" ${this.versionId}.startAsChild(run, input)`);
    const parsed = parseWithSchema(this.options.schema?.input, input, this.inputSubject);
    const info = await engine.startChild({
      workflowName: this.name,
      versionId: this.versionId,
      input: parsed,
      options,
      defaultRetry: this.options.opts?.retry,
    });
    return new ChildRunHandleImpl<Input, Output, Events>(engine, this.handleVersion, info);
  }

  private handleFor(client: Client, run: Run): WorkflowRunHandle<Input, Output, Events> {
    return new RunHandle<Input, Output, Events>(client, this.handleVersion, run);
  }

  private checkRun(run: Run | undefined, what: string): Run {
    if (!run) throw new AikiError(`the server answered without a run for ${what}`);
    if (run.workflowName !== this.name || run.workflowVersionId !== this.versionId) {
      throw new RunNotFoundError(`${what} is a run of workflow "${run.workflowName}" ${run.workflowVersionId}, not of "${this.name}" ${this.versionId}`, {
        runId: run.id,
      });
    }
    return run;
  }
}
