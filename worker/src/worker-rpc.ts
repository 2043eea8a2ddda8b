import type { ClientInternals } from "@aiki/sdk/internal";

/**
 * The calls a worker makes about the runs it holds: fenced writes, heartbeats and releases.
 * Unary RPCs by default; a worker session carries them on its stream.
 */
export interface WorkerRpc {
  tasks: Pick<ClientInternals["tasks"], "startTask" | "completeTask" | "failTask">;
  leases: Pick<ClientInternals["leases"], "suspendRun" | "completeRun" | "failRun" | "startChildRun" | "heartbeat" | "releaseLease">;
  /**
   * The session the calls go over now, if any: calls on one session are ordered for pipelining
   * (a completion naming a StartTask by attempt id is applied after it); unary calls are not.
   */
  channel?: () => object | undefined;
}
