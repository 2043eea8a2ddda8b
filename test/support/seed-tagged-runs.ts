// Many tagged runs at once, for bulk-action tests and the bulk-actions benchmark: queued runs of a
// workflow, inserted through the store's batch start (1,000 per statement), each with its
// creation transition, as StartRun would have left them. Resolves with their ids.
import type { Kysely } from "kysely";
import type { Database } from "../../server/src/store/database.js";
import { insertRunsUnlessTaken, type QueuedRunStart } from "../../server/src/store/run-repository.js";
import { uuidV7 } from "../../server/src/store/uuid-v7.js";

export async function seedTaggedRuns(db: Kysely<Database>, count: number, workflowName: string, tags: Record<string, string>): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1000) {
    const batch: QueuedRunStart[] = Array.from({ length: Math.min(1000, count - i) }, () => ({
      row: { id: uuidV7(), namespace: "default", workflow_name: workflowName, workflow_version_id: "1", shard: "" },
      input: undefined,
      retryPolicy: undefined,
      tags,
      audit: { actor: "client", reason: "seeded" },
    }));
    const rows = await insertRunsUnlessTaken(db, batch);
    if (rows.some((r) => r === undefined)) throw new Error("a seeded run was not inserted");
    ids.push(...rows.map((r) => r!.id));
  }
  return ids;
}
