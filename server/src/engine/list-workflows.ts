import { listWorkflowVersions } from "../store/workflow-repository.js";
import type { EngineDeps } from "./engine-deps.js";

export interface WorkflowVersionSummary {
  workflowName: string;
  workflowVersionId: string;
  runCount: number;
  lastCreateTime: Date | undefined;
  workerCount: number;
  scheduleCount: number;
}

// As ListWorkers: a worker counts as serving a version while it was seen in this window.
const workersWithinMs = 5 * 60_000;

/** The workflow versions a namespace knows, from its runs, its live workers and its schedules. */
export async function listWorkflows(deps: EngineDeps, namespace: string): Promise<WorkflowVersionSummary[]> {
  const rows = await listWorkflowVersions(deps.db, namespace, workersWithinMs);
  return rows.map((r) => ({
    workflowName: r.workflow_name,
    workflowVersionId: r.workflow_version_id,
    runCount: Number(r.run_count),
    lastCreateTime: r.last_create_time ?? undefined,
    workerCount: r.worker_count,
    scheduleCount: r.schedule_count,
  }));
}
