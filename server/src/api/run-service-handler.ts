import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import {
  type RerunRunRequest,
  RunService,
  RunStatusCountSchema,
  type StartRunRequest,
  WaitForRunStatusResponse_Outcome,
  WaitForRunStatusResponseSchema,
  WorkflowVersionSummarySchema,
} from "@aiki/gen/aiki/v1/run_service_pb";
import type { RunAction } from "../domain/run-actions.js";
import { controlRun } from "../engine/control-run.js";
import type { EngineDeps } from "../engine/engine-deps.js";
import { countRuns, getRun, getRunByReference, queryRunTransitions, queryRuns } from "../engine/query-runs.js";
import { listWorkflows } from "../engine/list-workflows.js";
import { getRunHistory } from "../engine/run-history.js";
import { setRunRetention } from "../engine/set-run-retention.js";
import { watchRun, watchRuns } from "../engine/watch-runs.js";
import { type StartRunCommand, startRun } from "../engine/start-run.js";
import { type RerunRunCommand, rerunRun } from "../engine/rerun-run.js";
import { maxWaitMs, waitForRunStatus } from "../engine/wait-for-run-status.js";
import { eventToPb, historyToPb } from "./history-mapping.js";
import { holdForCaller } from "./caller-quotas.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { parseRunFilter, runFilterKey } from "./run-filter.js";
import { runStatusFromPb, runStatusToPb, runToPb, transitionToPb } from "./run-mapping.js";
import { parseStartFields } from "./start-fields.js";
import { namespaceOf } from "./call-namespace.js";
import { Violations } from "./validation.js";
import { traceContextForRun, traceRunOfCall } from "./rpc-tracing.js";
import { clientSession } from "./client-session.js";
import { eventServiceImpl } from "./event-service-handler.js";

const clientActor = "client";

/** RunService: proto <-> engine mapping and request validation only. */
export function registerRunService(router: ConnectRouter, deps: EngineDeps): void {
  router.service(RunService, runServiceImpl(deps));
}

