import { CreateNamespaceResponseSchema, ListNamespacesResponseSchema } from "@aiki/gen/aiki/v1/admin_service_pb";
import { namespacePattern } from "@aiki/server/api-key-format";
import { UsageError } from "../cli-error.js";
import type { Command } from "../command.js";
import { withDirectStore } from "../direct-store.js";
import { formatTime, printJson, printTable, println } from "../output.js";

const databaseHelp = ["--database", "act on the database in DATABASE_URL (else the embedded store in AIKI_DATA_DIR) instead of calling the server"] as const;

export const namespacesCreate: Command = {
  words: ["namespaces", "create"],
  summary: "Create a namespace (needs an admin key)",
  args: ["NAME"],
  options: { database: { type: "boolean" } },
  optionHelp: [databaseHelp],
  notes: "A name is 1 to 64 characters of a-z, 0-9, _ and -, starting with a letter or digit.",
  async run(ctx) {
    const name = ctx.args[0]!;
    if (!namespacePattern.test(name))
      throw new UsageError(`NAME must be 1 to 64 characters of a-z, 0-9, _ and -, starting with a letter or digit (got "${name}")`);
    const res =
      ctx.values.database === true
        ? {
            namespace: await withDirectStore(ctx.env, async (db) => {
              // Loaded only here: the server's code is not every command's start-up cost.
              const { createNamespace, namespaceToPb } = await import("@aiki/server/provisioning");
              return namespaceToPb(await createNamespace({ db }, name));
            }),
          }
        : await ctx.clients().admin.createNamespace({ name });
    if (ctx.json) return printJson(ctx.out, CreateNamespaceResponseSchema, res as never);
    println(ctx.out.stdout, `namespace ${res.namespace!.name} created`);
  },
};

export const namespacesList: Command = {
  words: ["namespaces", "list"],
  summary: "List namespaces (needs an admin key)",
  args: [],
  options: {},
  optionHelp: [],
  async run(ctx) {
    const res = await ctx.clients().admin.listNamespaces({});
    if (ctx.json) return printJson(ctx.out, ListNamespacesResponseSchema, res);
    printTable(
      ctx.out,
      ["NAME", "CREATED"],
      res.namespaces.map((n) => [n.name, formatTime(n.createTime)]),
    );
  },
};
