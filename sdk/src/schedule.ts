import { create } from "@bufbuild/protobuf";
import { durationMs, timestampDate } from "@bufbuild/protobuf/wkt";
import {
  OverlapPolicy as PbOverlapPolicy,
  type Schedule as PbSchedule,
  type ScheduleSpec as PbScheduleSpec,
  ScheduleSpecSchema,
  ScheduleStatus as PbScheduleStatus,
} from "@aiki/gen/aiki/v1/schedule_service_pb";
import { Backoff } from "./backoff.js";
import { type Client, clientInternals } from "./client.js";
import { type Duration, durationToMs, durationToPb } from "./duration.js";
import { AikiError } from "./errors.js";
import type { EventDefinitions } from "./event.js";
import { fromValue, toValue } from "./json-value.js";
import { isTransientRpcError, translateRpcError } from "./rpc-error-translation.js";
import { parseWithSchema } from "./schema.js";
import { checkTags } from "./start-options.js";
import { type WorkflowVersion, workflowVersionInternals } from "./workflow-version.js";

/** What an occurrence does while the previous run of the schedule is not finished yet. */
export type OverlapPolicy =
  /** Start it anyway (the default). */
  | "allow"
  /** Skip the occurrence. */
  | "skip"
  /** Cancel the previous run (and its children), then start. */
  | "cancel_previous";

interface ScheduleSpecCommon {
  /**
   * Makes the schedule's id stable and its activation idempotent by name: activating the same
   * name with the same definition returns the existing schedule; with another definition
   * (version, spec, policy, input, shard) it throws ScheduleConflictError. Without a name the
   * schedule is identified by its definition, so activating the same definition twice also
   * returns one schedule, and a changed definition is simply another schedule.
   */
  name?: string;
  /** Default "allow". */
  overlapPolicy?: OverlapPolicy;
}

/** When a schedule fires. */
export type ScheduleSpec =
  | (ScheduleSpecCommon & {
      type: "cron";
      /** Five or six fields, standard cron syntax (six: seconds first). */
      expression: string;
      /** An IANA zone such as "Europe/Berlin"; default UTC. */
      timezone?: string;
    })
  | (ScheduleSpecCommon & {
      type: "interval";
      /** At least one second. */
      every: Duration;
    });

/** Per-activation options. */
export interface ScheduleActivateOptions {
  /** The shard the schedule's runs go to; default unsharded. Part of the schedule's definition. */
  shard?: string;
  /** Tags every run of the schedule gets; part of the schedule's definition. */
  tags?: Readonly<Record<string, string>>;
}

export type ScheduleStatus = "active" | "paused";

/** A schedule as the server last reported it. */
export interface ScheduleState<Input> {
  id: string;
  /** undefined for an unnamed schedule. */
  name: string | undefined;
  workflowName: string;
  versionId: string;
  /** `every` in milliseconds; `timezone` undefined for UTC. */
  spec: { type: "cron"; expression: string; timezone: string | undefined } | { type: "interval"; every: number };
  overlapPolicy: OverlapPolicy;
  input: Input;
  shard: string | undefined;
  status: ScheduleStatus;
  /** The next occurrence; undefined while paused. */
  nextTime: Date | undefined;
  /** The last occurrence that fired, and the run it started (undefined when skipped). */
  lastTime: Date | undefined;
  lastRunId: string | undefined;
  createTime: Date | undefined;
}

/** An activated schedule. Runs it started are ordinary runs (reference id `schedule:{id}:{occurrence time}`). */
export interface ScheduleHandle<Input> {
  readonly id: string;
  readonly name: string | undefined;
  /** True when activate() found the schedule already there (same name or definition): nothing changed. */
  readonly existing: boolean;
  /** As last read (activate, refresh, pause and resume update it). */
  readonly state: ScheduleState<Input>;
  refresh(): Promise<ScheduleState<Input>>;
  /** Stops firing; runs already started go on. ScheduleStateError unless active. */
  pause(): Promise<void>;
  /** Fires again from the next occurrence after now (missed ones are skipped). ScheduleStateError unless paused. */
  resume(): Promise<void>;
  /** Deletes the schedule (nothing fires after this returns); runs it started go on. */
  delete(): Promise<void>;
}

