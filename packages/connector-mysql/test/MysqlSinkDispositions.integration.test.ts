// MysqlSink's merge (versioned upserts, deletes), replace (the staging swap) and schema evolution (evolve, freeze,
// discardValue, discardRow) against the real MariaDB/MySQL. With CI=true the suite must run; otherwise an
// unreachable server skips it with the reason printed.
import { Memory, Pipeline, Runner } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as MysqlSink from "../src/MysqlSink.ts"
import * as Db from "./utils.ts"

const db = await Db.database("MysqlSink dispositions", "dm_disp")
let tables = 0
let token = 0

const rowsOf = (sql: string) =>
  Effect.promise(() =>
    Db.withConnection(async (c) => (await c.query(sql))[0] as Array<Record<string, unknown>>, db.name)
  )

/** Opens the sink for one run (its own lease) and writes the batches in order. */
const writeAll = (
  sink: ReturnType<typeof MysqlSink.make>,
  batches: ReadonlyArray<ReadonlyArray<Record<string, unknown>>>
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const t = ++token
      const writer = yield* sink.open({
        runId: `run-${t}`,
        pipeline: "disp",
        stateKey: `disp:${t}`,
        lease: { key: `disp:${t}`, runId: `run-${t}`, token: 1, expiresAt: Date.now() + 60_000 }
      })
      const results = []
      for (const [seq, records] of batches.entries())
        results.push(
          yield* writer.write(
            { stream: "default", records, checkpoint: seq + 1 },
            { seq, checkpointFrom: seq === 0 ? null : seq, checkpointTo: seq + 1 }
          )
        )
      if (writer.finish !== undefined) yield* writer.finish
      return results
    })
  )

describe.skipIf(db.unreachable !== undefined)("MysqlSink dispositions and evolution", () => {
  it.live("merge: one row per key, the highest version wins, older versions never overwrite, deleteWhen deletes", () =>
    Effect.gen(function* () {
      const table = `m_${++tables}`
      const sink = MysqlSink.make({
        connection: db.config,
        table,
        columns: [
          { name: "id", type: "varchar" },
          { name: "v", type: "bigint" },
          { name: "note", type: "text" },
          { name: "gone", type: "boolean" }
        ],
        disposition: { merge: { key: ["id"], versionBy: "v", deleteWhen: "gone" } }
      })
      yield* writeAll(sink, [
        [
          { id: "a", v: 2n, note: "a2", gone: false },
          { id: "a", v: 1n, note: "a1 (older, same batch)", gone: false },
          { id: "b", v: 1n, note: "b1", gone: false },
          { id: "c", v: 1n, note: "c1", gone: false }
        ],
        [
          { id: "a", v: 1n, note: "a1 (older, later batch)", gone: false },
          { id: "b", v: 3n, note: "b3", gone: false },
          { id: "c", v: 2n, note: null, gone: true }
        ]
      ])
      assert.deepStrictEqual(yield* rowsOf(`select id, cast(v as char) as v, note from \`${table}\` order by id`), [
        { id: "a", v: "2", note: "a2" },
        { id: "b", v: "3", note: "b3" }
      ])
    })
  )

  it.live("replace: each successful run publishes exactly its rows by RENAME TABLE, and leaves no staging table", () =>
    Effect.gen(function* () {
      const table = `r_${++tables}`
      const sink = MysqlSink.make({ connection: db.config, table, disposition: "replace" })
      const run = (ids: ReadonlyArray<number>) =>
        Runner.run(
          Pipeline.make({
            name: `replace_${table}`,
            version: "1.0.0",
            description: "replace",
            source: Memory.source(
              ids.map((id) => ({ id: BigInt(id), label: `row ${id}` })),
              { batchSize: 2 }
            ),
            sink
          }),
          {}
        )
      // One runner (and state store) for both runs: the second run's lease token is the higher one.
      assert.strictEqual((yield* run([1, 2, 3, 4, 5])).status, "succeeded")
      assert.strictEqual((yield* run([7, 8, 9])).status, "succeeded")
      assert.deepStrictEqual(
        (yield* rowsOf(`select cast(id as char) as id from \`${table}\` order by id`)).map((r) => r.id),
        ["7", "8", "9"]
      )
      const left = yield* rowsOf(
        `select TABLE_NAME as name from information_schema.TABLES where TABLE_SCHEMA = database() and TABLE_NAME like '${table}\\_\\_dm%'`
      )
      assert.deepStrictEqual(left, [])
    }).pipe(Effect.scoped, Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )

  it.live("evolve adds a column for a new field; freeze fails with the diff; discardValue and discardRow", () =>
    Effect.gen(function* () {
      const table = `e_${++tables}`
      const first = [{ id: 1n, name: "a" }]
      const second = [
        { id: 2n, name: "b", email: "b@example.com" },
        { id: 3n, name: "c" }
      ]
      yield* writeAll(MysqlSink.make({ connection: db.config, table }), [first, second])
      assert.deepStrictEqual(
        yield* rowsOf(`select cast(id as char) as id, name, email from \`${table}\` order by id`),
        [
          { id: "1", name: "a", email: null },
          { id: "2", name: "b", email: "b@example.com" },
          { id: "3", name: "c", email: null }
        ]
      )
      const later = [{ id: 4n, name: "d", phone: "+1 555" }]
      const frozen = yield* Effect.exit(
        writeAll(MysqlSink.make({ connection: db.config, table, schemaEvolution: "freeze" }), [later])
      )
      assert.isTrue(Exit.isFailure(frozen))
      assert.include(String(Exit.isFailure(frozen) ? frozen.cause : ""), "+ added: phone (text)")
      const [dropped] = yield* writeAll(
        MysqlSink.make({ connection: db.config, table, schemaEvolution: "discardValue" }),
        [later]
      )
      assert.strictEqual(dropped!.written, 1)
      const [refused] = yield* writeAll(
        MysqlSink.make({ connection: db.config, table, schemaEvolution: "discardRow" }),
        [
          [
            { id: 5n, name: "e", phone: "x" },
            { id: 6n, name: "f" }
          ]
        ]
      )
      assert.strictEqual(refused!.written, 1)
      assert.strictEqual(refused!.rejected?.[0]?.index, 0)
      assert.include(refused!.rejected?.[0]?.reason, '"phone"')
      assert.deepStrictEqual(
        (yield* rowsOf(`select cast(id as char) as id from \`${table}\` order by id`)).map((r) => r.id),
        ["1", "2", "3", "4", "6"]
      )
      const columns = yield* rowsOf(
        `select COLUMN_NAME as c from information_schema.COLUMNS where TABLE_SCHEMA = database() and TABLE_NAME = '${table}' order by ORDINAL_POSITION`
      )
      assert.deepStrictEqual(
        columns.map((r) => r.c),
        ["id", "name", "email"]
      )
    })
  )
})
