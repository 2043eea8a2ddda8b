// W0: the Postgres ceiling. pgbench on the same Postgres: per transaction one INSERT plus one
// UPDATE of a row by primary key (a step checkpoint), 16 clients, 2 threads, 20 s.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import type { BenchEnv } from "./lib/bench-env.js";
import { emit, envInt, type Figure } from "./lib/emit.js";

const script = `\\set id random(1, 10000)
BEGIN;
INSERT INTO bench_steps (run_id, output) VALUES (:id, '{"ok": true}');
UPDATE bench_runs SET revision = revision + 1, update_time = now() WHERE id = :id;
END;
`;

export async function w0(env: BenchEnv): Promise<Figure[]> {
  const clients = envInt("W0_CLIENTS", 16);
  const threads = envInt("W0_THREADS", 2);
  const seconds = envInt("W0_SECONDS", 20);
  const db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  await db.query(`
    drop table if exists bench_steps, bench_runs;
    create table bench_runs (id int primary key, revision int not null default 0, update_time timestamptz not null default now());
    create table bench_steps (id bigserial primary key, run_id int not null, output jsonb, create_time timestamptz not null default now());
    insert into bench_runs (id) select generate_series(1, 10000);
  `);
  await db.end();
  const file = join(env.pg.baseDir, "w0.sql");
  writeFileSync(file, script, { mode: 0o644 });
  const out = await env.pgbench(["-n", "-f", file, "-c", String(clients), "-j", String(threads), "-T", String(seconds), "aiki_bench"]);
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1]);
  if (!Number.isFinite(tps)) throw new Error(`pgbench printed no tps:\n${out}`);
  return [emit("W0", "pg_step_tps", tps, { clients, threads, seconds })];
}
