import type { ConnectRouter } from "@connectrpc/connect";
import { BatchService } from "@aiki/gen/aiki/v1/batch_service_pb";
import { type BatchSelection, cancelBatchOperation, getBatchOperation, queryBatchOperations, startBatchOperation } from "../engine/batch-operations.js";
import type { EngineDeps } from "../engine/engine-deps.js";
import { defaultLimits } from "../limits.js";
import { batchActionFromPb, batchOperationToPb, batchStatusFromPb } from "./batch-mapping.js";
import { identityOf, namespaceOf } from "./call-namespace.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { parseRunFilter } from "./run-filter.js";
import { Violations } from "./validation.js";

/** BatchService: proto <-> engine mapping and request validation only. */
export function registerBatchService(router: ConnectRouter, deps: EngineDeps): void {
  const limits = deps.limits ?? defaultLimits;
  router.service(BatchService, {
    async startBatchOperation(req, ctx) {
      const v = new Violations(limits);
      v.identifier("request_id", req.requestId, false);
      v.text("description", req.description);
      let selection: BatchSelection | undefined;
      if (req.selection.case === "filter") selection = { filter: parseRunFilter(v, "filter.", req.selection.value) };
      else if (req.selection.case === "runIds") {
        const given = req.selection.value.ids;
        if (given.length === 0) v.add("run_ids.ids", "is required");
        v.count("run_ids.ids", "maxBatchRunIds", given.length);
        selection = { runIds: given.length > limits.maxBatchRunIds ? [] : given.map((id, i) => v.uuid(`run_ids.ids[${i}]`, id)) };
      } else v.add("selection", "must be filter or run_ids");
      const action = batchActionFromPb(v, "action", req.action);
      if (req.rate < 0) v.add("rate", "must not be negative");
      else if (req.rate > limits.batchMaxRate) v.overLimit("rate", "batchMaxRate", req.rate, "runs per second");
      v.throwIfAny();
      const identity = identityOf(ctx);
      const { operation, matching, existing } = await startBatchOperation(deps, {
        namespace: namespaceOf(ctx),
        requestId: req.requestId || undefined,
        selection: selection!,
        action: action!,
        dryRun: req.dryRun,
        rate: req.rate === 0 ? Math.min(limits.batchRate, limits.batchMaxRate) : req.rate,
        description: req.description,
        requestedBy: identity.keyId ? `key:${identity.keyId}` : "client",
      });
      return { operation: operation && batchOperationToPb(operation), matching: BigInt(matching), existing };
    },

    async getBatchOperation(req, ctx) {
      const v = new Violations(limits);
      const id = v.uuid("operation_id", req.operationId);
      v.throwIfAny();
      return { operation: batchOperationToPb(await getBatchOperation(deps, namespaceOf(ctx), id)) };
    },

    async listBatchOperations(req, ctx) {
      const v = new Violations(limits);
      const status = batchStatusFromPb(v, "status", req.status);
      const size = v.pageSize("page_size", req.pageSize);
      const filterKey = status ?? "";
      const afterId = decodePageToken(v, "page_token", req.pageToken, filterKey);
      v.throwIfAny();
      const page = await queryBatchOperations(deps, namespaceOf(ctx), { status, afterId, size });
      return { operations: page.items.map(batchOperationToPb), nextPageToken: encodePageToken(page.after, filterKey) };
    },

    async cancelBatchOperation(req, ctx) {
      const v = new Violations(limits);
      const id = v.uuid("operation_id", req.operationId);
      v.text("reason", req.reason);
      v.throwIfAny();
      return { operation: batchOperationToPb(await cancelBatchOperation(deps, namespaceOf(ctx), id, req.reason || undefined)) };
    },
  });
}
