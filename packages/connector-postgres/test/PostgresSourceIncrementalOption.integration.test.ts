// PostgresSource streams given as `{ table, incremental: Incremental.make(…) }` against the real PostgreSQL:
// they read exactly the rows, batches and checkpoints of the same stream given with the source's own options
// (cursor, key, lag, lookback, onNull), first run and resumed; what the source cannot do is refused at make.
import { randomBytes } from "node:crypto"
import { type Batch, Config, Incremental } from "@data-mcp/core"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as Pool from "../src/internal/pool.ts"
import * as PostgresSource from "../src/PostgresSource.ts"
import { sql } from "../src/Sql.ts"
import * as Db from "./utils.ts"

const config = Pool.configFromEnv()
const unreachable = await Db.unreachable("PostgresSource incremental option")
const table = `dm_incopt_${randomBytes(5).toString("hex")}`
const stream = `public.${table}`

afterAll(async () => {
  if (unreachable === undefined) await Effect.runPromise(Db.exec(sql`drop table if exists ${sql.ident(table)}`))
})

type Batches = ReadonlyArray<Batch.Batch<PostgresSource.Row, PostgresSource.PostgresCheckpoint>>

const collect = (source: ReturnType<typeof PostgresSource.make>, from?: PostgresSource.PostgresCheckpoint) =>
  Stream.runCollect(source.read(from, { runId: "t", batchRows: 3 }))

/** Each batch as its ids and checkpoint. */
const shape = (batches: Batches) =>
  batches.map((b) => ({ ids: b.records.map((r) => Number(r.id)), checkpoint: b.checkpoint }))

/** The ConfigError `PostgresSource.make` throws for one stream. */
const refusal = (s: PostgresSource.IncrementalStreamOptions | Record<string, unknown>): Config.ConfigError => {
  try {
    PostgresSource.make({ connection: config, streams: [s as PostgresSource.IncrementalStreamOptions] })
  } catch (e) {
    assert.instanceOf(e, Config.ConfigError)
    return e as Config.ConfigError
  }
  return assert.fail("expected a ConfigError")
}

describe.skipIf(unreachable !== undefined)("PostgresSource with an Incremental", () => {
  it.live("reads the same rows, batches and checkpoints as the per-stream options, first run and resumed", () =>
    Effect.gen(function* () {
      yield* Db.exec(sql`create table ${sql.ident(table)} (id int4 primary key, at timestamptz, note text)`)
      // ids 1..12: minutes old in pairs (equal cursors straddle pages); 13, 14: no cursor; 15: too new for the lag.
      yield* Db.exec(
        sql`insert into ${sql.ident(table)} select g, date_trunc('second', now()) - ((30 - g / 2) * interval '1 minute'), 'r' || g from generate_series(1, 12) g`
      )
      yield* Db.exec(
        sql`insert into ${sql.ident(table)} values (13, null, 'n13'), (14, null, 'n14'), (15, now(), 'new')`
      )

      const own = PostgresSource.make({
        connection: config,
        streams: [{ table, cursor: "at", key: "id", lag: 60_000, lookback: 300_000, onNull: "include-first" }]
      })
      const described = PostgresSource.make({
        connection: config,
        streams: [
          {
            table,
            incremental: Incremental.make({
              cursor: "at",
              tieBreaker: "id",
              lag: "1 minute",
              lookback: "5 minutes",
              onNull: "include-first"
            })
          }
        ]
      })
      const first = shape(yield* collect(own))
      assert.deepStrictEqual(shape(yield* collect(described)), first)
      // The read is what the options say: nulls first, then by (at, id), without the row inside the lag.
      assert.deepStrictEqual(
        first.flatMap((b) => b.ids),
        [13, 14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
      )
      assert.deepStrictEqual(first[0]!.checkpoint, { [stream]: { cursor: null, key: "14" } })

      // Resumed from a checkpoint among the valued rows: the look-back re-reads the 5 minutes behind it.
      const from = first[2]!.checkpoint!
      const resumed = shape(yield* collect(own, from))
      assert.deepStrictEqual(shape(yield* collect(described, from)), resumed)
      assert.isAbove(resumed.flatMap((b) => b.ids).length, 0)
      assert.include(
        resumed.flatMap((b) => b.ids),
        4,
        "the look-back re-read a row at or before the checkpoint"
      )

      // Without the options that differ (no lag, no look-back, nulls skipped), the two forms still agree.
      const plainOwn = PostgresSource.make({ connection: config, streams: [{ table, cursor: "at", key: "id" }] })
      const plainDescribed = PostgresSource.make({
        connection: config,
        streams: [{ table, incremental: Incremental.make({ cursor: "at", tieBreaker: "id" }), columns: ["id", "at"] }]
      })
      const plain = shape(yield* collect(plainOwn))
      assert.deepStrictEqual(shape(yield* collect(plainDescribed)), plain)
      assert.deepStrictEqual(
        plain.flatMap((b) => b.ids),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 15]
      )
      const records = yield* collect(plainDescribed)
      assert.deepStrictEqual(Object.keys(records[0]!.records[0]!), ["id", "at"], "columns are kept")
    })
  )

  it("refuses at make what the source cannot read, naming the field", () => {
    const inc = (options: Incremental.IncrementalOptions) => Incremental.make(options)
    const cases: ReadonlyArray<readonly [Record<string, unknown>, string, RegExp]> = [
      [
        { table, incremental: inc({ cursor: "at", tieBreaker: "id", order: "desc" }) },
        "streams.0.incremental.order",
        /ascending/
      ],
      [
        { table, incremental: inc({ cursor: "at", tieBreaker: "id", initial: "2026-01-01 00:00:00+00" }) },
        "streams.0.incremental.initial",
        /beginning/
      ],
      [
        { table, incremental: inc({ cursor: "at", tieBreaker: "id", end: "2026-01-01 00:00:00+00" }) },
        "streams.0.incremental.end",
        /Runner\.start/
      ],
      [
        { table, key: "id", incremental: inc({ cursor: "at", tieBreaker: "id" }) },
        "streams.0.key",
        /either incremental or key/
      ]
    ]
    for (const [s, path, detail] of cases) {
      const error = refusal(s)
      assert.strictEqual(error.path, path)
      assert.match(error.detail, detail)
      assert.include(error.message, "postgres source")
    }
  })
})
