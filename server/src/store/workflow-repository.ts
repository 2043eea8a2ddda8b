import { type Kysely, sql } from "kysely";
import type { Database } from "./database.js";

export interface WorkflowVersionRow {
  workflow_name: string;
  workflow_version_id: string;
  run_count: string;
  last_create_time: Date | null;
  worker_count: number;
  schedule_count: number;
}

/**
 * Every workflow version a namespace knows, in one statement: those with runs, those a worker
 * seen within `workersWithinMs` serves, and those a schedule starts.
 */
export async function listWorkflowVersions(db: Kysely<Database>, namespace: string, workersWithinMs: number): Promise<WorkflowVersionRow[]> {
  const { rows } = await sql<WorkflowVersionRow>`
    with r as (
      select workflow_name, workflow_version_id, count(*) as run_count, max(create_time) as last_create_time
      from runs where namespace = ${namespace}
      group by workflow_name, workflow_version_id
    ),
    w as (
      select v->>'workflowName' as workflow_name, v->>'workflowVersionId' as workflow_version_id, count(distinct workers.id)::int as worker_count
      from workers cross join lateral jsonb_array_elements(workers.workflows) as v
      where namespace = ${namespace} and last_seen_time > now() - make_interval(secs => ${workersWithinMs / 1000})
      group by 1, 2
    ),
    s as (
      select workflow_name, workflow_version_id, count(*)::int as schedule_count
      from schedules where namespace = ${namespace}
      group by workflow_name, workflow_version_id
    )
    select workflow_name, workflow_version_id,
      coalesce(r.run_count, 0) as run_count, r.last_create_time,
      coalesce(w.worker_count, 0) as worker_count, coalesce(s.schedule_count, 0) as schedule_count
    from r full join w using (workflow_name, workflow_version_id) full join s using (workflow_name, workflow_version_id)
    order by workflow_name, workflow_version_id
  `.execute(db);
  return rows;
}
