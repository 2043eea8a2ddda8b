/**
 * Hints that something changed ("run X moved", "work is ready for Y"). A hint may be lost or
 * duplicated; whoever listens re-reads the database, which is the truth, and also re-reads on a
 * slow timer so a lost hint costs latency, never correctness.
 */
export interface Notifier {
  /** Publishes a hint; never throws (a lost hint is tolerated by design). */
  publish(channel: string, message?: string): void;
  /** Listens on a channel until the returned function is called. */
  subscribe(channel: string, listener: (message: string) => void): () => void;
  close(): Promise<void>;
}

export const channels = {
  /** A timer was added; timer loops re-read their next due time. */
  timers: "aiki:timers",
  /** A run's status changed; the message is its new status. */
  run: (namespace: string, runId: string) => `aiki:run:${namespace}:${runId}`,
  /** A run of this namespace was created or changed status; the message is its id. */
  runs: (namespace: string) => `aiki:runs:${namespace}`,
  /** A run's history grew without a status change (a task recorded, a wait resolved, an event stored). */
  runHistory: (namespace: string, runId: string) => `aiki:run-history:${namespace}:${runId}`,
  /** A lease held by this worker ended (its run was suspended, finished, released, paused or cancelled). */
  worker: (namespace: string, workerId: string) => `aiki:worker:${namespace}:${workerId}`,
  /** A run became ready for workers of this workflow version and shard. */
  ready: (namespace: string, workflowName: string, workflowVersionId: string, shard: string) =>
    `aiki:ready:${namespace}:${workflowName}:${workflowVersionId}:${shard}`,
  /** A batch operation was started (the message is its id): a replica's batch loop takes it at once. */
  batchOperations: "aiki:batch-operations",
  /** An API key was revoked (the message is its id): every replica forgets it and closes its streams. */
  apiKeyRevoked: "aiki:api-key-revoked",
};
