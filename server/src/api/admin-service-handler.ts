import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { type ApiKey, ApiKeySchema, ApiKeyScope as PbScope, AdminService, type Namespace, NamespaceSchema } from "@aiki/gen/aiki/v1/admin_service_pb";
import { type ApiKeyScope, namespacePattern } from "../domain/api-key-format.js";
import { createApiKey, listApiKeys, revokeApiKey } from "../engine/api-keys.js";
import type { EngineDeps } from "../engine/engine-deps.js";
import { createNamespace, deleteNamespace, listNamespaces } from "../engine/namespaces.js";
import { purgeRuns } from "../engine/purge-runs.js";
import type { ApiKeyRow } from "../store/api-keys.table.js";
import type { NamespaceRow } from "../store/namespaces.table.js";
import { defaultNamespace, identityOf } from "./call-namespace.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { Violations } from "./validation.js";

const maxKeyTtlMs = 10 * 366 * 24 * 3600_000;
const defaultPurgeTrees = 10_000;
const maxPurgeTrees = 100_000;

export const scopeToPb: Record<ApiKeyScope, PbScope> = {
  admin: PbScope.ADMIN,
  client: PbScope.CLIENT,
  worker: PbScope.WORKER,
  read: PbScope.READ,
};
const scopeFromPb = new Map<PbScope, ApiKeyScope>(Object.entries(scopeToPb).map(([k, v]) => [v, k as ApiKeyScope]));

/** AdminService: proto <-> engine mapping and request validation only. */
export function registerAdminService(router: ConnectRouter, deps: EngineDeps, options: { authEnabled: boolean }): void {
  router.service(AdminService, {
    async createNamespace(req) {
      const v = new Violations();
      namespaceName(v, "name", req.name);
      v.throwIfAny();
      return { namespace: namespaceToPb(await createNamespace(deps, req.name)) };
    },

    async listNamespaces() {
      return { namespaces: (await listNamespaces(deps)).map(namespaceToPb) };
    },

    async deleteNamespace(req) {
      const v = new Violations();
      namespaceName(v, "name", req.name);
      if (req.name === defaultNamespace) v.add("name", `the "${defaultNamespace}" namespace cannot be deleted`);
      v.throwIfAny();
      await deleteNamespace(deps, req.name);
      return {};
    },

    async createApiKey(req) {
      const v = new Violations();
      namespaceName(v, "namespace", req.namespace);
      if (req.scopes.length === 0) v.add("scopes", "must name at least one scope");
      const scopes = req.scopes.map((s, i) => {
        const scope = scopeFromPb.get(s);
        if (!scope) v.add(`scopes[${i}]`, s === PbScope.UNSPECIFIED ? "must not be API_KEY_SCOPE_UNSPECIFIED" : `unknown scope ${s}`);
        return scope;
      });
      if (req.description.length > 256) v.add("description", "must be at most 256 characters");
      // biome-ignore lint: control characters are exactly what we reject
      else if (/[\u0000-\u001f\u007f]/.test(req.description)) v.add("description", "must not contain control characters");
      const ttlMs = v.durationMs("ttl", req.ttl, { positive: true });
      if (ttlMs !== undefined && ttlMs > maxKeyTtlMs) v.add("ttl", "must be at most 10 years");
      v.throwIfAny();
      const { row, secret } = await createApiKey(deps, {
        namespace: req.namespace,
        scopes: scopes.filter((s) => s !== undefined),
        description: req.description,
        ttlMs,
      });
      return { key: apiKeyToPb(row), secret };
    },

    async listApiKeys(req) {
      const v = new Violations();
      if (req.namespace !== "") namespaceName(v, "namespace", req.namespace);
      v.throwIfAny();
      const rows = await listApiKeys(deps, { namespace: req.namespace || undefined, includeInactive: req.includeInactive });
      return { keys: rows.map(apiKeyToPb) };
    },

    async revokeApiKey(req) {
      const v = new Violations();
      v.uuid("id", req.id);
      v.throwIfAny();
      return { key: apiKeyToPb(await revokeApiKey(deps, req.id.toLowerCase())) };
    },

    async purgeRuns(req, ctx) {
      const v = new Violations();
      const namespace = req.namespace || identityOf(ctx).namespace;
      namespaceName(v, "namespace", namespace);
      const before = v.timestamp("finished_before", req.finishedBefore);
      if (!req.finishedBefore) v.add("finished_before", "is required");
      else if (before && before.getTime() > Date.now()) v.add("finished_before", "must not be in the future");
      if (req.maxRuns < 0 || req.maxRuns > maxPurgeTrees) v.add("max_runs", `must be between 1 and ${maxPurgeTrees} (0: ${defaultPurgeTrees})`);
      // A token only continues the purge it came from.
      const tokenKey = `purge:${namespace}:${before?.toISOString()}:${req.dryRun}`;
      const position = decodePageToken(v, "page_token", req.pageToken, tokenKey, "purge");
      v.throwIfAny();
      const after = position ? { endTime: position.slice(0, position.indexOf("|")), id: position.slice(position.indexOf("|") + 1) } : undefined;
      const result = await purgeRuns(deps, { namespace, before: before!, dryRun: req.dryRun, maxTrees: req.maxRuns || defaultPurgeTrees, after });
      return {
        purgedRuns: BigInt(result.runs),
        purgedTrees: BigInt(result.trees),
        nextPageToken: encodePageToken(result.next && `${result.next.endTime}|${result.next.id}`, tokenKey),
      };
    },

    async whoAmI(_req, ctx) {
      const identity = identityOf(ctx);
      return {
        namespace: identity.namespace,
        scopes: identity.scopes.map((s) => scopeToPb[s]),
        keyId: identity.keyId ?? "",
        authEnabled: options.authEnabled,
      };
    },
  });
}

function namespaceName(v: Violations, field: string, name: string): void {
  if (name === "") v.add(field, "is required");
  else if (!namespacePattern.test(name)) {
    v.add(field, "must be 1 to 64 characters of a-z, 0-9, _ and -, starting with a letter or digit (upper case is refused)");
  }
}

export function namespaceToPb(row: NamespaceRow): Namespace {
  return create(NamespaceSchema, { name: row.name, createTime: timestampFromDate(row.create_time) });
}

export function apiKeyToPb(row: ApiKeyRow): ApiKey {
  return create(ApiKeySchema, {
    id: row.id,
    prefix: row.prefix,
    namespace: row.namespace,
    scopes: row.scopes.map((s) => scopeToPb[s]),
    description: row.description,
    createTime: timestampFromDate(row.create_time),
    expireTime: row.expire_time ? timestampFromDate(row.expire_time) : undefined,
    revokeTime: row.revoke_time ? timestampFromDate(row.revoke_time) : undefined,
    lastUsedTime: row.last_used_time ? timestampFromDate(row.last_used_time) : undefined,
  });
}
