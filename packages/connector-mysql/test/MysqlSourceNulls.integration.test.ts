// Rows whose cursor is NULL, against the real MariaDB/MySQL, as connector-postgres and core's `Incremental` define
// `onNull`: "skip" (the default) never reads them; "include-first" reads them first, by key, with `{ cursor: null,
// key }` checkpoints, then the valued rows; a resume inside the NULL section reads the rest of it and every valued
// row exactly once; a resume past it reads only what is new; backfill ends inside the NULL section; a stream given as
// core's `Incremental`; option checks.
// With CI=true the suite must run; otherwise an unreachable server skips it with the reason printed.
import { type Batch, Incremental } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as MysqlSource from "../src/MysqlSource.ts"
import * as Db from "./utils.ts"

const db = await Db.database("MysqlSource onNull", "dm_nulls")
let tables = 0

const exec = (statement: string) => Effect.promise(() => Db.withConnection((c) => c.query(statement), db.name))

/** ids 1..20: every third row has a NULL `at`; the others `at` = 2026-01-01 00:00:(20 - id) (descending). */
const createTable = (table: string) =>
  Effect.gen(function* () {
    yield* exec(`create table \`${table}\` (id int primary key, at datetime(6) null, v text)`)
    const values = Array.from({ length: 20 }, (_, i) => {
      const id = i + 1
      const at = id % 3 === 0 ? "null" : `'2026-01-01 00:00:${String(20 - id).padStart(2, "0")}.000001'`
      return `(${id}, ${at}, 'v${id}')`
    })
    yield* exec(`insert into \`${table}\` values ${values.join(", ")}`)
  })

const NULL_IDS = [3, 6, 9, 12, 15, 18].map(String)
const VALUED_IDS = [20, 19, 17, 16, 14, 13, 11, 10, 8, 7, 5, 4, 2, 1].map(String)

const sourceOver = (table: string, onNull?: "skip" | "include-first", batchSize = 4) =>
  MysqlSource.make({
    connection: db.config,
    streams: [{ table, cursor: "at", key: "id", ...(onNull === undefined ? {} : { onNull }) }],
    batchSize
  })

const context = { runId: "test", batchRows: 4 }

const read = (
  source: ReturnType<typeof MysqlSource.make>,
  from?: MysqlSource.MysqlCheckpoint,
  end?: MysqlSource.MysqlCheckpoint
) => Stream.runCollect(source.read(from, end === undefined ? context : { ...context, end }))

const idsOf = (batches: ReadonlyArray<Batch.Batch<MysqlSource.Row, unknown>>) =>
  batches.flatMap((b) => b.records.map((r) => String(r.id)))

