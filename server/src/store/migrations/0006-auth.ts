import { type Kysely, sql } from "kysely";

// Frozen once landed: later changes go in a new migration file.
// Namespaces and API keys (AIKI_AUTH=on). A key's secret is never stored: only its SHA-256.

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("namespaces")
    .addColumn("name", "text", (c) => c.primaryKey().check(sql`name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'`))
    .addColumn("create_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`insert into namespaces (name) values ('default')`.execute(db);

  await db.schema
    .createTable("api_keys")
    .addColumn("id", "uuid", (c) => c.primaryKey())
    // The non-secret start of the key ("aiki_3fa9c2d1"): how a presented key is found.
    .addColumn("prefix", "text", (c) => c.notNull().unique())
    // sha256 of the whole key (hex); the key itself is shown once and never stored.
    .addColumn("secret_hash", "text", (c) => c.notNull())
    .addColumn("namespace", "text", (c) => c.notNull().references("namespaces.name"))
    .addColumn("scopes", sql`text[]`, (c) => c.notNull().check(sql`cardinality(scopes) > 0 and scopes <@ array['admin','client','worker','read']`))
    .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("create_time", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expire_time", "timestamptz")
    .addColumn("revoke_time", "timestamptz")
    .addColumn("last_used_time", "timestamptz")
    .execute();
  await db.schema.createIndex("api_keys_namespace_idx").on("api_keys").columns(["namespace", "create_time"]).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable("api_keys").execute();
  await db.schema.dropTable("namespaces").execute();
}
