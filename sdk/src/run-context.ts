import type { Duration } from "./duration.js";
import { durationToMs } from "./duration.js";
import type { EventData, EventDefinition, EventDefinitions } from "./event.js";
import type { Logger } from "./logger.js";
import type { RunEngine } from "./run-engine.js";

export interface EventWaiter<T> {
  /** Waits (durably) for the next event of this name. */
  wait(): Promise<{ timeout: false; data: T }>;
  /** Waits for the next event of this name, or until the timeout passes. */
  wait(options: { timeout: Duration }): Promise<{ timeout: false; data: T } | { timeout: true }>;
  wait(options?: { timeout?: Duration }): Promise<{ timeout: false; data: T } | { timeout: true }>;
}

export type EventWaiters<Events extends EventDefinitions> = { readonly [K in keyof Events]: EventWaiter<EventData<Events[K]>> };

/**
 * A workflow handler's `run`: its identity, and its only door to time, sleep, events, children
 * and logging. Everything here is durable: a replay gets the recorded answers.
 */
// biome-ignore lint/complexity/noBannedTypes: {} is "no events declared"
export interface WorkflowRunContext<Events extends EventDefinitions = {}> {
  readonly id: string;
  readonly name: string;
  readonly versionId: string;
  /** The workflow attempt, starting at 1. */
  readonly attempt: number;
  /** Bound to the run; silent while replaying what already happened. */
  readonly logger: Logger;
  /**
   * Sleeps durably: the run suspends and holds no worker. Sleeps are told apart by name and call
   * order; `cancelled` is true when `awake()` ended the sleep early.
   */
  sleep(name: string, duration: Duration): Promise<{ cancelled: boolean }>;
  readonly events: EventWaiters<Events>;
}

const engines = new WeakMap<object, RunEngine>();

export function createRunContext<Events extends EventDefinitions>(args: {
  id: string;
  name: string;
  versionId: string;
  attempt: number;
  logger: Logger;
  events: Events;
  engine: RunEngine;
}): WorkflowRunContext<Events> {
  const { engine } = args;
  const waiters: Record<string, EventWaiter<unknown>> = {};
  for (const [eventName, definition] of Object.entries(args.events) as [string, EventDefinition<unknown>][]) {
    waiters[eventName] = {
      wait: ((options?: { timeout?: Duration }) =>
        engine.waitForEvent(eventName, definition, options?.timeout === undefined ? undefined : durationToMs(options.timeout))) as EventWaiter<unknown>["wait"],
    };
  }
  const context: WorkflowRunContext<Events> = Object.freeze({
    id: args.id,
    name: args.name,
    versionId: args.versionId,
    attempt: args.attempt,
    logger: args.logger,
    sleep: (name: string, duration: Duration) => {
      if (typeof name !== "string" || name === "") return Promise.reject(new TypeError("run.sleep(name, duration): name must be a non-empty string"));
      let ms: number;
      try {
        ms = durationToMs(duration);
      } catch (error) {
        return Promise.reject(error);
      }
      return engine.sleep(name, ms);
    },
    events: Object.freeze(waiters) as EventWaiters<Events>,
  });
  engines.set(context, engine);
  return context;
}

/** The engine behind a run context; throws when `run` is not a workflow handler's run. */
export function engineOf(run: unknown, caller: string): RunEngine {
  const engine = typeof run === "object" && run !== null ? engines.get(run) : undefined;
  if (!engine) throw new TypeError(`${caller}: the first argument must be the \`run\` of a workflow handler`);
  return engine;
}