describe.skipIf(db.unreachable !== undefined)("MysqlSource onNull", () => {
  it.live('"skip" (the default) never reads NULL-cursor rows', () =>
    Effect.gen(function* () {
      const table = `skip_${++tables}`
      yield* createTable(table)
      assert.deepStrictEqual(idsOf(yield* read(sourceOver(table))), VALUED_IDS)
      assert.deepStrictEqual(idsOf(yield* read(sourceOver(table, "skip"))), VALUED_IDS)
    })
  )

  it.live('"include-first" reads NULL-cursor rows first by key, with { cursor: null, key } checkpoints', () =>
    Effect.gen(function* () {
      const table = `first_${++tables}`
      yield* createTable(table)
      const batches = yield* read(sourceOver(table, "include-first"))
      assert.deepStrictEqual(idsOf(batches), [...NULL_IDS, ...VALUED_IDS])
      const stream = `${db.name}.${table}`
      assert.deepStrictEqual(batches[0]!.checkpoint![stream], { cursor: null, key: "12" })
      assert.deepStrictEqual(batches[1]!.checkpoint![stream], { cursor: null, key: "18" })
      assert.deepStrictEqual(batches.at(-1)!.checkpoint![stream], { cursor: "2026-01-01 00:00:19.000001", key: "1" })
      assert.isNull(batches[0]!.records[0]!.at)
    })
  )

  it.live("a resume inside the NULL section reads the rest of it and every valued row, once", () =>
    Effect.gen(function* () {
      const table = `resume_${++tables}`
      yield* createTable(table)
      const source = sourceOver(table, "include-first", 4)
      const all = yield* read(source)
      const rest = yield* read(source, all[0]!.checkpoint!)
      assert.deepStrictEqual(idsOf(rest), [...NULL_IDS.slice(4), ...VALUED_IDS])
      // A NULL-cursor row added behind the checkpoint's key is not read; one ahead of it is.
      yield* exec(
        `insert into \`${table}\` values (4000, null, 'late null'), (5, null, 'x') on duplicate key update at = null`
      )
      const again = yield* read(source, all[0]!.checkpoint!)
      assert.deepStrictEqual(idsOf(again), [...NULL_IDS.slice(4), "4000", ...VALUED_IDS.filter((id) => id !== "5")])
    })
  )

  it.live("a resume past the NULL section reads only new valued rows; NULL-cursor rows added later are not read", () =>
    Effect.gen(function* () {
      const table = `past_${++tables}`
      yield* createTable(table)
      const source = sourceOver(table, "include-first")
      const all = yield* read(source)
      yield* exec(`insert into \`${table}\` values (100, null, 'new null'), (101, '2027-01-01 00:00:00', 'new')`)
      assert.deepStrictEqual(idsOf(yield* read(source, all.at(-1)!.checkpoint!)), ["101"])
    })
  )

  it.live("a backfill whose end is inside the NULL section reads NULL-cursor rows up to it and no valued row", () =>
    Effect.gen(function* () {
      const table = `end_${++tables}`
      yield* createTable(table)
      const stream = `${db.name}.${table}`
      const batches = yield* read(sourceOver(table, "include-first"), undefined, {
        [stream]: { cursor: null, key: "9" }
      })
      assert.deepStrictEqual(idsOf(batches), ["3", "6", "9"])
    })
  )

  it("a stream given as core's Incremental reads the same as the source's own options", () =>
    Effect.gen(function* () {
      const table = `inc_${++tables}`
      yield* createTable(table)
      const source = MysqlSource.make({
        connection: db.config,
        streams: [
          { table, incremental: Incremental.make({ cursor: "at", tieBreaker: "id", onNull: "include-first" }) }
        ],
        batchSize: 4
      })
      const batches = yield* read(source)
      assert.deepStrictEqual(idsOf(batches), [...NULL_IDS, ...VALUED_IDS])
      assert.deepStrictEqual(idsOf(yield* read(source, batches[0]!.checkpoint!)), [...NULL_IDS.slice(4), ...VALUED_IDS])
    }))

  it("refuses what this source cannot do with an Incremental, naming the field", () => {
    const cases: ReadonlyArray<readonly [MysqlSource.MysqlSourceOptions["streams"][number], string]> = [
      [
        { table: "t", incremental: Incremental.make({ cursor: "at", tieBreaker: "id", lag: "5 minutes" }) },
        "streams.0.incremental.lag"
      ],
      [
        { table: "t", incremental: Incremental.make({ cursor: "at", tieBreaker: "id", order: "desc" }) },
        "streams.0.incremental.order"
      ],
      [
        { table: "t", incremental: Incremental.make({ cursor: "at", tieBreaker: "id", initial: "2026-01-01" }) },
        "streams.0.incremental.initial"
      ],
      [
        { table: "t", incremental: Incremental.make({ cursor: "at", tieBreaker: "id" }), cursor: "at" } as never,
        "streams.0.cursor"
      ]
    ]
    for (const [stream, path] of cases) {
      try {
        MysqlSource.make({ connection: db.config, streams: [stream] })
        assert.fail(`expected a ConfigError at ${path}`)
      } catch (e) {
        assert.strictEqual((e as { _tag: string })._tag, "ConfigError")
        assert.strictEqual((e as { path: string }).path, path)
      }
    }
  })

  it('refuses "include-first" without a cursor, naming the field', () => {
    try {
      MysqlSource.make({ connection: db.config, streams: [{ table: "t", key: "id", onNull: "include-first" }] })
      assert.fail("expected a ConfigError")
    } catch (e) {
      assert.strictEqual((e as { _tag: string })._tag, "ConfigError")
      assert.strictEqual((e as { path: string }).path, "streams.0.onNull")
    }
  })
})
