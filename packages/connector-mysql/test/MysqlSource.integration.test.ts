// MysqlSource against the real MariaDB/MySQL (MYSQL_HOST…, default root@127.0.0.1:3306): the conformance suite,
// lossless values, ties across batch boundaries, the fixed upper bound, resume, query streams, discover and check.
// With CI=true the suite must run; otherwise an unreachable server skips it with the reason printed.
import { type Batch, type Pipeline, Timestamp } from "@data-mcp/core"
import { ConnectorConformance } from "@data-mcp/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema, Stream } from "effect"
import * as MysqlSource from "../src/MysqlSource.ts"
import { sql } from "../src/Sql.ts"
import * as Db from "./utils.ts"

const db = await Db.database("MysqlSource", "dm_src")
let tables = 0

interface Rec {
  readonly id: bigint
  readonly name: string
  readonly amount: string
  readonly at: Timestamp.Timestamp
}

const BASE = 1_767_225_600_000_000n // 2026-01-01T00:00:00Z in microseconds

// Three records share each `at`, so equal cursor values straddle batch boundaries.
const makeRecords = (n: number, offset = 0): ReadonlyArray<Rec> =>
  Array.from({ length: n }, (_, j) => {
    const i = j + offset
    return {
      id: 9_007_199_254_740_993n + BigInt(i),
      name: `name ${i} 'o''brien' "q" \t\\ 🎉`,
      amount: `${i + 1}2345678901234567890.${String(i).padStart(3, "0")}1`,
      at: Timestamp.fromEpochMicros(BASE + BigInt(Math.floor(i / 3)) * 1_000_001n, { zoned: true })
    }
  })

const text = (t: Timestamp.Timestamp) => t.toISOString().replace("T", " ").replace("Z", "")

const createTable = (table: string) =>
  Db.withConnection(
    (c) =>
      c.query(
        `create table \`${table}\` (id bigint primary key, name text not null, amount decimal(40, 4) not null, at timestamp(6) not null)`
      ),
    db.name
  )

const insert = (table: string, records: ReadonlyArray<Rec>) =>
  Db.withConnection(async (c) => {
    if (records.length === 0) return
    await c.query(`insert into \`${table}\` (id, name, amount, at) values ?`, [
      records.map((r) => [r.id, r.name, r.amount, text(r.at)])
    ])
  }, db.name)

const sourceOver = (table: string, batchSize?: number) =>
  MysqlSource.make({
    connection: db.config,
    streams: [{ table, cursor: "at", key: "id" }],
    ...(batchSize === undefined ? {} : { batchSize })
  })

const context = { runId: "test", batchRows: 10 }

const collect = (source: ReturnType<typeof MysqlSource.make>, from?: MysqlSource.MysqlCheckpoint) =>
  Stream.runCollect(source.read(from, context))

const idsOf = (batches: ReadonlyArray<Batch.Batch<MysqlSource.Row, unknown>>) =>
  batches.flatMap((b) => b.records.map((r) => String(r.id)))

