import { create } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import {
  RunService,
  type StartRunRequest,
  WaitForRunStatusResponse_Outcome,
  WaitForRunStatusResponseSchema,
} from "@aiki/gen/aiki/v1/run_service_pb";
import type { RunAction } from "../domain/run-actions.js";
import { controlRun } from "../engine/control-run.js";
import type { EngineDeps } from "../engine/engine-deps.js";
import { getRun, getRunByReference, queryRunTransitions, queryRuns } from "../engine/query-runs.js";
import { stableJson } from "../engine/stable-json.js";
import { type StartRunCommand, startRun } from "../engine/start-run.js";
import { maxWaitMs, waitForRunStatus } from "../engine/wait-for-run-status.js";
import type { JsonValue } from "../store/json.js";
import { holdForCaller } from "./caller-quotas.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { runStatusFromPb, runToPb, transitionToPb } from "./run-mapping.js";
import { parseStartFields } from "./start-fields.js";
import { defaultNamespace } from "./call-namespace.js";
import { Violations } from "./validation.js";

const clientActor = "client";

/** RunService: proto <-> engine mapping and request validation only. */
export function registerRunService(router: ConnectRouter, deps: EngineDeps): void {
  const ns = defaultNamespace;

  const control = async (rawRunId: string, action: RunAction, reason?: string) => {
    const v = new Violations(deps.limits);
    const runId = v.uuid("run_id", rawRunId);
    if (reason !== undefined) v.text("reason", reason);
    v.throwIfAny();
    const run = await controlRun(deps, { namespace: ns, runId, action, reason: reason || undefined, actor: clientActor });
    return { run: runToPb(run) };
  };

  router.service(RunService, {
    async startRun(req) {
      const { run, existing } = await startRun(deps, parseStartRun(new Violations(deps.limits), req, ns));
      return { run: runToPb(run), existing };
    },

    async getRun(req) {
      const v = new Violations(deps.limits);
      const runId = v.uuid("run_id", req.runId);
      v.throwIfAny();
      return { run: runToPb(await getRun(deps, ns, runId)) };
    },

    async getRunByReferenceId(req) {
      const v = new Violations(deps.limits);
      const ref = req.reference;
      if (!ref) v.add("reference", "is required");
      v.identifier("reference.workflow_name", ref?.workflowName ?? "x", true);
      v.identifier("reference.workflow_version_id", ref?.workflowVersionId ?? "x", true);
      v.identifier("reference.reference_id", ref?.referenceId ?? "x", true);
      v.throwIfAny();
      const run = await getRunByReference(deps, ns, {
        workflowName: ref!.workflowName,
        workflowVersionId: ref!.workflowVersionId,
        referenceId: ref!.referenceId,
      });
      return { run: runToPb(run) };
    },

    async listRuns(req) {
      const v = new Violations(deps.limits);
      v.identifier("workflow_name", req.workflowName, false);
      v.identifier("workflow_version_id", req.workflowVersionId, false);
      const parentRunId = v.uuid("parent_run_id", req.parentRunId, false);
      v.identifier("reference_id", req.referenceId, false);
      if (req.shard !== undefined) v.identifier("shard", req.shard, false);
      const statuses = req.statuses.map((s, i) => runStatusFromPb(v, `statuses[${i}]`, s));
      if (statuses.some((s) => s === undefined) && !statuses.every((s) => s === undefined)) {
        v.add("statuses", "must not contain RUN_STATUS_UNSPECIFIED");
      }
      const size = v.pageSize("page_size", req.pageSize);
      const filter = {
        workflowName: req.workflowName || undefined,
        workflowVersionId: req.workflowVersionId || undefined,
        statuses: statuses.filter((s) => s !== undefined),
        shard: req.shard,
        parentRunId: parentRunId || undefined,
        referenceId: req.referenceId || undefined,
      };
      const filterKey = stableJson(filter as unknown as JsonValue);
      const afterId = decodePageToken(v, "page_token", req.pageToken, filterKey);
      v.throwIfAny();
      const page = await queryRuns(deps, ns, filter, { size, afterId, order: "newest_first" });
      return { runs: page.items.map(runToPb), nextPageToken: encodePageToken(page.after, filterKey) };
    },

    cancelRun: (req) => control(req.runId, "cancel", req.reason),
    pauseRun: (req) => control(req.runId, "pause", req.reason),
    resumeRun: (req) => control(req.runId, "resume", req.reason),
    awakeRun: (req) => control(req.runId, "awake"),

    async waitForRunStatus(req, ctx: HandlerContext) {
      const v = new Violations(deps.limits);
      const runId = v.uuid("run_id", req.runId);
      const awaited = runStatusFromPb(v, "status", req.status);
      const timeoutMs = v.durationMs("timeout", req.timeout) ?? maxWaitMs;
      v.throwIfAny();
      const release = holdForCaller(ctx, "waits");
      const { outcome, run } = await waitForRunStatus(deps, ns, runId, awaited, timeoutMs, ctx.signal).finally(release);
      return create(WaitForRunStatusResponseSchema, {
        outcome:
          outcome === "reached"
            ? WaitForRunStatusResponse_Outcome.REACHED
            : outcome === "terminated"
              ? WaitForRunStatusResponse_Outcome.TERMINATED
              : WaitForRunStatusResponse_Outcome.TIMEOUT,
        run: runToPb(run),
      });
    },

    async listRunTransitions(req) {
      const v = new Violations(deps.limits);
      const runId = v.uuid("run_id", req.runId);
      const size = v.pageSize("page_size", req.pageSize);
      const after = decodePageToken(v, "page_token", req.pageToken, runId, "revision");
      v.throwIfAny();
      const page = await queryRunTransitions(deps, ns, runId, { size, afterRevision: after === undefined ? undefined : Number(after) });
      return { transitions: page.items.map(transitionToPb), nextPageToken: encodePageToken(page.after, runId) };
    },

    async listChildRuns(req) {
      const v = new Violations(deps.limits);
      const parentRunId = v.uuid("parent_run_id", req.parentRunId);
      const size = v.pageSize("page_size", req.pageSize);
      const afterId = decodePageToken(v, "page_token", req.pageToken, parentRunId);
      v.throwIfAny();
      await getRun(deps, ns, parentRunId);
      const page = await queryRuns(deps, ns, { parentRunId }, { size, afterId, order: "oldest_first" });
      return { runs: page.items.map(runToPb), nextPageToken: encodePageToken(page.after, parentRunId) };
    },
  });
}

function parseStartRun(v: Violations, req: StartRunRequest, namespace: string): StartRunCommand {
  v.identifier("request_id", req.requestId, false);
  const fields = parseStartFields(v, req);
  v.throwIfAny();
  return { namespace, requestId: req.requestId || undefined, ...fields, actor: clientActor };
}
