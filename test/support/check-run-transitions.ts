// The state machine's check on every test database: run at teardown, so that a statement writing
// a move the table forbids fails the test file that made it, whichever statement it was.
import pg from "pg";
import { allowedMoves } from "../../server/src/domain/run-status.js";

/** A run_transitions (from, to) pair the table forbids, with the runs that hold it and who wrote it. */
export interface ForbiddenMove {
  from: string | null;
  to: string;
  runIds: string[];
  actors: string[];
  reasons: Array<string | null>;
}

export class ForbiddenRunTransitionsError extends Error {
  constructor(
    readonly database: string,
    readonly moves: ForbiddenMove[],
  ) {
    super(
      `database ${database} holds run_transitions the state machine (server/src/domain/run-status.ts) forbids:\n` +
        moves
          .map(
            (m) =>
              `  ${m.from ?? "(created)"} → ${m.to}: runs ${m.runIds.join(", ")}; actors ${m.actors.join(", ")}; reasons ${m.reasons.map((r) => r ?? "(none)").join(", ")}`,
          )
          .join("\n"),
    );
    this.name = "ForbiddenRunTransitionsError";
  }
}

/**
 * Throws ForbiddenRunTransitionsError when the database at `url` holds a history row whose
 * (from_status, to_status) the table does not allow: one query. A database without the table
 * (an unmigrated one) has nothing to check.
 */
export async function checkRunTransitions(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const moves = allowedMoves();
    const { rows } = await client
      .query<{ from: string | null; to: string; run_ids: string[]; actors: string[]; reasons: Array<string | null> }>(
        `select rt.from_status as from, rt.to_status as to, (array_agg(distinct rt.run_id::text))[1:10] as run_ids,
         (array_agg(distinct rt.actor))[1:5] as actors, (array_agg(distinct rt.reason))[1:5] as reasons
       from run_transitions rt
       where not exists (
         select 1 from unnest($1::text[], $2::text[]) as allowed(from_status, to_status)
         where allowed.from_status is not distinct from rt.from_status and allowed.to_status = rt.to_status)
       group by rt.from_status, rt.to_status
       order by 1, 2`,
        [moves.map(([from]) => from), moves.map(([, to]) => to)],
      )
      .catch((error: { code?: string }) => {
        // 42P01: no run_transitions table (an unmigrated database).
        if (error.code === "42P01") return { rows: [] };
        throw error;
      });
    if (rows.length > 0) {
      throw new ForbiddenRunTransitionsError(
        new URL(url).pathname.slice(1),
        rows.map((r) => ({ from: r.from, to: r.to, runIds: r.run_ids, actors: r.actors, reasons: r.reasons })),
      );
    }
  } finally {
    await client.end();
  }
}
