import { SchemaInference, type Sink } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Pool from "../src/internal/pool.ts"
import * as PostgresSink from "../src/PostgresSink.ts"
import { sql } from "../src/Sql.ts"
import * as Db from "./utils.ts"

// Sink.plan against the real PostgreSQL: what a run would do to the table for a sample — created, columns added
// or widened, refusals by schema-evolution mode — read from the catalog, with nothing written.
const connection = { ...Pool.configFromEnv(), connectTimeoutMs: 5_000 }
const db = await Db.database("PostgresSink plan", "dm_plan")
const describeIf = db.unreachable === undefined ? describe : describe.skip

type Options = Omit<PostgresSink.SinkOptionsInput, "connection" | "table">

const planOf = (schema: string, table: string, sample: ReadonlyArray<Record<string, unknown>>, options: Options = {}) =>
  Effect.flatMap(Effect.succeed(PostgresSink.make({ connection, table: [schema, table], ...options })), (sink) =>
    sink.plan!(sample)
  )

const tablesIn = (schema: string) =>
  Effect.map(
    Db.exec(sql`select table_name::text as t from information_schema.tables where table_schema = ${schema} order by 1`),
    (r) => r.rows.map((row) => row.t as string)
  )

const withTable = (ddl: (schema: string) => ReturnType<typeof sql>) =>
  Effect.gen(function* () {
    const schema = db.freshSchema()
    yield* Db.exec(sql`create schema ${sql.ident(schema)}`)
    yield* Db.exec(ddl(schema))
    return schema
  })

const sample = [
  { id: 1, name: "a", amount: "1.50" },
  { id: 2, name: "b", amount: "2.25", email: "b@example.com" }
]

describeIf("PostgresSink.plan", () => {
  it.live("no table: a run creates it from the records' types; nothing is created by the plan", () =>
    Effect.gen(function* () {
      const schema = db.freshSchema()
      yield* Db.exec(sql`create schema ${sql.ident(schema)}`)
      const plan = yield* planOf(schema, "orders", sample)
      assert.strictEqual(plan.target, `${schema}.orders`)
      assert.isFalse(plan.exists)
      assert.deepStrictEqual(
        plan.changes.added.map((c) => c.path),
        ["id", "name", "amount", "email"]
      )
      assert.isUndefined(plan.refused)
      assert.deepStrictEqual(yield* tablesIn(schema), [])
      const refused = yield* planOf(schema, "orders", sample, { create: false })
      assert.strictEqual(refused.refused?.outcome, "fail")
      assert.match(refused.refused?.reason ?? "", /does not exist and create is false/)
    })
  )

  it.live("an existing table: the columns a run would add and the widenings it would make", () =>
    Effect.gen(function* () {
      const schema = yield* withTable(
        (s) => sql`create table ${sql.ident([s, "orders"])} (id integer primary key, name varchar(1), amount text)`
      )
      yield* Db.exec(sql`insert into ${sql.ident([schema, "orders"])} select g, 'x', '1' from generate_series(1, 50) g`)
      yield* Db.exec(sql`analyze ${sql.ident([schema, "orders"])}`)
      const wide = [...sample, { id: 3_000_000_000, name: "long name", amount: "3" }]
      const plan = yield* planOf(schema, "orders", wide)
      assert.isTrue(plan.exists)
      assert.strictEqual(plan.rows, 50)
      assert.deepStrictEqual(plan.changes.added, [{ path: "email", type: "text" }])
      assert.deepStrictEqual(plan.changes.widened, [
        { path: "id", from: "integer", to: "bigint" },
        { path: "name", from: "varchar(1)", to: "text" }
      ])
      assert.isUndefined(plan.refused)
      // Nothing changed: the table still has its three columns and types.
      const columns = yield* Db.exec(
        sql`select column_name::text || ' ' || data_type::text as c from information_schema.columns where table_schema = ${schema} and table_name = 'orders' order by ordinal_position`
      )
      assert.deepStrictEqual(
        columns.rows.map((r) => r.c),
        ["id integer", "name character varying", "amount text"]
      )
      const fits = yield* planOf(schema, "orders", [{ id: 4, name: "c", amount: "4" }])
      assert.deepStrictEqual(fits.changes, SchemaInference.emptyDiff)
    })
  )

  it.live("freeze and discard modes: what the contract refuses and what a run does then", () =>
    Effect.gen(function* () {
      const schema = yield* withTable(
        (s) => sql`create table ${sql.ident([s, "orders"])} (id bigint primary key, name text, amount text)`
      )
      const outcomes: Array<
        [NonNullable<Options["schemaEvolution"]>, NonNullable<Sink.TargetPlan["refused"]>["outcome"]]
      > = [
        ["freeze", "fail"],
        ["discardValue", "discardValue"],
        ["discardRow", "discardRow"]
      ]
      for (const [mode, outcome] of outcomes) {
        const plan = yield* planOf(schema, "orders", sample, { schemaEvolution: mode })
        assert.deepStrictEqual(plan.changes, SchemaInference.emptyDiff, mode)
        assert.strictEqual(plan.refused?.outcome, outcome, mode)
        assert.deepStrictEqual(plan.refused?.diff.added, [{ path: "email", type: "text" }], mode)
      }
      const evolve = yield* planOf(schema, "orders", sample)
      assert.deepStrictEqual(evolve.changes.added, [{ path: "email", type: "text" }])
    })
  )

  it.live("an unreachable server fails the plan with a classified, password-free error", () =>
    Effect.gen(function* () {
      const sink = PostgresSink.make({
        connection: { ...connection, port: 1, password: Redacted.make("s3cret-pw") },
        table: "t"
      })
      const error = yield* Effect.flip(sink.plan!([{ id: 1 }]))
      assert.isTrue(error.retryable)
      assert.notInclude(JSON.stringify(error) + error.message, "s3cret-pw")
    })
  )
})
