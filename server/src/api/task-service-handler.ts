import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { TaskService } from "@aiki/gen/aiki/v1/task_service_pb";
import type { EngineDeps } from "../engine/engine-deps.js";
import { taskAddress } from "../engine/canonical-json.js";
import { getRun } from "../engine/query-runs.js";
import { completeTask, failTask, startTaskWith } from "../engine/record-task.js";
import { listTasks } from "../store/task-repository.js";
import { taskToPb } from "./history-mapping.js";
import { namespaceOf } from "./call-namespace.js";
import { Violations } from "./validation.js";
import { joinPipeline } from "./pipelined-attempts.js";

/** TaskService: proto <-> engine mapping and request validation only. */
export function registerTaskService(router: ConnectRouter, deps: EngineDeps): void {
  router.service(TaskService, taskServiceImpl(deps));
}

/** The TaskService methods, for the router and for worker sessions. */
export function taskServiceImpl(deps: EngineDeps): ServiceImpl<typeof TaskService> {
  const fenced = (v: Violations, r: { runId: string; leaseToken: string }) => ({
    runId: v.uuid("run_id", r.runId),
    leaseToken: v.uuid("lease_token", r.leaseToken),
  });
  const attempt = (v: Violations, r: { taskId: string; attempt: number }) => {
    if (r.attempt < 1) v.add("attempt", "must be at least 1");
    return v.uuid("task_id", r.taskId);
  };

  return {
    async startTask(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const lease = fenced(v, req);
      v.identifier("name", req.name, true);
      v.identifier("address", req.address, true);
      if (req.sequence < 0) v.add("sequence", "must not be negative");
      if (req.maxAttempts < 0) v.add("max_attempts", "must not be negative");
      v.identifier("attempt_id", req.attemptId, false);
      const input = v.payload("input", req.input);
      // A worker whose canonical JSON differs would miss its own records on replay: refused here.
      if (v.clean) v.derivedKey("address", taskAddress(req.name, input), req.address, 'name + ":" + the canonical hash of input');
      const fields = { name: req.name, address: req.address, sequence: req.sequence, input, maxAttempts: req.maxAttempts || 1 };
      // On a session, a later write may record this start with its own (pipelined-attempts.ts).
      const write = await joinPipeline({ deps, ctx, v, namespace: ns, runId: lease.runId, request: req }, { ...fields, attemptId: req.attemptId });
      if ("answered" in write) return { task: taskToPb(write.answered) };
      return write.apply(async (completions, started) => {
        const recorded = await startTaskWith(deps, { namespace: ns, ...lease, ...fields, attemptId: req.attemptId || undefined, completions, started });
        return { answer: { task: taskToPb(recorded.task) }, started: recorded.started };
      });
    },

    async completeTask(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const lease = fenced(v, req);
      const taskId = attempt(v, req);
      const output = v.payload("output", req.output);
      v.throwIfAny();
      const task = await completeTask(deps, { namespace: ns, ...lease, taskId, attempt: req.attempt, output });
      return { task: taskToPb(task) };
    },

    async failTask(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const lease = fenced(v, req);
      const taskId = attempt(v, req);
      if (!req.failure) v.add("failure", "is required");
      const failure = req.failure && v.failure("failure", req.failure);
      const retryDelayMs = v.durationMs("retry_delay", req.retryDelay);
      v.throwIfAny();
      const task = await failTask(deps, {
        namespace: ns,
        ...lease,
        taskId,
        attempt: req.attempt,
        failure: failure!,
        retryDelayMs,
      });
      return { task: taskToPb(task) };
    },

    async listTasks(req, ctx) {
      const ns = namespaceOf(ctx);
      const v = new Violations(deps.limits);
      const runId = v.uuid("run_id", req.runId);
      v.throwIfAny();
      await getRun(deps, ns, runId);
      return { tasks: (await listTasks(deps.db, [runId])).map(taskToPb) };
    },
  };
}