/** The RunService methods; ClientSession answers its calls with these and EventService's. */
export function runServiceImpl(deps: EngineDeps): ServiceImpl<typeof RunService> {
  const control = async (ns: string, rawRunId: string, action: RunAction, reason?: string) => {
    const v = new Violations(deps.limits);
    const runId = v.uuid("run_id", rawRunId);
    if (reason !== undefined) v.text("reason", reason);
    v.throwIfAny();
    const run = await controlRun(deps, { namespace: ns, runId, action, reason: reason || undefined, actor: clientActor });
    return { run: runToPb(run) };
  };

  const impl: ServiceImpl<typeof RunService> = {
    async startRun(req, ctx) {
      const ns = namespaceOf(ctx);
      const cmd = parseStartRun(new Violations(deps.limits), req, ns);
      const { run, existing } = await startRun(deps, { ...cmd, traceContext: traceContextForRun(ctx, cmd.traceContext) });
      traceRunOfCall(ctx, run.id);
      return { run: runToPb(run), existing };
    },

    async getRun(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const runId = v.uuid("run_id", req.runId);
      v.throwIfAny();
      return { run: runToPb(await getRun(deps, ns, runId)) };
    },

    async getRunByReferenceId(req, ctx) {
      const ns = namespaceOf(ctx);
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

    async listRuns(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const filter = parseRunFilter(v, "", req);
      const size = v.pageSize("page_size", req.pageSize);
      const filterKey = runFilterKey(filter);
      const afterId = decodePageToken(v, "page_token", req.pageToken, filterKey);
      v.throwIfAny();
      const page = await queryRuns(deps, ns, filter, { size, afterId, order: "newest_first" });
      return { runs: page.items.map(runToPb), nextPageToken: encodePageToken(page.after, filterKey) };
    },

    async countRuns(req, ctx) {
      const v = new Violations(deps.limits);
      const filter = parseRunFilter(v, "filter.", req.filter);
      v.throwIfAny();
      const counts = (await countRuns(deps, namespaceOf(ctx), filter))
        .map((c) => create(RunStatusCountSchema, { status: runStatusToPb(c.status), count: BigInt(c.count) }))
        .sort((a, b) => a.status - b.status);
      return { counts, total: counts.reduce((sum, c) => sum + c.count, 0n) };
    },

    async listWorkflows(_req, ctx) {
      const workflows = await listWorkflows(deps, namespaceOf(ctx));
      return {
        workflows: workflows.map((w) =>
          create(WorkflowVersionSummarySchema, {
            workflowName: w.workflowName,
            workflowVersionId: w.workflowVersionId,
            runCount: BigInt(w.runCount),
            lastCreateTime: w.lastCreateTime ? timestampFromDate(w.lastCreateTime) : undefined,
            workerCount: w.workerCount,
            scheduleCount: w.scheduleCount,
          }),
        ),
      };
    },

    cancelRun: (req, ctx) => control(namespaceOf(ctx), req.runId, "cancel", req.reason),
    pauseRun: (req, ctx) => control(namespaceOf(ctx), req.runId, "pause", req.reason),
    resumeRun: (req, ctx) => control(namespaceOf(ctx), req.runId, "resume", req.reason),
    awakeRun: (req, ctx) => control(namespaceOf(ctx), req.runId, "awake"),

    async setRunRetention(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const runId = v.uuid("run_id", req.runId);
      const until = v.timestamp("until", req.until);
      if (until && req.forever) v.add("forever", "must not be set together with until");
      v.throwIfAny();
      const change = req.forever ? ({ forever: true } as const) : until ? { until } : ({ policy: true } as const);
      return { run: runToPb(await setRunRetention(deps, ns, runId, change)) };
    },

    async rerunRun(req, ctx) {
      const { run, existing, copiedRecords } = await rerunRun(deps, parseRerunRun(new Violations(deps.limits), req, namespaceOf(ctx)));
      return { run: runToPb(run), existing, copiedRecords };
    },

    async waitForRunStatus(req, ctx) {
      const ns = namespaceOf(ctx);
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

    async listRunTransitions(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const runId = v.uuid("run_id", req.runId);
      const size = v.pageSize("page_size", req.pageSize);
      const after = decodePageToken(v, "page_token", req.pageToken, runId, "revision");
      v.throwIfAny();
      const page = await queryRunTransitions(deps, ns, runId, { size, afterRevision: after === undefined ? undefined : Number(after) });
      return { transitions: page.items.map(transitionToPb), nextPageToken: encodePageToken(page.after, runId) };
    },

    async listChildRuns(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const parentRunId = v.uuid("parent_run_id", req.parentRunId);
      const size = v.pageSize("page_size", req.pageSize);
      const afterId = decodePageToken(v, "page_token", req.pageToken, parentRunId);
      v.throwIfAny();
      await getRun(deps, ns, parentRunId);
      const page = await queryRuns(deps, ns, { parentRunId }, { size, afterId, order: "oldest_first" });
      return { runs: page.items.map(runToPb), nextPageToken: encodePageToken(page.after, parentRunId) };
    },

    async *watchRuns(req, ctx) {
      const v = new Violations(deps.limits);
      const filter = parseRunFilter(v, "filter.", req.filter);
      v.throwIfAny();
      const release = holdForCaller(ctx, "streams");
      try {
        for await (const runs of watchRuns(deps, namespaceOf(ctx), filter, ctx.signal, { keepAliveMs: deps.watchKeepAliveMs })) {
          yield { runs: runs.map(runToPb) };
        }
      } finally {
        release();
      }
    },

    async *watchRun(req, ctx) {
      const v = new Violations(deps.limits);
      const runId = v.uuid("run_id", req.runId);
      v.throwIfAny();
      const release = holdForCaller(ctx, "streams");
      try {
        for await (const m of watchRun(deps, namespaceOf(ctx), runId, ctx.signal, { keepAliveMs: deps.watchKeepAliveMs })) {
          yield { run: m.run && runToPb(m.run), historyChanged: m.historyChanged };
        }
      } finally {
        release();
      }
    },

    async getRunHistory(req, ctx) {
      const v = new Violations(deps.limits);
      const runId = v.uuid("run_id", req.runId);
      v.throwIfAny();
      const { history, events } = await getRunHistory(deps, namespaceOf(ctx), runId);
      return { history: historyToPb(history), events: events.map(eventToPb) };
    },

    clientSession(requests, ctx) {
      return clientSession(deps, { runs: impl, events }, requests, ctx);
    },
  };
  const events = eventServiceImpl(deps);
  return impl;
}

function parseStartRun(v: Violations, req: StartRunRequest, namespace: string): StartRunCommand {
  v.identifier("request_id", req.requestId, false);
  const fields = parseStartFields(v, req);
  v.throwIfAny();
  return { namespace, requestId: req.requestId || undefined, ...fields, actor: clientActor };
}

function parseRerunRun(v: Violations, req: RerunRunRequest, namespace: string): RerunRunCommand {
  const runId = v.uuid("run_id", req.runId);
  let from: RerunRunCommand["from"] | undefined;
  switch (req.from.case) {
    case "start":
      from = { kind: "start" };
      break;
    case "lastFailure":
      from = { kind: "last_failure" };
      break;
    case "step":
      v.identifier("step.address", req.from.value.address, true);
      if (req.from.value.sequence < 0) v.add("step.sequence", "must not be negative");
      from = { kind: "task", address: req.from.value.address, sequence: req.from.value.sequence };
      break;
    default:
      v.add("from", "is required: one of start, last_failure, step");
  }
  const input = v.payload("input", req.input);
  v.identifier("workflow_version_id", req.workflowVersionId, false);
  v.identifier("request_id", req.requestId, false);
  v.identifier("reference_id", req.referenceId, false);
  v.throwIfAny();
  return {
    namespace,
    runId,
    from: from!,
    input,
    workflowVersionId: req.workflowVersionId || undefined,
    requestId: req.requestId || undefined,
    referenceId: req.referenceId || undefined,
    actor: clientActor,
  };
}
