import { context, trace } from "@opentelemetry/api";
import type { CompiledQuery, DatabaseConnection, Dialect } from "kysely";
import { inStoreSpan, traceStore } from "./store-spans.js";

/**
 * The dialect, with a store span for each statement run alone for a traced call (one outside a
 * storeTransaction or batch, which have their span already). Untraced, a statement pays a look
 * at the active context, which is the root when no context manager is installed.
 */
export function tracedDialect(inner: Dialect): Dialect {
  return {
    createAdapter: () => inner.createAdapter(),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createIntrospector: (db) => inner.createIntrospector(db),
    createDriver: () => {
      const driver = inner.createDriver();
      const acquire = driver.acquireConnection.bind(driver);
      const traced = new WeakSet<DatabaseConnection>();
      driver.acquireConnection = async () => {
        const connection = await acquire();
        // Drivers hand out the same connection object for a pooled client again: patch it once.
        if (!traced.has(connection)) {
          traced.add(connection);
          const execute = connection.executeQuery.bind(connection);
          connection.executeQuery = (query) => {
            const active = context.active();
            if (active.getValue(inStoreSpan) !== undefined || !trace.getSpan(active)?.isRecording()) return execute(query);
            return traceStore(operationOf(query), () => execute(query));
          };
        }
        return connection;
      };
      return driver;
    },
  };
}

const operations: Record<string, string> = {
  SelectQueryNode: "select",
  InsertQueryNode: "insert",
  UpdateQueryNode: "update",
  DeleteQueryNode: "delete",
  MergeQueryNode: "merge",
};

/** The statement's verb: the query node's kind, or a raw statement's first word. */
function operationOf(query: CompiledQuery): string {
  return operations[query.query.kind] ?? /^\s*(\w+)/.exec(query.sql)?.[1]?.toLowerCase() ?? "statement";
}
