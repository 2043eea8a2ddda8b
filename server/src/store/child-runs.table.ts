import type { Selectable } from "kysely";
import type { Namespace, Time } from "./column-types.js";

export interface ChildRunsTable {
  namespace: Namespace;
  parent_run_id: string;
  key: string;
  sequence: number;
  child_run_id: string;
  workflow_name: string;
  workflow_version_id: string;
  create_time: Time;
}
export type ChildRunRow = Selectable<ChildRunsTable>;
