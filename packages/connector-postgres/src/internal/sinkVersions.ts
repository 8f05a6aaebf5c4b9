// The schema versions of the sink's targets (DESIGN §5): every change the sink makes to a target table's shape
// (creating it, adding or widening columns) is recorded as a versioned snapshot — the diff and the columns after —
// in `data_mcp_schema` beside the state table, in the transaction of the DDL (under the schema's DDL lock, so
// versions of one table never collide), and returned as a `Sink.SchemaChange` for the write result. A table the
// sink did not create starts at an implicit version 1 (as found), so its first recorded change is version 2.
import type { SchemaInference, Sink } from "@data-mcp/core"
import { Effect } from "effect"
import type pg from "pg"
import { sql } from "../Sql.ts"
import * as Pool from "./pool.ts"
import * as Evolution from "./sinkEvolution.ts"
import { type LiveColumn, type Target, tableExists } from "./sinkSql.ts"

/** The name of the versions table, in the target table's schema. */
export const TABLE = "data_mcp_schema"

const versionsOf = (target: Target): Target => ({ schema: target.schema, table: TABLE, columns: [] })

const tableOf = (target: Target) => sql.ident([target.schema, TABLE])

const createTable = (target: Target) =>
  sql`create table if not exists ${tableOf(target)} (table_name text not null, version integer not null, diff jsonb not null, columns jsonb not null, run_id text not null, seq bigint, at timestamptz not null default now(), primary key (table_name, version))`

/** One change the sink made to `target`, as the caller's transaction applied it. */
export interface Change {
  readonly target: Target
  /** Whether the change created the table (version 1 when nothing is recorded yet). */
  readonly created: boolean
  readonly diff: SchemaInference.Diff
  /** The table's columns after the change, labelled (`varchar(5)`, `bigint[]`). */
  readonly columns: ReadonlyArray<{ readonly name: string; readonly type: string }>
  readonly runId: string
  /** The batch whose write made the change; `null` when opening the sink did. */
  readonly seq: number | null
}

const labelOf = (target: Target) => `${target.schema}.${target.table}`

/** Records a change inside the caller's transaction (which holds the DDL lock) and returns it as reported. */
export const record = (client: pg.PoolClient, change: Change, operation: string) =>
  Effect.gen(function* () {
    const { target } = change
    yield* Pool.query(client, createTable(target), operation)
    const inserted = yield* Pool.query<{ version: number }>(
      client,
      sql`insert into ${tableOf(target)} (table_name, version, diff, columns, run_id, seq) select ${target.table}, coalesce(max(version), ${change.created ? 0 : 1}) + 1, ${JSON.stringify(change.diff)}::jsonb, ${JSON.stringify(change.columns)}::jsonb, ${change.runId}, ${change.seq} from ${tableOf(target)} where table_name = ${target.table} returning version`,
      operation
    )
    const reported: Sink.SchemaChange = {
      target: labelOf(target),
      version: inserted.rows[0]!.version,
      diff: change.diff
    }
    return reported
  })

/**
 * The changes that the committed write `seq` of run `runId` recorded: what a replayed write (whose first attempt
 * committed but was not acknowledged) reports, so a lost acknowledgement does not lose the change.
 */
export const recorded = (runner: pg.Pool | pg.PoolClient, target: Target, runId: string, seq: number) =>
  Effect.gen(function* () {
    const present = yield* Pool.query<{ present: boolean }>(runner, tableExists(versionsOf(target)), "write")
    if (present.rows[0]?.present !== true) return []
    const rows = yield* Pool.query<{ version: number; diff: SchemaInference.Diff }>(
      runner,
      sql`select version, diff from ${tableOf(target)} where table_name = ${target.table} and run_id = ${runId} and seq = ${seq} order by version`,
      "write"
    )
    return rows.rows.map((r): Sink.SchemaChange => ({ target: labelOf(target), version: r.version, diff: r.diff }))
  })

/** The columns of a snapshot, labelled as in diffs (`varchar(5)`, `bigint[]`). */
export const columnsOf = (columns: ReadonlyArray<LiveColumn>): Change["columns"] =>
  columns.map((c) => ({ name: c.name, type: Evolution.label(c) }))
