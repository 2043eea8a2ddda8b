import type { ColumnType, Selectable } from "kysely";

type Time = ColumnType<Date, Date | undefined, Date>;
type NullableTime = ColumnType<Date | null, Date | null | undefined, Date | null>;

export type ApiKeyScope = "admin" | "client" | "worker" | "read";

export interface ApiKeysTable {
  id: ColumnType<string, string, never>;
  prefix: ColumnType<string, string, never>;
  /** sha256 of the whole key, hex. */
  secret_hash: ColumnType<string, string, string>;
  namespace: ColumnType<string, string, never>;
  scopes: ColumnType<ApiKeyScope[], ApiKeyScope[], ApiKeyScope[]>;
  description: ColumnType<string, string | undefined, string>;
  create_time: Time;
  expire_time: NullableTime;
  revoke_time: NullableTime;
  last_used_time: NullableTime;
}
export type ApiKeyRow = Selectable<ApiKeysTable>;
