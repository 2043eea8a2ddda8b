import type { ColumnType, Selectable } from "kysely";

type Time = ColumnType<Date, Date | undefined, Date>;

export interface NamespacesTable {
  name: ColumnType<string, string, never>;
  create_time: Time;
}
export type NamespaceRow = Selectable<NamespacesTable>;
