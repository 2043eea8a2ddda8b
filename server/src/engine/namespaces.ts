import { NamespaceExistsError, NamespaceNotEmptyError, NamespaceNotFoundError } from "../domain/auth-errors.js";
import type { NamespaceRow } from "../store/namespaces.table.js";
import type { Db } from "../store/database.js";
import { deleteNamespaceRow, insertNamespace, listNamespaces as listNamespaceRows, lockNamespaceContents } from "../store/namespace-repository.js";
import { storeTransaction } from "../tracing/store-spans.js";

export async function createNamespace(deps: { db: Db }, name: string): Promise<NamespaceRow> {
  const row = await insertNamespace(deps.db, name);
  if (!row) throw new NamespaceExistsError(name);
  return row;
}

export async function listNamespaces(deps: { db: Db }): Promise<NamespaceRow[]> {
  return listNamespaceRows(deps.db);
}

/** Deletes a namespace that holds no runs, schedules or live keys. */
export async function deleteNamespace(deps: { db: Db }, name: string): Promise<void> {
  await storeTransaction(deps.db, "deleteNamespace", undefined, async (trx) => {
    const contents = await lockNamespaceContents(trx, name);
    if (!contents) throw new NamespaceNotFoundError(name);
    const holds = [contents.runs && "runs", contents.schedules && "schedules", contents.liveKeys && "API keys that still work"].filter(
      (h): h is string => typeof h === "string",
    );
    if (holds.length > 0) throw new NamespaceNotEmptyError(name, holds);
    await deleteNamespaceRow(trx, name);
  });
}