describe.skipIf(db.unreachable !== undefined)("MysqlSource", () => {
  ConnectorConformance.suite<Rec, never>("mysql-source", {
    source: {
      records: (n) => makeRecords(n),
      make: (records) =>
        Effect.promise(async () => {
          const table = `conf_${++tables}`
          await createTable(table)
          await insert(table, records)
          return sourceOver(table) as unknown as Pipeline.AnySource<Rec>
        }),
      id: (r) => String(r.id)
    }
  })

  it.live("reads every value losslessly, with exact-text checkpoints", () =>
    Effect.gen(function* () {
      const table = `values_${++tables}`
      const records = makeRecords(7)
      yield* Effect.promise(() => createTable(table).then(() => insert(table, records)))
      const batches = yield* collect(sourceOver(table, 3))
      const rows = batches.flatMap((b) => b.records)
      assert.strictEqual(rows.length, 7)
      for (const [i, row] of rows.entries()) {
        assert.strictEqual(row.id, records[i]!.id)
        assert.strictEqual(row.name, records[i]!.name)
        assert.strictEqual(row.amount, records[i]!.amount)
        assert.isTrue(Timestamp.isTimestamp(row.at))
        assert.strictEqual((row.at as Timestamp.Timestamp).toISOString(), records[i]!.at.toISOString())
        assert.deepStrictEqual(Object.keys(row), ["id", "name", "amount", "at"])
      }
      assert.deepStrictEqual(
        batches.map((b) => b.records.length),
        [3, 3, 1]
      )
      const last = batches.at(-1)!.checkpoint!
      assert.deepStrictEqual(last, {
        [`${db.name}.${table}`]: { cursor: "2026-01-01 00:00:02.000002", key: "9007199254740999" }
      })
      const json = Schema.encodeSync(MysqlSource.MysqlCheckpoint)(last)
      assert.deepStrictEqual(Schema.decodeUnknownSync(MysqlSource.MysqlCheckpoint)(json), last)
    })
  )

  it.live(
    "equal cursor values across batch boundaries are neither lost nor repeated, and a resume reads the rest",
    () =>
      Effect.gen(function* () {
        const table = `ties_${++tables}`
        yield* Effect.promise(() =>
          Db.withConnection(async (c) => {
            await c.query(`create table \`${table}\` (id int primary key, v int not null)`)
            await c.query(`insert into \`${table}\` (id, v) values ?`, [
              Array.from({ length: 50 }, (_, i) => [i + 1, Math.floor((i + 1) / 7)])
            ])
          }, db.name)
        )
        const source = MysqlSource.make({
          connection: db.config,
          streams: [{ table, cursor: "v", key: "id" }],
          batchSize: 4
        })
        const all = yield* collect(source)
        assert.deepStrictEqual(
          idsOf(all),
          Array.from({ length: 50 }, (_, i) => String(i + 1))
        )
        const rest = yield* collect(source, all[5]!.checkpoint!)
        assert.deepStrictEqual(
          idsOf(rest),
          Array.from({ length: 26 }, (_, i) => String(i + 25))
        )
      })
  )

  it.live("rows added after the run started are left to the next run", () =>
    Effect.gen(function* () {
      const table = `bound_${++tables}`
      yield* Effect.promise(() => createTable(table).then(() => insert(table, makeRecords(20))))
      const source = sourceOver(table, 6)
      let added = false
      const first = yield* Stream.runCollect(
        source.read(undefined, context).pipe(
          Stream.tap(() =>
            added
              ? Effect.void
              : Effect.promise(async () => {
                  await insert(table, makeRecords(5, 20))
                  added = true
                })
          )
        )
      )
      assert.strictEqual(idsOf(first).length, 20)
      const second = yield* collect(source, first.at(-1)!.checkpoint!)
      assert.deepStrictEqual(
        idsOf(second),
        makeRecords(5, 20).map((r) => String(r.id))
      )
    })
  )

  it.live("a snapshot by key ends with done, and a parameterised query is a stream of its own", () =>
    Effect.gen(function* () {
      const table = `snap_${++tables}`
      yield* Effect.promise(() => createTable(table).then(() => insert(table, makeRecords(10))))
      const source = MysqlSource.make({
        connection: db.config,
        batchSize: 4,
        streams: [
          { table, key: "id" },
          {
            name: "big_amounts",
            query: sql`select id, amount from ${sql.ident(table)} where amount > ${"52345678901234567890"}`,
            key: "id"
          }
        ]
      })
      const batches = yield* collect(source)
      const snapshot = batches.filter((b) => b.stream === `${db.name}.${table}`)
      const query = batches.filter((b) => b.stream === "big_amounts")
      assert.strictEqual(idsOf(snapshot).length, 10)
      assert.deepStrictEqual(snapshot.at(-1)!.checkpoint![`${db.name}.${table}`], { done: true })
      assert.deepStrictEqual(
        idsOf(query),
        makeRecords(10)
          .slice(4)
          .map((r) => String(r.id))
      )
      const again = yield* collect(source, batches.at(-1)!.checkpoint!)
      assert.strictEqual(idsOf(again).length, 0)
    })
  )

  it.live("a table outside the catalog, or a missing column, fails before reading; discover and check work", () =>
    Effect.gen(function* () {
      const table = `disc_${++tables}`
      yield* Effect.promise(() => createTable(table))
      const missing = yield* Effect.exit(
        collect(MysqlSource.make({ connection: db.config, streams: [{ table: "no_such_table", key: "id" }] }))
      )
      assert.isTrue(Exit.isFailure(missing))
      assert.include(String(Exit.isFailure(missing) ? missing.cause : ""), "no_such_table")
      const noColumn = yield* Effect.exit(
        collect(MysqlSource.make({ connection: db.config, streams: [{ table, key: "nope" }] }))
      )
      assert.isTrue(Exit.isFailure(noColumn))
      const source = sourceOver(table)
      yield* source.check!()
      const streams = yield* source.discover!()
      const info = streams.find((s) => s.name === `${db.name}.${table}`)
      assert.deepStrictEqual(info?.jsonSchema, {
        type: "object",
        properties: {
          id: { "x-field-type": "integer", "x-mysql-kind": "bigint", "x-nullable": false },
          name: { "x-field-type": "string", "x-mysql-kind": "string", "x-nullable": false },
          amount: { "x-field-type": "decimal", "x-mysql-kind": "decimal", "x-nullable": false },
          at: { "x-field-type": "timestamp", "x-mysql-kind": "timestamp", "x-nullable": false }
        }
      })
    })
  )
})
