// Proves the test infrastructure is real: migrated Postgres databases that are isolated from each other,
// a Redis that answers and delivers pub/sub, and private servers that can be restarted.
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, describe, expect, inject, test } from "vitest";
import { createTestDatabase, startPrivatePostgres, type TestDatabase } from "./support/database.js";
import { createTestRedis, startPrivateRedis, testRedisUrl } from "./support/redis.js";

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe("postgres", () => {
  const dbs: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(dbs.map((d) => d.destroy()));
  });

  test("global setup provided a Postgres and a template", () => {
    expect(inject("pgAdminUrl")).toMatch(/^postgres(ql)?:\/\//);
    expect(inject("pgTemplate")).toMatch(/^aiki_tpl_/);
  });

  test("a test database is migrated: the runs table exists and is empty", async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    await withClient(db.url, async (c) => {
      const { rows } = await c.query<{ n: string }>("select count(*) as n from runs");
      expect(rows[0]!.n).toBe("0");
      const { rows: dbName } = await c.query<{ d: string }>("select current_database() as d");
      expect(dbName[0]!.d).toBe(db.name);
    });
  });

  test("two test databases are isolated", async () => {
    const [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    dbs.push(a, b);
    expect(a.name).not.toBe(b.name);
    await withClient(a.url, (c) =>
      c.query(
        `insert into runs (id, workflow_name, workflow_version_id, status, revision)
         values ('00000000-0000-0000-0000-000000000001', 'wf', 'v1', 'queued', 1)`,
      ),
    );
    const count = (url: string) => withClient(url, async (c) => (await c.query<{ n: string }>("select count(*) as n from runs")).rows[0]!.n);
    expect(await count(a.url)).toBe("1");
    expect(await count(b.url)).toBe("0");
  });

  test("destroy drops the database even with open connections", async () => {
    const db = await createTestDatabase();
    const open = new pg.Client({ connectionString: db.url });
    open.on("error", () => {}); // terminated by DROP ... WITH (FORCE)
    await open.connect();
    await db.destroy();
    const exists = await withClient(inject("pgAdminUrl"), async (c) => (await c.query("select 1 from pg_database where datname = $1", [db.name])).rowCount);
    expect(exists).toBe(0);
    await open.end().catch(() => {});
  });

  test("an empty database has no tables", async () => {
    const db = await createTestDatabase({ empty: true });
    dbs.push(db);
    const n = await withClient(db.url, async (c) => (await c.query("select 1 from pg_tables where tablename = 'runs'")).rowCount);
    expect(n).toBe(0);
  });

  test("many test databases can be created concurrently", async () => {
    const created = await Promise.all(Array.from({ length: 8 }, () => createTestDatabase()));
    dbs.push(...created);
    expect(new Set(created.map((d) => d.name)).size).toBe(8);
  });

  test("a private Postgres survives a restart and clients can reconnect", async () => {
    const pgp = await startPrivatePostgres();
    try {
      const pool = new pg.Pool({ connectionString: pgp.url, max: 2 });
      pool.on("error", () => {}); // idle clients are killed by the restart
      try {
        await pool.query(
          `insert into runs (id, workflow_name, workflow_version_id, status, revision)
           values ('00000000-0000-0000-0000-000000000002', 'wf', 'v1', 'queued', 1)`,
        );
        await pgp.restart("immediate");
        const { rows } = await pool.query<{ n: string }>("select count(*) as n from runs");
        expect(rows[0]!.n).toBe("1");
        await pgp.stop();
        await expect(pool.query("select 1")).rejects.toThrow();
        await pgp.start();
        expect((await pool.query("select 1 as one")).rows[0].one).toBe(1);
      } finally {
        await pool.end();
      }
    } finally {
      await pgp.destroy();
    }
  });
});

describe("redis", () => {
  test("answers PING", async () => {
    const r = new Redis(testRedisUrl());
    try {
      expect(await r.ping()).toBe("PONG");
    } finally {
      r.disconnect();
    }
  });

  test("pub/sub delivers a message", async () => {
    const t = createTestRedis();
    try {
      const sub = t.connect();
      const pub = t.connect();
      const channel = `${t.prefix}events`;
      const received = new Promise<[string, string]>((resolve) => sub.on("message", (ch: string, msg: string) => resolve([ch, msg])));
      await sub.subscribe(channel);
      expect(await pub.publish(channel, "hello")).toBe(1);
      expect(await received).toEqual([channel, "hello"]);
    } finally {
      await t.destroy();
    }
  });

  test("createTestRedis cleans up its keys", async () => {
    const t = createTestRedis();
    const c = t.connect();
    await c.set(`${t.prefix}a`, "1");
    await c.set(`${t.prefix}b`, "2");
    await t.destroy();
    const check = new Redis(testRedisUrl());
    try {
      expect(await check.keys(`${t.prefix}*`)).toEqual([]);
    } finally {
      check.disconnect();
    }
  });

  test("a private Redis can be stopped and started again on the same port", async () => {
    const r = await startPrivateRedis();
    try {
      const c = new Redis(r.url, { maxRetriesPerRequest: null, retryStrategy: () => 20 });
      c.on("error", () => {}); // connection refused while it is down
      try {
        expect(await c.ping()).toBe("PONG");
        await r.restart();
        expect(await c.ping()).toBe("PONG");
      } finally {
        c.disconnect();
      }
    } finally {
      await r.destroy();
    }
  });
});
