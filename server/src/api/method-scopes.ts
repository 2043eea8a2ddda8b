import type { ApiKeyScope } from "../domain/api-key-format.js";

/** What a method needs: a scope, any valid key ("any"), or no key at all ("open"). */
export type MethodAccess = ApiKeyScope | "any" | "open";

/**
 * Every method of every aiki.v1 service and the scope it needs. A method missing here is refused
 * to every key (server/test/auth.test.ts walks the service descriptors so a new RPC without an
 * entry fails the suite).
 */
export const methodScopes: Readonly<Record<string, ApiKeyScope | "any">> = {
  "aiki.v1.AdminService/CreateNamespace": "admin",
  "aiki.v1.AdminService/ListNamespaces": "admin",
  "aiki.v1.AdminService/DeleteNamespace": "admin",
  "aiki.v1.AdminService/CreateApiKey": "admin",
  "aiki.v1.AdminService/ListApiKeys": "admin",
  "aiki.v1.AdminService/RevokeApiKey": "admin",
  "aiki.v1.AdminService/WhoAmI": "any",
  "aiki.v1.AdminService/PurgeRuns": "admin",

  "aiki.v1.RunService/StartRun": "client",
  "aiki.v1.RunService/CancelRun": "client",
  "aiki.v1.RunService/PauseRun": "client",
  "aiki.v1.RunService/ResumeRun": "client",
  "aiki.v1.RunService/AwakeRun": "client",
  "aiki.v1.RunService/SetRunRetention": "client",
  "aiki.v1.RunService/RerunRun": "client",
  "aiki.v1.RunService/GetRun": "read",
  "aiki.v1.RunService/GetRunByReferenceId": "read",
  "aiki.v1.RunService/ListRuns": "read",
  "aiki.v1.RunService/WaitForRunStatus": "read",
  "aiki.v1.RunService/ListRunTransitions": "read",
  "aiki.v1.RunService/ListChildRuns": "read",
  "aiki.v1.RunService/CountRuns": "read",
  "aiki.v1.RunService/ListWorkflows": "read",
  "aiki.v1.RunService/GetRunHistory": "read",
  "aiki.v1.RunService/WatchRuns": "read",
  "aiki.v1.RunService/WatchRun": "read",
  // Any key may open it: each call on it is checked against the scope of its unary RPC above
  // (api/client-session.ts), so a read key waits but does not start, and a client key starts.
  "aiki.v1.RunService/ClientSession": "any",

  // Acting on many runs is what CancelRun & co. are, many times: the client scope.
  "aiki.v1.BatchService/StartBatchOperation": "client",
  "aiki.v1.BatchService/CancelBatchOperation": "client",
  "aiki.v1.BatchService/GetBatchOperation": "read",
  "aiki.v1.BatchService/ListBatchOperations": "read",

  "aiki.v1.EventService/SendEvent": "client",
  "aiki.v1.EventService/ListEvents": "read",

  "aiki.v1.ScheduleService/ActivateSchedule": "client",
  "aiki.v1.ScheduleService/PauseSchedule": "client",
  "aiki.v1.ScheduleService/ResumeSchedule": "client",
  "aiki.v1.ScheduleService/DeleteSchedule": "client",
  "aiki.v1.ScheduleService/GetSchedule": "read",
  "aiki.v1.ScheduleService/ListSchedules": "read",

  "aiki.v1.TaskService/StartTask": "worker",
  "aiki.v1.TaskService/CompleteTask": "worker",
  "aiki.v1.TaskService/FailTask": "worker",
  // A run's task records are history: for operators and tools, not for workers.
  "aiki.v1.TaskService/ListTasks": "read",

  "aiki.v1.WorkerLeaseService/PollLeases": "worker",
  "aiki.v1.WorkerLeaseService/StreamLeases": "worker",
  "aiki.v1.WorkerLeaseService/Session": "worker",
  "aiki.v1.WorkerLeaseService/Heartbeat": "worker",
  "aiki.v1.WorkerLeaseService/ReleaseLease": "worker",
  "aiki.v1.WorkerLeaseService/SuspendRun": "worker",
  "aiki.v1.WorkerLeaseService/CompleteRun": "worker",
  "aiki.v1.WorkerLeaseService/FailRun": "worker",
  "aiki.v1.WorkerLeaseService/StartChildRun": "worker",
  // Which workers are connected, and the ids of the runs they hold (never lease tokens).
  "aiki.v1.WorkerLeaseService/ListWorkers": "read",
};

/** Services any caller may use without a key: health checks and reflection describe no data. */
const openServices = new Set(["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]);

/** What `service/method` needs; undefined when it is in no table (then it is refused). */
export function accessFor(service: string, method: string): MethodAccess | undefined {
  if (openServices.has(service)) return "open";
  return methodScopes[`${service}/${method}`];
}
