import { create } from "@bufbuild/protobuf";
import { ReferenceConflictPolicy, type RetryPolicy, type Trigger as PbTrigger, TriggerSchema } from "@aiki/gen/aiki/v1/run_pb";
import { type Duration, durationToPb } from "./duration.js";
import { type RetryStrategy, retryStrategyToPb, validateRetryStrategy } from "./retry-strategy.js";

/** What a start does when its reference id already names a run with another input. */
export type ReferenceConflictPolicyName = "error" | "return_existing";

/** When a new run becomes ready; unset: at once. */
export type StartTrigger = { type: "delayed"; delayMs: number } | { type: "delayed"; delay: Duration };

/** The options `.with().opt(key, value)` accepts, by key. */
export interface StartOptionValues {
  "reference.id": string;
  "reference.conflictPolicy": ReferenceConflictPolicyName;
  reference: { id: string; conflictPolicy?: ReferenceConflictPolicyName };
  shard: string;
  retry: RetryStrategy;
  trigger: StartTrigger;
  /** Run tags, e.g. `{ tenant: "acme", incident: "inc-42" }`; the server checks their limits. */
  tags: Readonly<Record<string, string>>;
}

export interface StartOptions {
  referenceId?: string;
  conflictPolicy?: ReferenceConflictPolicyName;
  shard?: string;
  retry?: RetryStrategy;
  trigger?: StartTrigger;
  tags?: Readonly<Record<string, string>>;
}

/** A copy of `options` with one more option set; throws TypeError/RangeError for a bad value. */
export function withStartOption<K extends keyof StartOptionValues>(options: StartOptions, key: K, value: StartOptionValues[K]): StartOptions {
  const next = { ...options };
  const nonEmptyString = (field: string, v: unknown): string => {
    if (typeof v !== "string" || v === "") throw new TypeError(`opt("${field}"): expected a non-empty string`);
    return v;
  };
  const policy = (v: unknown): ReferenceConflictPolicyName => {
    if (v !== "error" && v !== "return_existing") throw new TypeError(`conflictPolicy must be "error" or "return_existing", got ${JSON.stringify(v)}`);
    return v;
  };
  switch (key) {
    case "reference.id":
      next.referenceId = nonEmptyString(key, value);
      break;
    case "reference.conflictPolicy":
      next.conflictPolicy = policy(value);
      break;
    case "reference": {
      const ref = value as StartOptionValues["reference"];
      if (!ref || typeof ref !== "object") throw new TypeError('opt("reference"): expected { id, conflictPolicy? }');
      next.referenceId = nonEmptyString("reference.id", ref.id);
      if (ref.conflictPolicy !== undefined) next.conflictPolicy = policy(ref.conflictPolicy);
      break;
    }
    case "shard":
      next.shard = nonEmptyString(key, value);
      break;
    case "retry":
      validateRetryStrategy(value as RetryStrategy, 'opt("retry")');
      next.retry = value as RetryStrategy;
      break;
    case "trigger": {
      const trigger = value as StartTrigger;
      if (trigger?.type !== "delayed") throw new TypeError('opt("trigger"): expected { type: "delayed", delayMs } or { type: "delayed", delay }');
      triggerToPb(trigger); // validates the duration now rather than at start
      next.trigger = trigger;
      break;
    }
    case "tags":
      next.tags = { ...next.tags, ...checkTags('opt("tags")', value) };
      break;
    default:
      throw new TypeError(`unknown start option ${JSON.stringify(key)}`);
  }
  return next;
}

/** Tags as a plain object of strings; TypeError otherwise (the server checks counts and lengths). */
export function checkTags(what: string, value: unknown): Record<string, string> {
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new TypeError(`${what}: expected an object of string values`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") throw new TypeError(`${what}: tag ${JSON.stringify(k)} must be a string, got ${typeof v}`);
  }
  return { ...(value as Record<string, string>) };
}

export function triggerToPb(trigger: StartTrigger | undefined): PbTrigger | undefined {
  if (!trigger) return undefined;
  const delay = "delayMs" in trigger ? trigger.delayMs : trigger.delay;
  return create(TriggerSchema, { when: { case: "delay", value: durationToPb(delay) } });
}

/** The request fields shared by StartRun and StartChildRun. */
export function startOptionsToPb(
  options: StartOptions,
  defaultRetry: RetryStrategy | undefined,
): {
  referenceId: string;
  conflictPolicy: ReferenceConflictPolicy;
  shard: string;
  trigger: PbTrigger | undefined;
  retry: RetryPolicy | undefined;
  tags: { [key: string]: string };
} {
  return {
    referenceId: options.referenceId ?? "",
    conflictPolicy:
      options.conflictPolicy === "return_existing"
        ? ReferenceConflictPolicy.RETURN_EXISTING
        : options.conflictPolicy === "error"
          ? ReferenceConflictPolicy.ERROR
          : ReferenceConflictPolicy.UNSPECIFIED,
    shard: options.shard ?? "",
    trigger: triggerToPb(options.trigger),
    retry: retryStrategyToPb(options.retry ?? defaultRetry),
    tags: { ...options.tags },
  };
}
