import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Run } from "@aiki/gen/aiki/v1/run_pb";
import { AikiError } from "./errors.js";
import { type Failure, failureFromPb } from "./failure.js";
import { fromValue } from "./json-value.js";
import { type RerunStepInfo, rerunStepFromPb } from "./rerun-options.js";
import { type RunFailureCause, type RunStatus, runFailureCauseFromPb, runStatusFromPb, type TerminalRunStatus } from "./run-status.js";

export type NonTerminalRunStatus = Exclude<RunStatus, TerminalRunStatus>;

/** Where a run is, discriminated by `status`; `output` is there once completed. */
export type WorkflowRunState<Output> =
  | { status: "completed"; output: Output }
  | { status: "failed"; failure: Failure; cause: RunFailureCause | undefined }
  | { status: "cancelled"; reason: string | undefined }
  | { status: NonTerminalRunStatus; reason: string | undefined; wakeAt: Date | undefined; failure: Failure | undefined };

/** The state type for one status (`StateForStatus<"completed", O>` has `output: O`). */
export type StateForStatus<S extends RunStatus, Output> = S extends TerminalRunStatus
  ? Extract<WorkflowRunState<Output>, { status: S }>
  : { status: S; reason: string | undefined; wakeAt: Date | undefined; failure: Failure | undefined };

/** A snapshot of a workflow run, as the server last reported it. */
export interface WorkflowRun<Input = unknown, Output = unknown> {
  id: string;
  name: string;
  versionId: string;
  namespace: string;
  /** Bumped by every transition. */
  revision: number;
  input: Input;
  state: WorkflowRunState<Output>;
  /** The output once completed. */
  output: Output | undefined;
  /** The workflow attempt, starting at 1; a workflow retry increments it. */
  attempts: number;
  referenceId: string | undefined;
  shard: string | undefined;
  /** The tags given at start (`opt("tags", …)`); `{}` when none. */
  tags: Readonly<Record<string, string>>;
  parentRunId: string | undefined;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | undefined;
  endedAt: Date | undefined;
  wakeAt: Date | undefined;
  /** Set when this run is a rerun: the run whose history it copied (docs/semantics.md, Rerun). */
  rerunOf: string | undefined;
  /** Set with rerunOf: where the rerun went live. */
  fromStep: RerunStepInfo | undefined;
}

const date = (t: Timestamp | undefined) => (t ? timestampDate(t) : undefined);

/** The SDK view of a Run; `decodeOutput` validates/parses the output of a completed run. */
export function runFromPb<Input, Output>(pb: Run, decodeOutput: (json: unknown) => Output = (json) => json as Output): WorkflowRun<Input, Output> {
  const status = runStatusFromPb(pb.status);
  if (status === undefined) throw new AikiError(`run ${pb.id} has status ${pb.status}, which this SDK does not know; upgrade @aiki/sdk`);
  const failure = pb.failure ? failureFromPb(pb.failure) : undefined;
  const reason = pb.statusReason || undefined;
  const wakeAt = date(pb.wakeTime);
  let state: WorkflowRunState<Output>;
  let output: Output | undefined;
  switch (status) {
    case "completed":
      output = decodeOutput(fromValue(pb.output));
      state = { status, output };
      break;
    case "failed":
      state = {
        status,
        failure: failure ?? { message: "the run failed without a recorded failure", nonRetryable: false },
        cause: runFailureCauseFromPb(pb.failureCause),
      };
      break;
    case "cancelled":
      state = { status, reason };
      break;
    default:
      state = { status, reason, wakeAt, failure };
  }
  return {
    id: pb.id,
    name: pb.workflowName,
    versionId: pb.workflowVersionId,
    namespace: pb.namespace,
    revision: pb.revision,
    input: fromValue(pb.input) as Input,
    state,
    output,
    attempts: pb.attempt,
    referenceId: pb.referenceId || undefined,
    shard: pb.shard || undefined,
    tags: { ...pb.tags },
    parentRunId: pb.parentRunId || undefined,
    createdAt: date(pb.createTime) ?? new Date(0),
    updatedAt: date(pb.updateTime) ?? new Date(0),
    startedAt: date(pb.startTime),
    endedAt: date(pb.endTime),
    wakeAt,
    rerunOf: pb.rerunOf || undefined,
    fromStep: rerunStepFromPb(pb.fromStep),
  };
}
