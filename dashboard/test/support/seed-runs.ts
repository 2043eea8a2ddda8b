// Many runs at once for list-size tests and the dashboard benchmark: queued runs of a workflow no
// worker serves, inserted through the store's batch start (1,000 per statement), each with its
// creation transition, as StartRun would have left them.
import type { Kysely } from "kysely";
import type { Database } from "../../../server/src/store/database.js";
import { insertRunsUnlessTaken } from "../../../server/src/store/run-repository.js";
import { uuidV7 } from "../../../server/src/store/uuid-v7.js";

export async function seedQueuedRuns(db: Kysely<Database>, count: number, workflowName: string, workflowVersionId = "1"): Promise<void> {
  for (let done = 0; done < count; done += 1_000) {
    const batch = Array.from({ length: Math.min(1_000, count - done) }, (_, i) => ({
      row: { id: uuidV7(), workflow_name: workflowName, workflow_version_id: workflowVersionId },
      input: { n: done + i },
      retryPolicy: undefined,
      audit: { actor: "client", reason: "seeded" },
    }));
    const inserted = await insertRunsUnlessTaken(db, batch);
    if (inserted.some((r) => r === undefined)) throw new Error("a seeded run was not inserted");
  }
}
