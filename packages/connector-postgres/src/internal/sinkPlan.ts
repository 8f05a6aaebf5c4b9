// What a run of the sink would do to its table, from a sample of records (previews): the table's live columns
// and approximate row count are read (never written), the sample is scanned as a write would scan it, and the
// schema-evolution mode decides which changes a run makes and which it refuses.
import { type ConnectorError, SchemaInference, type Sink } from "@data-mcp/core"
import { Effect } from "effect"
import type * as PostgresConfig from "../PostgresConfig.ts"
import { sql } from "../Sql.ts"
import * as Pool from "./pool.ts"
import * as Evolution from "./sinkEvolution.ts"
import * as SinkSql from "./sinkSql.ts"

export interface PlanOptions {
  readonly connection: PostgresConfig.PostgresConfig
  readonly target: SinkSql.Target
  readonly create: boolean
  readonly mode: Evolution.Mode
}

const reltuples = (target: SinkSql.Target) =>
  sql`select greatest(c.reltuples, 0)::float8 as rows from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace where n.nspname = ${target.schema} and c.relname = ${target.table}`

const refusal = (
  diff: SchemaInference.Diff,
  outcome: "fail" | "discardValue" | "discardRow",
  reason: string
): NonNullable<Sink.TargetPlan["refused"]> => ({ diff, outcome, reason })

/** The target plan for `sample`, as `open` and `write` would decide it; reads the catalog only. */
export const plan = (
  options: PlanOptions,
  sample: ReadonlyArray<Record<string, unknown>>
): Effect.Effect<Sink.TargetPlan, ConnectorError.ConnectorError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const { target, create, mode } = options
      const label = `${target.schema}.${target.table}`
      const p = yield* Pool.pool(options.connection)
      const columns = yield* Pool.query<{ name: string; data_type: string; udt: string | null; len: number | null }>(
        p,
        SinkSql.readColumns(target),
        "plan"
      )
      if (columns.rows.length === 0) {
        // No table: a run creates it from the declared columns, else from the records' inferred types.
        const created = target.columns.length > 0 ? target.columns : Evolution.scan(sample, []).added
        if (!create)
          return {
            target: label,
            exists: false,
            changes: SchemaInference.emptyDiff,
            refused: refusal(
              Evolution.createdDiff(created),
              "fail",
              `${label} does not exist and create is false; create it or set create: true`
            )
          }
        return { target: label, exists: false, rows: 0, changes: Evolution.createdDiff(created) }
      }
      const live: ReadonlyArray<SinkSql.LiveColumn> = columns.rows.map((r) => ({
        name: r.name,
        type: SinkSql.liveTypeOf(r.data_type, r.udt),
        maxLength: r.len ?? undefined
      }))
      const stats = yield* Pool.query<{ rows: number }>(p, reltuples(target), "plan")
      const rows = stats.rows[0] === undefined ? undefined : Math.round(Number(stats.rows[0].rows))
      const base = { target: label, exists: true, ...(rows === undefined ? {} : { rows }) }
      const needs = Evolution.scan(sample, live)
      if (Evolution.isEmpty(needs)) return { ...base, changes: SchemaInference.emptyDiff }
      const diff = Evolution.diffOf(needs)
      switch (mode) {
        case "evolve": {
          const lossy = needs.widened.filter((w) => !w.lossless)
          if (lossy.length > 0)
            return {
              ...base,
              changes: SchemaInference.emptyDiff,
              refused: refusal(diff, "fail", "a column would need a widening that is not lossless")
            }
          return { ...base, changes: diff }
        }
        case "freeze":
          return {
            ...base,
            changes: SchemaInference.emptyDiff,
            refused: refusal(diff, "fail", `the records do not fit ${label} and schemaEvolution is "freeze"`)
          }
        case "discardValue":
          return {
            ...base,
            changes: SchemaInference.emptyDiff,
            refused: refusal(
              diff,
              "discardValue",
              `values ${label} cannot hold are dropped (schemaEvolution "discardValue")`
            )
          }
        case "discardRow":
          return {
            ...base,
            changes: SchemaInference.emptyDiff,
            refused: refusal(
              diff,
              "discardRow",
              `records ${label} cannot hold become dead letters (schemaEvolution "discardRow")`
            )
          }
      }
    })
  )
