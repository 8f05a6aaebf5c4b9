// Sink.plan against the real MariaDB: what a run would do to the table for a sample — created, columns added, or
// refused by the schema-evolution mode — read from information_schema, with nothing written.
import { SchemaInference } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as MysqlSink from "../src/MysqlSink.ts"
import * as Db from "./utils.ts"

const db = await Db.database("MysqlSink plan", "dm_plan")

type Options = Omit<MysqlSink.SinkOptionsInput, "connection" | "table">
const planOf = (table: string, sample: ReadonlyArray<Record<string, unknown>>, options: Options = {}) =>
  MysqlSink.make({ connection: db.config, table, ...options }).plan!(sample)

const exec = (statement: string) => Effect.promise(() => Db.withConnection((c) => c.query(statement), db.name))
const tables = () =>
  Effect.promise(() =>
    Db.withConnection(
      async (c) =>
        (
          (
            await c.query("select TABLE_NAME as t from information_schema.TABLES where TABLE_SCHEMA = database()")
          )[0] as Array<{
            t: string
          }>
        ).map((r) => r.t),
      db.name
    )
  )

const sample = [
  { id: 1, name: "a" },
  { id: 2, name: "b", email: "b@example.com" }
]

describe.skipIf(db.unreachable !== undefined)("MysqlSink.plan", () => {
  it.live("no table: a run creates it from the records' types; the plan creates nothing", () =>
    Effect.gen(function* () {
      const plan = yield* planOf("fresh", sample)
      assert.strictEqual(plan.target, `${db.name}.fresh`)
      assert.isFalse(plan.exists)
      assert.deepStrictEqual(
        plan.changes.added.map((c) => c.path),
        ["id", "name", "email"]
      )
      assert.notInclude(yield* tables(), "fresh")
      const refused = yield* planOf("fresh", sample, { create: false })
      assert.strictEqual(refused.refused?.outcome, "fail")
    })
  )

  it.live("an existing table: the columns a run adds, or what freeze and discard modes do with them", () =>
    Effect.gen(function* () {
      yield* exec("create table existing (id bigint primary key, name varchar(20))")
      yield* exec("insert into existing values (1, 'x'), (2, 'y')")
      const plan = yield* planOf("existing", sample)
      assert.isTrue(plan.exists)
      assert.isNumber(plan.rows)
      assert.deepStrictEqual(
        plan.changes.added.map((c) => c.path),
        ["email"]
      )
      for (const [mode, outcome] of [
        ["freeze", "fail"],
        ["discardValue", "discardValue"],
        ["discardRow", "discardRow"]
      ] as const) {
        const refused = yield* planOf("existing", sample, { schemaEvolution: mode })
        assert.deepStrictEqual(refused.changes, SchemaInference.emptyDiff, mode)
        assert.strictEqual(refused.refused?.outcome, outcome, mode)
        assert.deepStrictEqual(
          refused.refused?.diff.added.map((c) => c.path),
          ["email"],
          mode
        )
      }
      const fits = yield* planOf("existing", [{ id: 3, name: "z" }])
      assert.deepStrictEqual(fits.changes, SchemaInference.emptyDiff)
      const columns = yield* Effect.promise(() =>
        Db.withConnection(
          async (c) =>
            (
              (
                await c.query(
                  "select COLUMN_NAME as c from information_schema.COLUMNS where TABLE_SCHEMA = database() and TABLE_NAME = 'existing'"
                )
              )[0] as Array<{ c: string }>
            ).map((r) => r.c),
          db.name
        )
      )
      assert.deepStrictEqual(columns.sort(), ["id", "name"])
    })
  )
})