/** A recurring start of a workflow version; `activate` creates it on the server. */
export interface ScheduleDefinition {
  readonly spec: Readonly<ScheduleSpec>;
  /**
   * Creates the schedule, or returns it when it exists with the same definition (idempotent, so
   * a program may activate its schedules on every start). `input` is checked against the
   * version's input schema first (SchemaValidationError, and nothing is created).
   */
  activate<Input, Output, Events extends EventDefinitions>(
    client: Client,
    version: WorkflowVersion<Input, Output, Events>,
    input: NoInfer<Input>,
    options?: ScheduleActivateOptions,
  ): Promise<ScheduleHandle<Input>>;
}

const overlapToPb: Record<OverlapPolicy, PbOverlapPolicy> = {
  allow: PbOverlapPolicy.ALLOW,
  skip: PbOverlapPolicy.SKIP,
  cancel_previous: PbOverlapPolicy.CANCEL_PREVIOUS,
};

const overlapFromPb = (pb: PbOverlapPolicy): OverlapPolicy =>
  pb === PbOverlapPolicy.SKIP ? "skip" : pb === PbOverlapPolicy.CANCEL_PREVIOUS ? "cancel_previous" : "allow";

// Activation and reads are idempotent, so a transient failure is retried this often.
const maxAttempts = 5;

/**
 * A schedule: `schedule({ type: "cron", expression: "0 9 * * 1-5", timezone: "Europe/Berlin" })`
 * or `schedule({ type: "interval", every: { minutes: 5 }, overlapPolicy: "skip", name: "sync" })`,
 * then `.activate(client, version, input)`. The spec is checked here; the server checks the cron
 * expression and the time zone (InvalidArgumentError).
 */
export function schedule(spec: ScheduleSpec): ScheduleDefinition {
  const checked = checkSpec(spec);
  const pbSpec = specToPb(checked);
  return Object.freeze({
    spec: checked,
    async activate<Input, Output, Events extends EventDefinitions>(
      client: Client,
      version: WorkflowVersion<Input, Output, Events>,
      input: NoInfer<Input>,
      options: ScheduleActivateOptions = {},
    ): Promise<ScheduleHandle<Input>> {
      const v = workflowVersionInternals(version);
      const shard = options.shard ?? "";
      if (typeof shard !== "string") throw new TypeError("schedule().activate(): `shard` must be a string");
      const parsed = parseWithSchema(v.inputSchema, input, `workflow "${v.name}" ${v.versionId} input`);
      const request = {
        name: checked.name ?? "",
        workflowName: v.name,
        workflowVersionId: v.versionId,
        spec: pbSpec,
        overlapPolicy: overlapToPb[checked.overlapPolicy ?? "allow"],
        input: toValue(parsed),
        shard,
        tags: options.tags === undefined ? {} : checkTags("schedule().activate(): `tags`", options.tags),
      };
      const response = await withRetries(client, (schedules) => schedules.activateSchedule(request));
      return new ScheduleHandleImpl<Input>(client, scheduleOf(response.schedule), response.existing);
    },
  });
}

class ScheduleHandleImpl<Input> implements ScheduleHandle<Input> {
  #state: ScheduleState<Input>;

  constructor(
    private readonly client: Client,
    schedule: PbSchedule,
    readonly existing: boolean,
  ) {
    this.#state = stateFromPb<Input>(schedule);
  }

  get id(): string {
    return this.#state.id;
  }

  get name(): string | undefined {
    return this.#state.name;
  }

  get state(): ScheduleState<Input> {
    return this.#state;
  }

  async refresh(): Promise<ScheduleState<Input>> {
    const { schedule } = await withRetries(this.client, (s) => s.getSchedule({ scheduleId: this.id }));
    return this.update(schedule);
  }

  async pause(): Promise<void> {
    const { schedule } = await once(this.client, (s) => s.pauseSchedule({ scheduleId: this.id }));
    this.update(schedule);
  }

  async resume(): Promise<void> {
    const { schedule } = await once(this.client, (s) => s.resumeSchedule({ scheduleId: this.id }));
    this.update(schedule);
  }

  async delete(): Promise<void> {
    await once(this.client, (s) => s.deleteSchedule({ scheduleId: this.id }));
  }

