// The Redis pub/sub channels a worker with `subscriber: { type: "redis" }` listens on. The server
// publishes them (server/src/notify/notifier.ts, `channels.ready`, sent by publishRunChange when a
// run becomes queued); the two formats must stay identical, or Redis-subscribed workers only
// find work through their slow safety poll.

/** The namespace of calls without an API key (the server's `defaultNamespace`, with AIKI_AUTH=off). */
export const defaultNamespace = "default";

/**
 * `aiki:ready:{namespace}:{workflow}:{version}:{shard}`: a run of this workflow version became
 * ready in this shard ("" for unsharded runs). Only the message's arrival counts: it is a hint.
 */
export function readyChannel(workflowName: string, workflowVersionId: string, shard: string, namespace: string = defaultNamespace): string {
  return `aiki:ready:${namespace}:${workflowName}:${workflowVersionId}:${shard}`;
}
