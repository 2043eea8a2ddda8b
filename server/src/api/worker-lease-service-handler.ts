import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { RunFailureCause } from "@aiki/gen/aiki/v1/run_pb";
import {
  HeartbeatResponse_LeaseStateSchema,
  type Lease,
  LeaseSchema,
  ListWorkersResponse_WorkerSchema,
  type SuspendRunRequest,
  WorkerLeaseService,
  type WorkflowVersionRef,
} from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import type { EngineDeps } from "../engine/engine-deps.js";
import { completeRunWith, failRun, releaseLease } from "../engine/finish-run.js";
import { defaultLeaseTtlMs, heartbeat, type LeasedRun, pollLeases, streamLeases, type WorkerIdentity } from "../engine/lease-runs.js";
import { childRunKey } from "../engine/canonical-json.js";
import { startChildRun } from "../engine/start-child-run.js";
import { type SuspendWait, suspendRunWith } from "../engine/suspend-run.js";
import type { JsonValue } from "../store/json.js";
import { listRecentWorkers } from "../store/worker-repository.js";
import { historyToPb } from "./history-mapping.js";
import { failureCauseFromPb, runStatusFromPb, runToPb } from "./run-mapping.js";
import { namespaceOf } from "./call-namespace.js";
import { parseStartFields } from "./start-fields.js";
import { taskServiceImpl } from "./task-service-handler.js";
import { Violations } from "./validation.js";
import { traceContextForRun, traceRunOfCall } from "./rpc-tracing.js";
import { workerSession } from "./worker-session.js";
import { holdForCaller } from "./caller-quotas.js";
import { outboundOf } from "./call-outbound.js";
import { joinPipeline } from "./pipelined-attempts.js";

const maxLeaseTtlMs = 3600_000;

export function leaseToPb(l: LeasedRun): Lease {
  return create(LeaseSchema, {
    run: runToPb(l.run),
    leaseToken: l.run.lease_token ?? "",
    expireTime: l.run.lease_expires_time ? timestampFromDate(l.run.lease_expires_time) : undefined,
    history: historyToPb(l.history),
  });
}

/** WorkerLeaseService: proto <-> engine mapping and request validation only. */
export function registerWorkerLeaseService(router: ConnectRouter, deps: EngineDeps): void {
  const leases = workerLeaseServiceImpl(deps);
  router.service(WorkerLeaseService, leases);
}

