import { randomBytes } from "node:crypto"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { type Batch, Timestamp } from "@data-mcp/core"
import { ConnectorConformance } from "@data-mcp/core/testing"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { Effect, Schema, type Scope, Stream } from "effect"
import { from as copyFrom } from "pg-copy-streams"
import * as Pool from "../src/internal/pool.ts"
import * as PostgresCodec from "../src/PostgresCodec.ts"
import * as PostgresSource from "../src/PostgresSource.ts"
import { sql } from "../src/Sql.ts"
import * as Db from "./utils.ts"

const config = Pool.configFromEnv()

const unreachable = await Db.unreachable("PostgresSource")

const created: Array<string> = []
const uniqueTable = (prefix: string) => {
  const name = `dm_src_${prefix}_${randomBytes(5).toString("hex")}`
  created.push(name)
  return name
}

/** Runs statements on a fresh pool. */
const exec = <A>(f: (pool: import("pg").Pool) => Effect.Effect<A, unknown, Scope.Scope>) =>
  Effect.scoped(Effect.flatMap(Pool.pool(config), f))

afterAll(async () => {
  if (unreachable !== undefined) return
  await Effect.runPromise(
    exec((pool) =>
      Effect.forEach(created, (t) => Pool.query(pool, sql`drop table if exists ${sql.ident(t)}`, "cleanup"))
    )
  )
})

interface Rec {
  readonly id: bigint
  readonly name: string
  readonly amount: string
  readonly at: Timestamp.Timestamp
}

const COLUMNS: ReadonlyArray<PostgresCodec.Column> = [
  { name: "id", oid: PostgresCodec.Oid.int8 },
  { name: "name", oid: PostgresCodec.Oid.text },
  { name: "amount", oid: PostgresCodec.Oid.numeric },
  { name: "at", oid: PostgresCodec.Oid.timestamptz }
]

const BASE = 1_767_225_600_000_000n // 2026-01-01T00:00:00Z in microseconds

// Three records share each `at`, so equal cursor values straddle page boundaries.
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

const createTable = (table: string) =>
  exec((pool) =>
    Pool.query(
      pool,
      sql`create table ${sql.ident(table)} (id int8 primary key, name text not null, amount numeric not null, at timestamptz not null)`,
      "setup"
    )
  )

const insert = (table: string, records: ReadonlyArray<Rec>) =>
  exec((pool) =>
    Effect.gen(function* () {
      const client = yield* Pool.client(pool, "setup")
      const payload = PostgresCodec.makeEncoder(COLUMNS).encodeRows(
        records as unknown as ReadonlyArray<PostgresCodec.Row>
      )
      yield* Effect.promise(() =>
        pipeline(Readable.from([payload]), client.query(copyFrom(`COPY "${table}" (id, name, amount, at) FROM STDIN`)))
      )
    })
  )

const sourceOver = (table: string, batchSize?: number) =>
  PostgresSource.make({
    connection: config,
    streams: [{ table, cursor: "at", key: "id" }],
    ...(batchSize === undefined ? {} : { batchSize })
  })

const context = { runId: "test", batchRows: 10 }

const collect = (
  source: ReturnType<typeof PostgresSource.make>,
  from?: PostgresSource.PostgresCheckpoint,
  take?: number
) => {
  const batches = source.read(from, context)
  return Stream.runCollect(take === undefined ? batches : Stream.take(batches, take))
}

const idsOf = (batches: ReadonlyArray<Batch.Batch<PostgresSource.Row, unknown>>) =>
  batches.flatMap((b) => b.records.map((r) => String(r.id)))

const lastCheckpoint = (batches: ReadonlyArray<Batch.Batch<PostgresSource.Row, PostgresSource.PostgresCheckpoint>>) =>
  batches.at(-1)!.checkpoint!

