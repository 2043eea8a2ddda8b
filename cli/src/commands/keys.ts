import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  type ApiKey,
  ApiKeyScope,
  CreateApiKeyResponseSchema,
  ListApiKeysResponseSchema,
  RevokeApiKeyResponseSchema,
} from "@aiki/gen/aiki/v1/admin_service_pb";
import type { ApiKeyScope as ScopeName } from "@aiki/server/api-key-format";
import { UsageError } from "../cli-error.js";
import { type Command, stringOption, stringsOption } from "../command.js";
import { withDirectStore } from "../direct-store.js";
import { parseDuration } from "../durations.js";
import { formatTime, printJson, printTable, println } from "../output.js";

const scopes: Record<ScopeName, ApiKeyScope> = {
  admin: ApiKeyScope.ADMIN,
  client: ApiKeyScope.CLIENT,
  worker: ApiKeyScope.WORKER,
  read: ApiKeyScope.READ,
};
const scopeNames = new Map(Object.entries(scopes).map(([name, scope]) => [scope, name]));
const showScopes = (k: ApiKey) => k.scopes.map((s) => scopeNames.get(s) ?? String(s)).join(",");

export const keysCreate: Command = {
  words: ["keys", "create"],
  summary: "Create an API key; its secret is printed once, here, and stored nowhere",
  args: [],
  options: {
    namespace: { type: "string" },
    scope: { type: "string", multiple: true },
    description: { type: "string" },
    ttl: { type: "string" },
    database: { type: "boolean" },
  },
  optionHelp: [
    ["--namespace NS", "the namespace its calls act in (required)"],
    ["--scope S", "admin, client, worker or read; repeat for several (at least one)"],
    ["--description D", "what the key is for"],
    ["--ttl DURATION", "lifetime, e.g. 720h (default: no expiry)"],
    ["--database", "write to the database in DATABASE_URL (else the embedded store in AIKI_DATA_DIR) instead of calling the server: the first admin key"],
  ],
  notes: `The first key, before any key exists:
  DATABASE_URL=postgres://… aiki keys create --database --namespace default --scope admin`,
  async run(ctx) {
    const namespace = stringOption(ctx, "namespace");
    if (namespace === undefined) throw new UsageError("--namespace is required");
    const names = stringsOption(ctx, "scope").flatMap((s) => s.split(","));
    if (names.length === 0) throw new UsageError("--scope is required (admin, client, worker or read)");
    for (const n of names) if (!(n in scopes)) throw new UsageError(`--scope must be admin, client, worker or read (got "${n}")`);
    const ttl = stringOption(ctx, "ttl");
    const ttlMs = ttl === undefined ? undefined : parseDuration(ttl, "--ttl");
    const description = stringOption(ctx, "description") ?? "";
    const res =
      ctx.values.database === true
        ? await withDirectStore(ctx.env, async (db) => {
            // Loaded only here: the server's code is not every command's start-up cost.
            const { apiKeyToPb, createApiKey } = await import("@aiki/server/provisioning");
            const made = await createApiKey({ db }, { namespace, scopes: names as ScopeName[], description, ttlMs });
            return create(CreateApiKeyResponseSchema, { key: apiKeyToPb(made.row), secret: made.secret });
          })
        : await ctx.clients().admin.createApiKey({
            namespace,
            scopes: names.map((n) => scopes[n as ScopeName]),
            description,
            ttl: ttlMs === undefined ? undefined : durationFromMs(ttlMs),
          });
    if (ctx.json) return printJson(ctx.out, CreateApiKeyResponseSchema, res);
    println(ctx.out.stdout, res.secret);
    println(
      ctx.out.stderr,
      `key ${res.key!.id} (${res.key!.prefix}, namespace ${res.key!.namespace}, ${showScopes(res.key!)}): keep the secret above, it is not shown again`,
    );
  },
};

export const keysList: Command = {
  words: ["keys", "list"],
  summary: "List API keys (never their secrets)",
  args: [],
  options: { namespace: { type: "string" }, all: { type: "boolean" } },
  optionHelp: [
    ["--namespace NS", "only this namespace's keys"],
    ["--all", "include revoked and expired keys"],
  ],
  async run(ctx) {
    const res = await ctx.clients().admin.listApiKeys({ namespace: stringOption(ctx, "namespace") ?? "", includeInactive: ctx.values.all === true });
    if (ctx.json) return printJson(ctx.out, ListApiKeysResponseSchema, res);
    if (res.keys.length === 0) return println(ctx.out.stdout, "No API keys.");
    printTable(
      ctx.out,
      ["ID", "PREFIX", "NAMESPACE", "SCOPES", "DESCRIPTION", "CREATED", "EXPIRES", "REVOKED", "LAST USED"],
      res.keys.map((k) => [
        k.id,
        k.prefix,
        k.namespace,
        showScopes(k),
        k.description || "-",
        formatTime(k.createTime),
        k.expireTime ? formatTime(k.expireTime) : "-",
        k.revokeTime ? formatTime(k.revokeTime) : "-",
        k.lastUsedTime ? formatTime(k.lastUsedTime) : "-",
      ]),
    );
  },
};

export const keysRevoke: Command = {
  words: ["keys", "revoke"],
  summary: "Revoke an API key: every server refuses it within seconds and closes its streams",
  args: ["KEY_ID"],
  options: {},
  optionHelp: [],
  async run(ctx) {
    const res = await ctx.clients().admin.revokeApiKey({ id: ctx.args[0]! });
    if (ctx.json) return printJson(ctx.out, RevokeApiKeyResponseSchema, res);
    println(ctx.out.stdout, `key ${res.key!.id} (${res.key!.prefix}) revoked`);
  },
};