/** The WorkerLeaseService methods; Session answers its calls with these and TaskService's. */
export function workerLeaseServiceImpl(deps: EngineDeps): ServiceImpl<typeof WorkerLeaseService> {
  const fenced = (v: Violations, runId: string, leaseToken: string) => ({
    runId: v.uuid("run_id", runId),
    leaseToken: v.uuid("lease_token", leaseToken),
  });

  const impl: ServiceImpl<typeof WorkerLeaseService> = {
    async pollLeases(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const worker = parseWorker(v, req, ns);
      if (req.maxLeases < 0 || req.maxLeases > 1000) v.add("max_leases", "must be between 0 and 1000");
      const waitMs = v.durationMs("wait", req.wait) ?? 0;
      const ttlMs = parseTtl(v, req.leaseTtl);
      v.throwIfAny();
      const leases = await pollLeases(deps, worker, { max: req.maxLeases || 1, waitMs, ttlMs }, ctx.signal);
      return { leases: leases.map(leaseToPb) };
    },

    async *streamLeases(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const worker = parseWorker(v, req, ns);
      if (req.maxInFlight < 1 || req.maxInFlight > 1000) v.add("max_in_flight", "must be between 1 and 1000");
      const ttlMs = parseTtl(v, req.leaseTtl);
      v.throwIfAny();
      const release = holdForCaller(ctx, "streams");
      const outbound = outboundOf(ctx);
      try {
        // Nothing more is leased while what was pushed still waits to leave: a client that does not read gets nothing.
        const writable = (signal: AbortSignal) => outbound.drained(signal);
        for await (const leased of streamLeases(deps, worker, { maxInFlight: req.maxInFlight, ttlMs, writable }, ctx.signal)) {
          yield { leases: leased.map(leaseToPb) };
        }
      } finally {
        release();
      }
    },

    async heartbeat(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      v.identifier("worker_id", req.workerId, true);
      v.count("leases", "maxHeartbeatLeases", req.leases.length);
      v.throwIfAny();
      const leases = req.leases.map((l, i) => ({
        runId: v.uuid(`leases[${i}].run_id`, l.runId),
        leaseToken: v.uuid(`leases[${i}].lease_token`, l.leaseToken),
      }));
      const ttlMs = parseTtl(v, req.leaseTtl);
      v.throwIfAny();
      const states = await heartbeat(deps, { namespace: ns, workerId: req.workerId, leases, ttlMs });
      return {
        leases: states.map((s) =>
          create(HeartbeatResponse_LeaseStateSchema, {
            runId: s.runId,
            held: s.held,
            expireTime: s.expireTime ? timestampFromDate(s.expireTime) : undefined,
          }),
        ),
      };
    },

    async releaseLease(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const lease = fenced(v, req.runId, req.leaseToken);
      v.text("reason", req.reason);
      v.throwIfAny();
      return { run: runToPb(await releaseLease(deps, { namespace: ns, ...lease, reason: req.reason })) };
    },

    async suspendRun(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const lease = fenced(v, req.runId, req.leaseToken);
      const wait = parseWait(v, req);
      // On a session, the pipelined starts its completions name may be recorded with it (pipelined-attempts.ts).
      const write = await joinPipeline({ deps, ctx, v, namespace: ns, runId: lease.runId, request: req });
      return write.apply(async (completions, started) => {
        const { result, started: recorded } = await suspendRunWith(deps, { namespace: ns, ...lease, wait: wait!, completions, started });
        return {
          answer: { run: runToPb(result.run), suspended: result.suspended, history: result.history && historyToPb(result.history) },
          started: recorded,
        };
      });
    },

    async completeRun(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const lease = fenced(v, req.runId, req.leaseToken);
      const output = v.payload("output", req.output);
      // On a session, the pipelined starts its completions name may be recorded with it (pipelined-attempts.ts).
      const write = await joinPipeline({ deps, ctx, v, namespace: ns, runId: lease.runId, request: req });
      return write.apply(async (completions, started) => {
        const done = await completeRunWith(deps, { namespace: ns, ...lease, output, completions, started });
        return { answer: { run: runToPb(done.run) }, started: done.started };
      });
    },

    async failRun(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const lease = fenced(v, req.runId, req.leaseToken);
      if (!req.failure) v.add("failure", "is required");
      const failure = req.failure && (v.failure("failure", req.failure) as JsonValue & { nonRetryable?: boolean });
      const cause = req.cause === RunFailureCause.UNSPECIFIED ? "handler" : failureCauseFromPb.get(req.cause);
      if (!cause) v.add("cause", `unknown cause ${req.cause}`);
      v.throwIfAny();
      return { run: runToPb(await failRun(deps, { namespace: ns, ...lease, failure: failure!, cause: cause! })) };
    },

    async startChildRun(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const parentRunId = v.uuid("parent_run_id", req.parentRunId);
      const leaseToken = v.uuid("lease_token", req.leaseToken);
      v.identifier("key", req.key, true);
      if (req.sequence < 0) v.add("sequence", "must not be negative");
      const fields = parseStartFields(v, req);
      if (v.clean) {
        const definition = 'reference_id when set, else "input:" + the canonical hash of input';
        v.derivedKey("key", childRunKey(fields.referenceId, fields.input), req.key, definition);
      }
      v.throwIfAny();
      const { run, existing } = await startChildRun(deps, {
        namespace: ns,
        ...fields,
        parentRunId,
        leaseToken,
        key: req.key,
        sequence: req.sequence,
        traceContext: traceContextForRun(ctx, fields.traceContext),
      });
      traceRunOfCall(ctx, run.id);
      return { run: runToPb(run), existing };
    },

    async listWorkers(_req, ctx) {
      const ns = namespaceOf(ctx);
      const workers = await listRecentWorkers(deps.db, ns, 5 * 60_000);
      return {
        workers: workers.map((w) =>
          create(ListWorkersResponse_WorkerSchema, {
            workerId: w.id,
            workerName: w.name,
            workflows: w.workflows as unknown as WorkflowVersionRef[],
            shards: w.shards as string[],
            lastSeenTime: timestampFromDate(w.last_seen_time),
            leasedRunIds: w.leasedRunIds,
            transport: w.transport,
            firstSeenTime: timestampFromDate(w.first_seen_time),
          }),
        ),
      };
    },

    session(requests, ctx) {
      return workerSession(deps, { tasks, leases: impl }, requests, ctx, (v, open) => ({
        worker: parseWorker(v, open, namespaceOf(ctx)),
        ttlMs: parseTtl(v, open.leaseTtl),
      }));
    },
  };
  const tasks = taskServiceImpl(deps);
  return impl;

  function parseWorker(
    v: Violations,
    req: { workerId: string; workerName: string; workflows: WorkflowVersionRef[]; shards: string[] },
    ns: string,
  ): WorkerIdentity {
    v.identifier("worker_id", req.workerId, true);
    v.identifier("worker_name", req.workerName, false);
    if (req.workflows.length === 0) v.add("workflows", "must name at least one workflow version");
    req.workflows.forEach((w, i) => {
      v.identifier(`workflows[${i}].workflow_name`, w.workflowName, true);
      v.identifier(`workflows[${i}].workflow_version_id`, w.workflowVersionId, true);
    });
    for (const [i, s] of req.shards.entries()) v.identifier(`shards[${i}]`, s, true);
    return {
      namespace: ns,
      workerId: req.workerId,
      workerName: req.workerName || req.workerId,
      versions: req.workflows.map((w) => ({ workflowName: w.workflowName, workflowVersionId: w.workflowVersionId })),
      shards: [...new Set(req.shards)],
    };
  }
}