describe.skipIf(unreachable !== undefined)("PostgresSource", () => {
  ConnectorConformance.suite<Rec, never>("postgres-source", {
    source: {
      records: (n) => makeRecords(n),
      make: (records) =>
        Effect.gen(function* () {
          const table = uniqueTable("conf")
          yield* createTable(table)
          yield* insert(table, records)
          return sourceOver(table) as unknown as import("@data-mcp/core").Pipeline.AnySource<Rec>
        }),
      id: (r) => String(r.id)
    }
  })

  it.live("reads every value losslessly", () =>
    Effect.gen(function* () {
      const table = uniqueTable("values")
      const records = makeRecords(7)
      yield* createTable(table)
      yield* insert(table, records)
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
      const stream = `public.${table}`
      // The checkpoint keeps the exact text PostgreSQL prints, never a Date or a number.
      assert.deepStrictEqual(lastCheckpoint(batches), {
        [stream]: { cursor: "2026-01-01 00:00:02.000002+00", key: "9007199254740999" }
      })
      const json = Schema.encodeSync(PostgresSource.PostgresCheckpoint)(lastCheckpoint(batches))
      assert.deepStrictEqual(Schema.decodeUnknownSync(PostgresSource.PostgresCheckpoint)(json), lastCheckpoint(batches))
    })
  )

  it.live("equal cursor values across page boundaries are neither lost nor repeated", () =>
    Effect.gen(function* () {
      const table = uniqueTable("ties")
      yield* exec((pool) =>
        Effect.gen(function* () {
          yield* Pool.query(pool, sql`create table ${sql.ident(table)} (id int4 primary key, v int4 not null)`, "setup")
          yield* Pool.query(
            pool,
            sql`insert into ${sql.ident(table)} select g, g / 7 from generate_series(1, 50) g`,
            "setup"
          )
        })
      )
      const source = PostgresSource.make({
        connection: config,
        streams: [{ table, cursor: "v", key: "id" }],
        batchSize: 4
      })
      const ids = idsOf(yield* collect(source))
      assert.deepStrictEqual(
        ids,
        Array.from({ length: 50 }, (_, i) => String(i + 1))
      )
    })
  )

  it.live("rows added after the run started are left to the next run; a resume reads exactly the rest", () =>
    Effect.gen(function* () {
      const table = uniqueTable("bound")
      yield* createTable(table)
      yield* insert(table, makeRecords(20))
      const source = sourceOver(table, 6)
      let added = false
      const first = yield* Stream.runCollect(
        source.read(undefined, context).pipe(
          Stream.tap(() =>
            added
              ? Effect.void
              : Effect.map(insert(table, makeRecords(5, 20)), () => {
                  added = true
                })
          )
        )
      )
      assert.deepStrictEqual(
        idsOf(first),
        makeRecords(20).map((r) => String(r.id))
      )
      const second = yield* collect(source, lastCheckpoint(first))
      assert.deepStrictEqual(
        idsOf(second),
        makeRecords(5, 20).map((r) => String(r.id))
      )
      // Nothing new: the next run reads nothing.
      const third = yield* collect(source, lastCheckpoint(second))
      assert.deepStrictEqual(idsOf(third), [])

      // Resume from the middle: exactly the rest.
      const head = yield* collect(source, undefined, 2)
      const rest = yield* collect(source, lastCheckpoint(head))
      assert.deepStrictEqual(
        [...idsOf(head), ...idsOf(rest)],
        makeRecords(25).map((r) => String(r.id))
      )
      assert.strictEqual(idsOf(head).length, 12)
    })
  )

  it.live("a consumer that fails or stops early leaves no transaction open", () =>
    Effect.gen(function* () {
      const table = uniqueTable("abort")
      yield* createTable(table)
      yield* insert(table, makeRecords(30))
      const source = sourceOver(table, 5)
      const failed = yield* Effect.exit(
        Stream.runDrain(source.read(undefined, context).pipe(Stream.tap(() => Effect.die("consumer failed"))))
      )
      assert.isTrue(failed._tag === "Failure")
      const ended = yield* Effect.exit(
        Stream.runDrain(source.read(undefined, context).pipe(Stream.tap(() => Effect.fail("stop"))))
      )
      assert.isTrue(ended._tag === "Failure")
      yield* collect(source, undefined, 1)
      const open = yield* exec((pool) =>
        Pool.query<{ n: number }>(
          pool,
          sql`select count(*)::int as n from pg_stat_activity where state like 'idle in transaction%' and strpos(query, ${table}) > 0`,
          "check"
        )
      )
      assert.strictEqual(open.rows[0]!.n, 0)
    })
  )

  it.live("a stream without a cursor is a snapshot by key, then done", () =>
    Effect.gen(function* () {
      const table = uniqueTable("snap")
      yield* createTable(table)
      yield* insert(table, makeRecords(9))
      const source = PostgresSource.make({ connection: config, streams: [{ table, key: "id", columns: ["id"] }] })
      const batches = yield* Stream.runCollect(source.read(undefined, { runId: "t", batchRows: 4 }))
      assert.deepStrictEqual(
        batches.map((b) => b.records.length),
        [4, 4, 1, 0]
      )
      assert.deepStrictEqual(Object.keys(batches[0]!.records[0]!), ["id"])
      assert.deepStrictEqual(lastCheckpoint(batches), { [`public.${table}`]: { done: true } })
      const mid = yield* collect(source, batches[0]!.checkpoint)
      assert.deepStrictEqual(
        idsOf(mid),
        makeRecords(9)
          .slice(4)
          .map((r) => String(r.id))
      )
      assert.deepStrictEqual(idsOf(yield* collect(source, lastCheckpoint(batches))), [])
    })
  )

  it.live("key values with quotes and format directives round-trip safely", () =>
    Effect.gen(function* () {
      const table = uniqueTable("quotes")
      const victim = uniqueTable("victim")
      const keys = [
        "a",
        "o'brien",
        "''",
        `'); drop table ${victim}; --`,
        "back\\slash",
        'dq"',
        "$1",
        "%L %I %s %1$s",
        "E'\\x27'",
        "tab\tnl\n",
        "🎉"
      ].sort()
      yield* exec((pool) =>
        Effect.gen(function* () {
          yield* Pool.query(pool, sql`create table ${sql.ident(victim)} (x int)`, "setup")
          yield* Pool.query(pool, sql`create table ${sql.ident(table)} (k text collate "C" primary key)`, "setup")
          for (const k of keys) yield* Pool.query(pool, sql`insert into ${sql.ident(table)} values (${k})`, "setup")
        })
      )
      const source = PostgresSource.make({ connection: config, streams: [{ table, key: "k" }], batchSize: 2 })
      const batches = yield* collect(source)
      assert.deepStrictEqual(
        batches.flatMap((b) => b.records.map((r) => r.k)),
        keys
      )
      // Resume from every checkpoint: exactly the rest, each time.
      for (const [i, batch] of batches.entries()) {
        if (batch.records.length === 0) continue
        const rest = yield* collect(source, batch.checkpoint)
        assert.deepStrictEqual(
          rest.flatMap((b) => b.records.map((r) => r.k)),
          keys.slice(2 * (i + 1))
        )
      }
      const stillThere = yield* exec((pool) =>
        Pool.query(pool, sql`select to_regclass(${victim}) is not null as present`, "check")
      )
      assert.isTrue(stillThere.rows[0]!.present)
    })
  )

  it.live("refuses a table outside the discovered set, and unknown columns", () =>
    Effect.gen(function* () {
      const table = uniqueTable("known")
      yield* createTable(table)
      for (const name of [`${table}_missing`, `${table}"; drop table ${table}; --`]) {
        const error = yield* Effect.flip(
          collect(PostgresSource.make({ connection: config, streams: [{ table: name, key: "id" }] }))
        )
        assert.strictEqual(error.reason._tag, "NotFound")
        assert.isFalse(error.retryable)
      }
      const error = yield* Effect.flip(
        collect(PostgresSource.make({ connection: config, streams: [{ table, key: "id", cursor: "nope" }] }))
      )
      assert.strictEqual(error.reason._tag, "NotFound")
      const present = yield* exec((pool) =>
        Pool.query(pool, sql`select to_regclass(${table}) is not null as present`, "check")
      )
      assert.isTrue(present.rows[0]!.present)
    })
  )

  it.live("check, discover and estimate", () =>
    Effect.gen(function* () {
      const table = uniqueTable("meta")
      yield* createTable(table)
      yield* insert(table, makeRecords(30))
      yield* exec((pool) => Pool.query(pool, sql`analyze ${sql.ident(table)}`, "setup"))
      const source = sourceOver(table)
      yield* source.check!()
      const streams = yield* source.discover!()
      const info = streams.find((s) => s.name === `public.${table}`)
      assert.isDefined(info)
      const properties = (info!.jsonSchema as { properties: Record<string, { "x-field-type": string }> }).properties
      assert.deepStrictEqual(Object.keys(properties), ["id", "name", "amount", "at"])
      assert.strictEqual(properties.amount!["x-field-type"], "decimal")
      const estimate = yield* source.estimate!(undefined)
      assert.strictEqual(estimate.rows, 30)
      assert.isAbove(estimate.bytes ?? 0, 0)
    })
  )
})
