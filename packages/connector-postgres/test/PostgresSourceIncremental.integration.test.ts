import { randomBytes } from "node:crypto"
import type { Batch } from "@data-mcp/core"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, type Scope, Stream } from "effect"
import type pg from "pg"
import * as Pool from "../src/internal/pool.ts"
import * as PostgresSource from "../src/PostgresSource.ts"
import { sql } from "../src/Sql.ts"
import * as Db from "./utils.ts"

const config = Pool.configFromEnv()

const unreachable = await Db.unreachable("PostgresSource incremental")

const created: Array<string> = []
const uniqueTable = (prefix: string) => {
  const name = `dm_inc_${prefix}_${randomBytes(5).toString("hex")}`
  created.push(name)
  return name
}

const exec = <A>(f: (pool: pg.Pool) => Effect.Effect<A, unknown, Scope.Scope>) =>
  Effect.scoped(Effect.flatMap(Pool.pool(config), f))

const run = (statement: ReturnType<typeof sql>) => exec((pool) => Pool.query(pool, statement, "setup"))

afterAll(async () => {
  if (unreachable !== undefined) return
  await Effect.runPromise(
    exec((pool) =>
      Effect.forEach(created, (t) => Pool.query(pool, sql`drop table if exists ${sql.ident(t)}`, "cleanup"))
    )
  )
})

type Source = ReturnType<typeof PostgresSource.make>
type Batches = ReadonlyArray<Batch.Batch<PostgresSource.Row, PostgresSource.PostgresCheckpoint>>

const collect = (source: Source, from?: PostgresSource.PostgresCheckpoint, end?: PostgresSource.PostgresCheckpoint) =>
  Stream.runCollect(source.read(from, { runId: "t", batchRows: 10, ...(end === undefined ? {} : { end }) }))

const idsOf = (batches: Batches) => batches.flatMap((b) => b.records.map((r) => Number(r.id)))
const last = (batches: Batches) => batches.at(-1)!.checkpoint!
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** `id` 1..n, `v` = id / 4 (four rows share each cursor value, straddling pages). */
const tiesTable = (n: number) =>
  Effect.gen(function* () {
    const table = uniqueTable("ties")
    yield* run(sql`create table ${sql.ident(table)} (id int4 primary key, v int4 not null)`)
    yield* run(sql`insert into ${sql.ident(table)} select g, g / 4 from generate_series(1, ${n}::int) g`)
    return table
  })

