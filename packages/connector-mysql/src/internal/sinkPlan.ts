// What a run of the MySQL sink would do to its table, from a sample of records (previews): the table's live
// columns and approximate row count are read (never written); the sample is scanned as a write would scan it, and
// the schema-evolution mode decides whether the fields no column holds are added, refused, dropped or dead-lettered.
import { type ConnectorError, SchemaInference, type Sink } from "@data-mcp/core"
import { Effect } from "effect"
import type * as MysqlConfig from "../MysqlConfig.ts"
import { sql } from "../Sql.ts"
import * as Pool from "./pool.ts"
import * as Rows from "./sinkRows.ts"
import * as SinkSql from "./sinkSql.ts"

export interface PlanOptions {
  readonly connection: MysqlConfig.MysqlConfig
  readonly target: SinkSql.Target
  readonly create: boolean
  readonly mode: Rows.Mode
}

const tableRows = (t: { readonly database: string; readonly table: string }) =>
  sql`select TABLE_ROWS as n from information_schema.TABLES where TABLE_SCHEMA = ${t.database} and TABLE_NAME = ${t.table}`

const addedDiff = (added: ReadonlyArray<SinkSql.DeclaredColumn>): SchemaInference.Diff => ({
  ...SchemaInference.emptyDiff,
  added: added.map((c) => ({ path: c.name, type: c.type }))
})

/** The target plan for `sample`, as `open` and `write` would decide it; reads information_schema only. */
export const plan = (
  options: PlanOptions,
  sample: ReadonlyArray<Record<string, unknown>>
): Effect.Effect<Sink.TargetPlan, ConnectorError.ConnectorError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const { target, create, mode } = options
      const label = `${target.database}.${target.table}`
      const p = yield* Pool.pool(options.connection)
      const columns = yield* Pool.query<SinkSql.ColumnRow>(p, SinkSql.readColumns(target), "plan")
      if (columns.length === 0) {
        // No table: a run creates it from the declared columns, else from the records' inferred types.
        const created = target.columns.length > 0 ? target.columns : Rows.scan(sample, new Set()).added
        if (!create)
          return {
            target: label,
            exists: false,
            changes: SchemaInference.emptyDiff,
            refused: {
              diff: addedDiff(created),
              outcome: "fail",
              reason: `${label} does not exist and create is false; create it or set create: true`
            }
          }
        return { target: label, exists: false, rows: 0, changes: addedDiff(created) }
      }
      const [stats] = yield* Pool.query<{ n: number | string | null }>(p, tableRows(target), "plan")
      const rows = stats?.n === null || stats?.n === undefined ? undefined : Number(stats.n)
      const base = { target: label, exists: true, ...(rows === undefined ? {} : { rows }) }
      const { added } = Rows.scan(sample, new Set(columns.map((c) => c.name)))
      if (added.length === 0) return { ...base, changes: SchemaInference.emptyDiff }
      if (mode === "evolve") return { ...base, changes: addedDiff(added) }
      const outcome = mode === "freeze" ? "fail" : mode
      const reason =
        mode === "freeze"
          ? `the records do not fit ${label} and schemaEvolution is "freeze"`
          : mode === "discardValue"
            ? `values ${label} cannot hold are dropped (schemaEvolution "discardValue")`
            : `records ${label} cannot hold become dead letters (schemaEvolution "discardRow")`
      return { ...base, changes: SchemaInference.emptyDiff, refused: { diff: addedDiff(added), outcome, reason } }
    })
  )