function parseTtl(v: Violations, ttl: Parameters<Violations["durationMs"]>[1]): number {
  const ms = v.durationMs("lease_ttl", ttl, { positive: true }) ?? defaultLeaseTtlMs;
  if (ms > maxLeaseTtlMs) v.add("lease_ttl", "must be at most one hour");
  return ms;
}

function parseWait(v: Violations, req: SuspendRunRequest): SuspendWait | undefined {
  const w = req.wait;
  const sequence = (field: string, n: number) => {
    if (n < 0) v.add(field, "must not be negative");
    return n;
  };
  switch (w.case) {
    case undefined:
      v.add("wait", "must be one of sleep, event_wait, child_wait, task_retry");
      return undefined;
    case "sleep": {
      v.identifier("sleep.name", w.value.name, true);
      if (!w.value.duration) v.add("sleep.duration", "is required");
      const durationMs = v.durationMs("sleep.duration", w.value.duration) ?? 0;
      return { kind: "sleep", name: w.value.name, sequence: sequence("sleep.sequence", w.value.sequence), durationMs };
    }
    case "eventWait":
      v.identifier("event_wait.event_name", w.value.eventName, true);
      return {
        kind: "event",
        eventName: w.value.eventName,
        sequence: sequence("event_wait.sequence", w.value.sequence),
        timeoutMs: v.durationMs("event_wait.timeout", w.value.timeout),
      };
    case "childWait": {
      const childRunId = v.uuid("child_wait.child_run_id", w.value.childRunId);
      const awaited = runStatusFromPb(v, "child_wait.awaited_status", w.value.awaitedStatus);
      if (awaited === undefined) v.add("child_wait.awaited_status", "is required");
      return {
        kind: "child",
        childRunId,
        sequence: sequence("child_wait.sequence", w.value.sequence),
        awaitedStatus: awaited ?? "completed",
        timeoutMs: v.durationMs("child_wait.timeout", w.value.timeout),
      };
    }
    case "taskRetry":
      return { kind: "task_retry", taskId: v.uuid("task_retry.task_id", w.value.taskId) };
  }
}
