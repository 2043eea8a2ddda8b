import type { MessageInitShape } from "@bufbuild/protobuf";
import type { EventTargetSchema } from "@aiki/gen/aiki/v1/event_service_pb";
import { type Client, clientInternals } from "./client.js";
import type { EventData, EventDefinition, EventDefinitions } from "./event.js";
import { toValue } from "./json-value.js";
import { parseWithSchema } from "./schema.js";

type EventTargetInit = MessageInitShape<typeof EventTargetSchema>;

/** Sends an event to runs of a handle. */
export interface EventSender<T> {
  send(data: T): Promise<void>;
  /** Per-send options: `.with().opt("reference.id", id).send(data)` stores the event once per reference id. */
  with(): EventSendBuilder<T>;
}

export interface EventSendBuilder<T> {
  opt(key: "reference.id", value: string): EventSendBuilder<T>;
  send(data: T): Promise<void>;
}

export type EventSenders<Events extends EventDefinitions> = { readonly [K in keyof Events]: EventSender<EventData<Events[K]>> };

/** Sends an event to runs of a workflow version without a handle. */
export interface VersionEventSender<T> {
  /** To one run or many (atomically: all store it or none does). */
  send(client: Client, runId: string | readonly string[], data: T): Promise<void>;
  /** To the run(s) of this version holding the reference id(s). */
  sendByReferenceId(client: Client, referenceId: string | readonly string[], data: T): Promise<void>;
  with(): VersionEventSendBuilder<T>;
}

export interface VersionEventSendBuilder<T> {
  opt(key: "reference.id", value: string): VersionEventSendBuilder<T>;
  send(client: Client, runId: string | readonly string[], data: T): Promise<void>;
  sendByReferenceId(client: Client, referenceId: string | readonly string[], data: T): Promise<void>;
}

export type VersionEventSenders<Events extends EventDefinitions> = {
  readonly [K in keyof Events]: VersionEventSender<EventData<Events[K]>>;
};

interface VersionRef {
  name: string;
  versionId: string;
}

/** Validates the data with the event's schema (nothing is sent when it fails), then sends it. */
export async function sendEvent(
  client: Client,
  args: { version: VersionRef; eventName: string; definition: EventDefinition<unknown>; targets: EventTargetInit[]; data: unknown; referenceId?: string },
): Promise<void> {
  const data = parseWithSchema(args.definition.schema, args.data, `event "${args.eventName}" of workflow "${args.version.name}" ${args.version.versionId}`);
  if (args.targets.length === 0) return;
  await clientInternals(client).events.sendEvent({
    targets: args.targets,
    eventName: args.eventName,
    data: toValue(data),
    referenceId: args.referenceId ?? "",
  });
}

const list = (ids: string | readonly string[]): readonly string[] => (typeof ids === "string" ? [ids] : ids);
const byRunId = (ids: string | readonly string[]): EventTargetInit[] => list(ids).map((id) => ({ target: { case: "runId", value: id } }));
const byReference = (version: VersionRef, refs: string | readonly string[]): EventTargetInit[] =>
  list(refs).map((referenceId) => ({
    target: { case: "reference", value: { workflowName: version.name, workflowVersionId: version.versionId, referenceId } },
  }));

function referenceOpt(key: string, value: unknown): string {
  if (key !== "reference.id") throw new TypeError(`unknown event send option ${JSON.stringify(key)} (use "reference.id")`);
  if (typeof value !== "string" || value === "") throw new TypeError('opt("reference.id"): expected a non-empty string');
  return value;
}

/** The `events` of a handle to the run `runId`. */
export function createEventSenders<Events extends EventDefinitions>(client: Client, version: VersionRef, events: Events, runId: string): EventSenders<Events> {
  const senders: Record<string, EventSender<unknown>> = {};
  for (const [eventName, definition] of Object.entries(events) as [string, EventDefinition<unknown>][]) {
    const send = (data: unknown, referenceId?: string) => sendEvent(client, { version, eventName, definition, targets: byRunId(runId), data, referenceId });
    const builder = (referenceId?: string): EventSendBuilder<unknown> => ({
      opt: (key, value) => builder(referenceOpt(key, value)),
      send: (data) => send(data, referenceId),
    });
    senders[eventName] = { send: (data) => send(data), with: () => builder() };
  }
  return Object.freeze(senders) as EventSenders<Events>;
}

/** The `events` of a workflow version. */
export function createVersionEventSenders<Events extends EventDefinitions>(version: VersionRef, events: Events): VersionEventSenders<Events> {
  const senders: Record<string, VersionEventSender<unknown>> = {};
  for (const [eventName, definition] of Object.entries(events) as [string, EventDefinition<unknown>][]) {
    const builder = (referenceId?: string): VersionEventSendBuilder<unknown> => ({
      opt: (key, value) => builder(referenceOpt(key, value)),
      send: (client, runIds, data) => sendEvent(client, { version, eventName, definition, targets: byRunId(runIds), data, referenceId }),
      sendByReferenceId: (client, refs, data) => sendEvent(client, { version, eventName, definition, targets: byReference(version, refs), data, referenceId }),
    });
    const plain = builder();
    senders[eventName] = { send: plain.send, sendByReferenceId: plain.sendByReferenceId, with: () => builder() };
  }
  return Object.freeze(senders) as VersionEventSenders<Events>;
}
