// Query streams: a stream read from a query written with `sql` instead of a table. The query must be one read
// statement (`select`, `with … select`, `values`, `table`; the template already refuses a second statement), runs
// only inside `READ ONLY` transactions (so a write in it fails), and keeps every value bound: plain statements bind
// it, COPY gets it through the server's `format('%L')` (see `renderCopy`). Its columns and their type OIDs are read
// off the row description of an empty result; its size is the planner's estimate (`EXPLAIN`, never run).
import { ConnectorError } from "@data-mcp/core"
import { Effect } from "effect"
import type pg from "pg"
import type * as PostgresCodec from "../PostgresCodec.ts"
import type * as Sql from "../Sql.ts"
import * as Pool from "./pool.ts"
import * as internal from "./source.ts"
import * as Transaction from "./sourceTransaction.ts"

/** The statements a query stream may start with. */
export const READS: ReadonlyArray<string> = ["select", "with", "values", "table"]

/** The first keyword of a query's text, lower-cased, past whitespace, comments and opening parentheses. */
export const firstKeyword = (query: Sql.Fragment): string => {
  const text = query.text
  let i = 0
  while (i < text.length) {
    if (/[\s(]/.test(text[i]!)) i++
    else if (text.startsWith("--", i)) i = text.includes("\n", i) ? text.indexOf("\n", i) + 1 : text.length
    else if (text.startsWith("/*", i)) {
      // Block comments nest in PostgreSQL.
      let depth = 0
      do {
        const opens = text.startsWith("/*", i)
        const closes = !opens && text.startsWith("*/", i)
        depth += opens ? 1 : closes ? -1 : 0
        i += opens || closes ? 2 : 1
      } while (depth > 0 && i < text.length)
    } else break
  }
  return /^[A-Za-z_]+/.exec(text.slice(i))?.[0]?.toLowerCase() ?? ""
}

/** Runs `f` on a borrowed client inside a read-only snapshot transaction, rolled back afterwards. */
const inReadOnly = <A>(
  pool: pg.Pool,
  operation: string,
  f: (client: pg.PoolClient) => Effect.Effect<A, ConnectorError.ConnectorError>
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const client = yield* Pool.client(pool, operation)
      yield* Transaction.readOnly(client)
      return yield* f(client)
    })
  )

/**
 * The query's result columns and their type OIDs, from an empty result read in a read-only transaction (so a
 * query that writes fails here, before anything is read).
 */
export const columns = (
  pool: pg.Pool,
  query: Sql.Fragment,
  operation: string
): Effect.Effect<ReadonlyArray<PostgresCodec.Column>, ConnectorError.ConnectorError> =>
  inReadOnly(pool, operation, (client) =>
    Effect.map(Pool.query(client, internal.describe({ query }), operation), (result) =>
      result.fields.map((f) => ({ name: f.name, oid: f.dataTypeID }))
    )
  )

/** The planner's estimate of the rows and bytes a query returns (`EXPLAIN (FORMAT JSON)`: planned, never run). */
export const estimate = (
  source: string,
  pool: pg.Pool,
  query: Sql.Fragment
): Effect.Effect<{ readonly rows: number; readonly bytes: number }, ConnectorError.ConnectorError> =>
  inReadOnly(pool, "estimate", (client) =>
    Effect.flatMap(Pool.query<{ "QUERY PLAN": unknown }>(client, internal.explain(query), "estimate"), (result) => {
      const plan = (result.rows[0]?.["QUERY PLAN"] as ReadonlyArray<{ Plan?: Record<string, unknown> }>)?.[0]?.Plan
      const rows = Number(plan?.["Plan Rows"])
      const width = Number(plan?.["Plan Width"])
      return Number.isFinite(rows) && Number.isFinite(width)
        ? Effect.succeed({ rows: Math.max(0, Math.round(rows)), bytes: Math.max(0, Math.round(rows * width)) })
        : Effect.fail(
            ConnectorError.make(
              source,
              "estimate",
              new ConnectorError.Unknown({ detail: "EXPLAIN (FORMAT JSON) of the query returned no row estimate." })
            )
          )
    })
  )