  private update(schedule: PbSchedule | undefined): ScheduleState<Input> {
    this.#state = stateFromPb<Input>(scheduleOf(schedule));
    return this.#state;
  }
}

type Schedules = ReturnType<typeof clientInternals>["schedules"];

async function once<T>(client: Client, rpc: (schedules: Schedules) => Promise<T>): Promise<T> {
  try {
    return await rpc(clientInternals(client).schedules);
  } catch (error) {
    throw translateRpcError(error);
  }
}

async function withRetries<T>(client: Client, rpc: (schedules: Schedules) => Promise<T>): Promise<T> {
  const { schedules, closeSignal } = clientInternals(client);
  const backoff = new Backoff();
  for (let attempt = 1; ; attempt++) {
    try {
      return await rpc(schedules);
    } catch (error) {
      if (attempt >= maxAttempts || !isTransientRpcError(error, closeSignal)) throw translateRpcError(error);
      await backoff.wait(closeSignal);
    }
  }
}

function scheduleOf(schedule: PbSchedule | undefined): PbSchedule {
  if (!schedule) throw new AikiError("the server answered without a schedule");
  return schedule;
}

function checkSpec(spec: ScheduleSpec): ScheduleSpec {
  if (!spec || typeof spec !== "object") throw new TypeError('schedule(): expected { type: "cron", expression } or { type: "interval", every }');
  const { name, overlapPolicy } = spec;
  if (name !== undefined && (typeof name !== "string" || name === "")) throw new TypeError("schedule(): `name` must be a non-empty string");
  if (overlapPolicy !== undefined && !Object.hasOwn(overlapToPb, overlapPolicy)) {
    throw new TypeError(`schedule(): \`overlapPolicy\` must be "allow", "skip" or "cancel_previous", got ${JSON.stringify(overlapPolicy)}`);
  }
  const common = { ...(name !== undefined && { name }), ...(overlapPolicy !== undefined && { overlapPolicy }) };
  switch (spec.type) {
    case "cron": {
      if (typeof spec.expression !== "string" || spec.expression.trim() === "") throw new TypeError("schedule(): a cron schedule needs an `expression`");
      if (spec.timezone !== undefined && typeof spec.timezone !== "string") throw new TypeError("schedule(): `timezone` must be an IANA zone name");
      return Object.freeze({ type: "cron", expression: spec.expression, ...(spec.timezone !== undefined && { timezone: spec.timezone }), ...common });
    }
    case "interval": {
      const ms = durationToMs(spec.every);
      if (ms < 1_000) throw new RangeError(`schedule(): an interval must be at least 1 second, got ${ms} ms`);
      return Object.freeze({ type: "interval", every: spec.every, ...common });
    }
    default:
      throw new TypeError(`schedule(): unknown schedule type ${JSON.stringify((spec as { type: unknown }).type)} (use "cron" or "interval")`);
  }
}

function specToPb(spec: ScheduleSpec): PbScheduleSpec {
  return create(ScheduleSpecSchema, {
    spec:
      spec.type === "cron"
        ? { case: "cron", value: { expression: spec.expression, timezone: spec.timezone ?? "" } }
        : { case: "interval", value: { every: durationToPb(spec.every) } },
  });
}

function stateFromPb<Input>(pb: PbSchedule): ScheduleState<Input> {
  const spec = pb.spec?.spec;
  const date = (t: Parameters<typeof timestampDate>[0] | undefined) => (t ? timestampDate(t) : undefined);
  return {
    id: pb.id,
    name: pb.name || undefined,
    workflowName: pb.workflowName,
    versionId: pb.workflowVersionId,
    spec:
      spec?.case === "cron"
        ? { type: "cron", expression: spec.value.expression, timezone: spec.value.timezone || undefined }
        : { type: "interval", every: spec?.case === "interval" && spec.value.every ? durationMs(spec.value.every) : 0 },
    overlapPolicy: overlapFromPb(pb.overlapPolicy),
    input: fromValue(pb.input) as Input,
    shard: pb.shard || undefined,
    status: pb.status === PbScheduleStatus.PAUSED ? "paused" : "active",
    nextTime: date(pb.nextTime),
    lastTime: date(pb.lastTime),
    lastRunId: pb.lastRunId || undefined,
    createTime: date(pb.createTime),
  };
}
