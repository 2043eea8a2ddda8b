import { AikiError } from "./errors.js";
import type { EventDefinitions } from "./event.js";
import { validateRetryStrategy } from "./retry-strategy.js";
import { type WorkflowVersion, WorkflowVersionImpl, type WorkflowVersionOptions } from "./workflow-version.js";

/** A named workflow; its versions hold the code. */
export interface WorkflowDefinition {
  readonly name: string;
  /**
   * Adds a version. Input is typed by the handler's `input` annotation (or the input schema),
   * output by what the handler returns, events by `events`.
   */
  // biome-ignore lint/complexity/noBannedTypes: {} is "no events declared"
  v<Input = void, Output = void, Events extends EventDefinitions = {}>(
    versionId: string,
    options: WorkflowVersionOptions<Input, Output, Events>,
  ): WorkflowVersion<Input, Output, Events>;
}

export function workflow(options: { name: string }): WorkflowDefinition {
  const name = options?.name;
  if (typeof name !== "string" || name === "") throw new TypeError("workflow(): `name` must be a non-empty string");
  const versions = new Set<string>();
  return Object.freeze({
    name,
    v<Input, Output, Events extends EventDefinitions>(versionId: string, definition: WorkflowVersionOptions<Input, Output, Events>) {
      if (typeof versionId !== "string" || versionId === "") throw new TypeError(`workflow "${name}": a version id must be a non-empty string`);
      if (versions.has(versionId)) {
        throw new AikiError(`workflow "${name}" already has version "${versionId}"; a version's code is fixed once defined, add a new version instead`);
      }
      if (!definition || typeof definition.handler !== "function") throw new TypeError(`workflow "${name}" ${versionId}: \`handler\` must be a function`);
      if (definition.opts?.retry) validateRetryStrategy(definition.opts.retry, `workflow "${name}" ${versionId}`);
      versions.add(versionId);
      return new WorkflowVersionImpl<Input, Output, Events>(name, versionId, definition);
    },
  });
}
