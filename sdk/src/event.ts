import type { Schema } from "./schema.js";

/** A typed event a workflow version can wait for and clients can send. */
export interface EventDefinition<T> {
  readonly schema: Schema<T> | undefined;
  /** Type-only: keeps T invariant so payloads of another event type do not fit. */
  readonly __data?: (data: T) => T;
}

/** The events of a workflow version, by name. */
// biome-ignore lint/suspicious/noExplicitAny: a map of definitions of any payload type
export type EventDefinitions = Record<string, EventDefinition<any>>;

/** The payload type of an event definition. */
export type EventData<E> = E extends EventDefinition<infer T> ? T : never;

/**
 * Declares an event. `event<{ estimatedTime: number }>()` types its data; `event({ schema })`
 * also validates it on send and on receipt; `event()` carries no data.
 */
// The bare overload comes first so `event()` in an `events: {...}` literal is `void`, not the
// `any` its contextual type would otherwise infer.
export function event(): EventDefinition<void>;
export function event<T>(options?: { schema?: Schema<T> }): EventDefinition<T>;
export function event<T>(options: { schema?: Schema<T> } = {}): EventDefinition<T> {
  return Object.freeze({ schema: options.schema });
}
