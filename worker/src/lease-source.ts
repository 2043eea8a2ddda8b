import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type { Lease } from "@aiki/gen/aiki/v1/worker_lease_service_pb";
import type { Client, Logger } from "@aiki/sdk";
import { Backoff, clientInternals, isTransientRpcError } from "@aiki/sdk/internal";
import type { ResolvedWorkerOptions } from "./worker-options.js";

/** What a lease source sees of the worker it feeds. */
export interface WorkerSlots {
  readonly workerId: string;
  readonly client: Client;
  readonly options: ResolvedWorkerOptions;
  readonly logger: Logger;
  /** Leases held: executions running plus leases waiting for a slot. */
  held(): number;
  holds(runId: string): boolean;
  /**
   * Slots free for new runs: maxConcurrentWorkflowRuns - held(), plus the slots of executions
   * that run no more code until their completion or suspension is answered (they may take the
   * next run meanwhile; their leases end once the server has that write).
   */
  free(): number;
  /** Resolves once a slot frees (free() grows), or when the signal aborts. */
  slotFreed(signal: AbortSignal): Promise<void>;
  /** Calls `listener` whenever a slot frees, until the returned function is called. */
  onSlotFreed(listener: () => void): () => void;
  /**
   * Takes a lease: starts it when a slot is free, else keeps it (heartbeated) until one frees;
   * releases it when the worker is stopping.
   */
  accept(lease: Lease): void;
}

/** A way of getting leases; `run` feeds `slots.accept` until the signal aborts or the client closes. */
export interface LeaseSource {
  run(signal: AbortSignal): Promise<void>;
  /** Called last when the worker stops, after its executions ended: release what run() kept open. */
  close?(): Promise<void>;
}

/** The worker's identity fields of PollLeases and StreamLeases. */
export function workerFields(slots: WorkerSlots) {
  return {
    workerId: slots.workerId,
    workerName: slots.options.name,
    workflows: [...slots.options.versions.values()].map((v) => ({ workflowName: v.name, workflowVersionId: v.versionId })),
    shards: slots.options.shards,
    leaseTtl: durationFromMs(slots.options.leaseTtlMs),
  };
}

export function clientClosed(slots: WorkerSlots): boolean {
  return clientInternals(slots.client).closeSignal.aborted;
}

export function warnClientClosed(slots: WorkerSlots): void {
  slots.logger.warn("the client was closed before the worker was stopped; the worker stops taking work");
}

// How much longer than the poll's own wait the call may take before the worker gives up on it.
const pollGraceMs = 15_000;

export type PollResult = { kind: "leases"; leases: Lease[] } | { kind: "failed" } | { kind: "stopped" };

/**
 * One PollLeases call for up to `max` leases, waiting up to `waitMs` for the first. Errors are
 * logged; the caller backs off.
 */
export async function pollOnce(slots: WorkerSlots, max: number, waitMs: number, signal: AbortSignal): Promise<PollResult> {
  try {
    const response = await clientInternals(slots.client).leases.pollLeases(
      { ...workerFields(slots), maxLeases: max, wait: durationFromMs(waitMs) },
      { signal, timeoutMs: waitMs + pollGraceMs },
    );
    return { kind: "leases", leases: response.leases };
  } catch (error) {
    if (signal.aborted) return { kind: "stopped" };
    if (clientClosed(slots)) {
      warnClientClosed(slots);
      return { kind: "stopped" };
    }
    if (isTransientRpcError(error, signal)) slots.logger.warn("polling for leases failed; retrying", { err: error });
    else slots.logger.error("polling for leases was refused; retrying", { err: error });
    return { kind: "failed" };
  }
}

/**
 * The long-poll loop: whenever a slot is free, one PollLeases call for all free slots, waiting up
 * to `pollWaitMs`. Runs until the signal aborts, the client closes (returns "stopped"), or
 * `untilMs` (a Date.now() value) passes (returns "expired").
 */
export async function longPoll(slots: WorkerSlots, signal: AbortSignal, untilMs = Number.POSITIVE_INFINITY): Promise<"stopped" | "expired"> {
  const backoff = new Backoff(100, 2_000);
  while (!signal.aborted) {
    const left = untilMs - Date.now();
    if (left <= 0) return "expired";
    const free = slots.free();
    if (free <= 0) {
      await slots.slotFreed(signal);
      continue;
    }
    const result = await pollOnce(slots, Math.min(free, 1000), Math.min(slots.options.pollWaitMs, left), signal);
    if (result.kind === "stopped") return "stopped";
    if (result.kind === "failed") {
      await backoff.wait(signal);
      continue;
    }
    backoff.reset();
    for (const lease of result.leases) slots.accept(lease);
  }
  return "stopped";
}