describe.skipIf(unreachable !== undefined)("PostgresSource incremental options", () => {
  it.live("an end backfill reads exactly up to the end position, and not a row past it", () =>
    Effect.gen(function* () {
      const table = yield* tiesTable(40)
      const stream = `public.${table}`
      const source = PostgresSource.make({
        connection: config,
        streams: [{ table, cursor: "v", key: "id" }],
        batchSize: 3
      })
      const full = yield* collect(source)
      assert.deepStrictEqual(idsOf(full), range(1, 40))
      // Every page boundary as an end, including ones inside a run of equal cursor values.
      for (const [i, batch] of full.entries()) {
        const end = batch.checkpoint!
        const backfill = yield* collect(source, undefined, end)
        assert.deepStrictEqual(idsOf(backfill), range(1, Math.min(40, 3 * (i + 1))))
        if (backfill.length > 0) assert.deepStrictEqual(last(backfill), end)
      }
      // Rows added later are beyond the end; a resumed backfill reads exactly the rest up to the end.
      yield* run(sql`insert into ${sql.ident(table)} select g, g / 4 from generate_series(41, 60) g`)
      const end = full[4]!.checkpoint!
      assert.deepStrictEqual(end[stream], { cursor: "3", key: "15" })
      const head = yield* collect(source, undefined, end)
      assert.deepStrictEqual(idsOf(head), range(1, 15))
      const rest = yield* collect(source, head[1]!.checkpoint!, end)
      assert.deepStrictEqual(idsOf(rest), range(7, 15))
      // The end is `min(max(cursor), end)`: an end beyond the data reads everything there is.
      const beyond = yield* collect(source, undefined, { [stream]: { cursor: "1000", key: "0" } })
      assert.deepStrictEqual(idsOf(beyond), range(1, 60))
      // A stream the end does not name has nothing to backfill.
      assert.deepStrictEqual(idsOf(yield* collect(source, undefined, {})), [])
    })
  )

  it.live("an end backfill of a snapshot stream stops at the end key; a done end bounds nothing", () =>
    Effect.gen(function* () {
      const table = yield* tiesTable(10)
      const stream = `public.${table}`
      const source = PostgresSource.make({ connection: config, streams: [{ table, key: "id" }], batchSize: 4 })
      const part = yield* collect(source, undefined, { [stream]: { key: "6" } })
      assert.deepStrictEqual(idsOf(part), range(1, 6))
      assert.deepStrictEqual(last(part), { [stream]: { done: true } })
      assert.deepStrictEqual(idsOf(yield* collect(source, undefined, { [stream]: { done: true } })), range(1, 10))
      // The wrong shape is refused with a clear message.
      const error = yield* Effect.flip(collect(source, undefined, { [stream]: { cursor: "1", key: "6" } }))
      assert.match(error.message, /backfill end/)
    })
  )

  it.live("lag keeps rows newer than now() - lag for a later run (timestamptz and timestamp)", () =>
    Effect.gen(function* () {
      const table = uniqueTable("lag")
      yield* run(
        sql`create table ${sql.ident(table)} (id int4 primary key, at timestamptz not null, local timestamp not null)`
      )
      // id k is k minutes old (ids 0..9); id 10 is in the future.
      yield* run(
        sql`insert into ${sql.ident(table)} select g, now() - g * interval '1 minute', localtimestamp - g * interval '1 minute' from generate_series(0, 9) g`
      )
      yield* run(
        sql`insert into ${sql.ident(table)} values (10, now() + interval '1 hour', localtimestamp + interval '1 hour')`
      )
      const read = (cursor: string, lag: number | string | undefined, from?: PostgresSource.PostgresCheckpoint) =>
        collect(
          PostgresSource.make({
            connection: config,
            streams: [{ table, cursor, key: "id", ...(lag === undefined ? {} : { lag }) }],
            batchSize: 2
          }),
          from
        )
      const sorted = (batches: Batches) => idsOf(batches).sort((a, b) => a - b)
      assert.deepStrictEqual(sorted(yield* read("at", undefined)), range(0, 10))
      assert.deepStrictEqual(sorted(yield* read("at", "4 minutes 30 seconds")), range(5, 9))
      assert.deepStrictEqual(sorted(yield* read("local", "4 minutes 30 seconds")), range(5, 9))
      assert.deepStrictEqual(sorted(yield* read("at", 90_000)), range(2, 9))
      // Oldest first: a lagged run's checkpoint resumes with what has come into the window since.
      const first = yield* read("at", "4 minutes 30 seconds")
      assert.deepStrictEqual(idsOf(first), [9, 8, 7, 6, 5])
      assert.deepStrictEqual(idsOf(yield* read("at", 90_000, last(first))), [4, 3, 2])
      // A lag needs a timestamp cursor.
      const table2 = yield* tiesTable(3)
      const error = yield* Effect.flip(
        collect(
          PostgresSource.make({ connection: config, streams: [{ table: table2, cursor: "v", key: "id", lag: 1000 }] })
        )
      )
      assert.match(error.message, /timestamp/)
    })
  )

  it.live("lookback re-reads a window behind the checkpoint and picks up late rows", () =>
    Effect.gen(function* () {
      const table = uniqueTable("lookback")
      yield* run(sql`create table ${sql.ident(table)} (id int4 primary key, at timestamptz not null)`)
      yield* run(
        sql`insert into ${sql.ident(table)} select g, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute' from generate_series(1, 10) g`
      )
      const plain = PostgresSource.make({ connection: config, streams: [{ table, cursor: "at", key: "id" }] })
      const looking = PostgresSource.make({
        connection: config,
        streams: [{ table, cursor: "at", key: "id", lookback: "3 minutes" }]
      })
      const first = yield* collect(plain)
      assert.deepStrictEqual(idsOf(first), range(1, 10))
      // A late row whose cursor is behind the checkpoint (10 minutes), within the window.
      yield* run(sql`insert into ${sql.ident(table)} values (100, timestamptz '2026-01-01 00:08:30+00')`)
      assert.deepStrictEqual(idsOf(yield* collect(plain, last(first))), [])
      assert.deepStrictEqual(idsOf(yield* collect(looking, last(first))), [7, 8, 100, 9, 10])
      // Without a checkpoint, a look-back changes nothing.
      assert.deepStrictEqual(idsOf(yield* collect(looking)), [1, 2, 3, 4, 5, 6, 7, 8, 100, 9, 10])
    })
  )

  it.live('NULL cursors: skipped by default; "include-first" reads them first by key, resumably', () =>
    Effect.gen(function* () {
      const table = uniqueTable("nulls")
      const stream = `public.${table}`
      yield* run(sql`create table ${sql.ident(table)} (id int4 primary key, v int4)`)
      // Odd ids up to 9 have a NULL cursor; the others v = 100 - id.
      yield* run(
        sql`insert into ${sql.ident(table)} select g, case when g % 2 = 1 and g < 10 then null else 100 - g end from generate_series(1, 14) g`
      )
      const skip = PostgresSource.make({
        connection: config,
        streams: [{ table, cursor: "v", key: "id" }],
        batchSize: 2
      })
      assert.deepStrictEqual(idsOf(yield* collect(skip)), [14, 13, 12, 11, 10, 8, 6, 4, 2])
      const include = PostgresSource.make({
        connection: config,
        streams: [{ table, cursor: "v", key: "id", onNull: "include-first" }],
        batchSize: 2
      })
      const all = yield* collect(include)
      const expected = [1, 3, 5, 7, 9, 14, 13, 12, 11, 10, 8, 6, 4, 2]
      assert.deepStrictEqual(idsOf(all), expected)
      // A checkpoint inside the NULL section has a null cursor; resuming from each checkpoint reads exactly the rest.
      assert.deepStrictEqual(all[0]!.checkpoint![stream], { cursor: null, key: "3" })
      let seen = 0
      for (const batch of all) {
        seen += batch.records.length
        assert.deepStrictEqual(idsOf(yield* collect(include, batch.checkpoint!)), expected.slice(seen))
      }
      // Once past the NULL section, later NULL-cursor rows are behind the checkpoint (as if -infinity).
      yield* run(sql`insert into ${sql.ident(table)} values (50, null), (51, 1)`)
      assert.deepStrictEqual(idsOf(yield* collect(include, last(all))), [])
      // An end inside the NULL section stops there.
      assert.deepStrictEqual(
        idsOf(yield* collect(include, undefined, { [stream]: { cursor: null, key: "5" } })),
        [1, 3, 5]
      )
      // Only NULL cursors: include-first still reads them.
      const onlyNulls = uniqueTable("onlynulls")
      yield* run(sql`create table ${sql.ident(onlyNulls)} (id int4 primary key, v int4)`)
      yield* run(sql`insert into ${sql.ident(onlyNulls)} values (1, null), (2, null)`)
      const source = PostgresSource.make({
        connection: config,
        streams: [{ table: onlyNulls, cursor: "v", key: "id", onNull: "include-first" }]
      })
      assert.deepStrictEqual(idsOf(yield* collect(source)), [1, 2])
    })
  )
})
