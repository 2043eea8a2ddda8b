// `aiki namespaces` and `aiki keys` end to end (bin/aiki.js in a child process) against a real
// server with AIKI_AUTH=on: the first admin key written to the database directly, then
// namespaces and keys through the server with --api-key / AIKI_API_KEY, and a revoked key refused.
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../test/support/aiki-cli.js";
import type { TestAiki } from "../../test/support/aiki-server.js";
import { useTestAiki } from "../../test/support/use-test-aiki.js";

const h = useTestAiki({ auth: {} });
let aiki: TestAiki;

beforeAll(async () => {
  aiki = h.aiki;
});

const aikiCli = (args: string[], env: Record<string, string> = {}) => runCli(args, { env: { AIKI_URL: aiki.url, ...env } });
const keyPattern = /^aiki_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/;

describe("aiki namespaces and keys", () => {
  // A dozen CLI processes, each a few seconds on a loaded machine.
  it("bootstraps an admin key in the database, then manages namespaces and keys through the server", { timeout: 180_000 }, async () => {
    const refused = await aikiCli(["namespaces", "list"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("no API key");
    expect(refused.stderr).toContain("--api-key or AIKI_API_KEY");

    const boot = await aikiCli(["keys", "create", "--database", "--namespace", "default", "--scope", "admin", "--description", "first"], {
      DATABASE_URL: aiki.database.url,
    });
    expect(boot.stderr).toContain("not shown again");
    expect(boot.code).toBe(0);
    const adminKey = boot.stdout.trim();
    expect(adminKey).toMatch(keyPattern);

    expect((await aikiCli(["namespaces", "create", "Team-X", "--api-key", adminKey])).code).toBe(2);
    const created = await aikiCli(["namespaces", "create", "team-x", "--api-key", adminKey]);
    expect(created.stdout).toContain("namespace team-x created");
    const listed = await aikiCli(["namespaces", "list"], { AIKI_API_KEY: adminKey });
    expect(listed.stdout).toMatch(/^default\s/m);
    expect(listed.stdout).toMatch(/^team-x\s/m);

    const made = await aikiCli(["keys", "create", "--namespace", "team-x", "--scope", "client", "--scope", "read", "--ttl", "720h", "--json"], {
      AIKI_API_KEY: adminKey,
    });
    expect(made.code).toBe(0);
    const { key, secret } = JSON.parse(made.stdout) as { key: { id: string; prefix: string; scopes: string[] }; secret: string };
    expect(secret).toMatch(keyPattern);
    expect(key.scopes).toEqual(["API_KEY_SCOPE_CLIENT", "API_KEY_SCOPE_READ"]);

    const keys = await aikiCli(["keys", "list", "--namespace", "team-x"], { AIKI_API_KEY: adminKey });
    expect(keys.stdout).toContain(key.prefix);
    expect(keys.stdout).toContain("client,read");
    expect(keys.stdout).not.toContain(secret.slice(14));

    // The client key reads its own namespace, and may not manage keys.
    expect((await aikiCli(["workers", "list", "--api-key", secret])).stdout).toContain("No workers seen recently.");
    const denied = await aikiCli(["keys", "list", "--api-key", secret]);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('needs scope "admin"');

    const revoked = await aikiCli(["keys", "revoke", key.id], { AIKI_API_KEY: adminKey });
    expect(revoked.stdout).toContain(`key ${key.id} (${key.prefix}) revoked`);
    const after = await aikiCli(["workers", "list", "--api-key", secret]);
    expect(after.code).toBe(1);
    expect(after.stderr).toContain("revoked");
    expect((await aikiCli(["keys", "list", "--namespace", "team-x"], { AIKI_API_KEY: adminKey })).stdout).toContain("No API keys.");
  });
});
