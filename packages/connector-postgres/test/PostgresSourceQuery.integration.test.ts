// Query streams against the real PostgreSQL: a stream read from a query written with `sql`, its values bound
// (injection payloads stay data), read by keyset pages with the same checkpoints as a table, only ever in
// READ ONLY transactions (a write inside the query fails), described by discover and estimated by EXPLAIN.
import { Batch, Config, type Pipeline, Timestamp } from "@data-mcp/core"
import { ConnectorConformance } from "@data-mcp/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Pool from "../src/internal/pool.ts"
import * as PostgresSource from "../src/PostgresSource.ts"
import { type Fragment, SqlError, sql } from "../src/Sql.ts"
import { type Batches, collect, config, exec, run } from "./sourceRead.ts"
import * as Db from "./utils.ts"

const { unreachable, freshSchema } = await Db.database("PostgresSource query", "dm_srcq")

const recordsOf = (batches: Batches) => batches.flatMap((b) => b.records)
const last = (batches: Batches) => batches.at(-1)!.checkpoint!

const querySource = (stream: Omit<PostgresSource.QueryStreamOptions, "name">, batchSize = 3) =>
  PostgresSource.make({ connection: config, streams: [{ name: "q", ...stream }], batchSize })

const BASE = 1_767_225_600_000_000n // 2026-01-01T00:00:00Z in microseconds

/** `schema.orders`: ids 1..n; even ids belong to tenant "acme", odd ones to "zeta"; three rows share each `at`. */
const orders = (n: number) =>
  Effect.gen(function* () {
    const schema = freshSchema()
    const table = sql.ident([schema, "orders"])
    yield* run(
      sql`create schema ${sql.ident(schema)}`,
      sql`create table ${table} (id int8 primary key, tenant text not null, name text not null,
        amount numeric not null, at timestamptz not null, tags text[] not null, blob bytea)`,
      sql`insert into ${table} select g, case when g % 2 = 0 then 'acme' else 'zeta' end, 'name ' || g || ' 100%',
        (g::numeric * 1000000000000) + 0.125, ${"2026-01-01T00:00:00Z"}::timestamptz + (g / 3) * interval '1.000001 second',
        array['t' || (g % 5)], decode(lpad(to_hex(g % 256), 2, '0'), 'hex') from generate_series(1, ${n}::int) g`
    )
    return { schema, table }
  })

interface Rec {
  readonly id: bigint
  readonly name: string
  readonly at: Timestamp.Timestamp
}

describe.skipIf(unreachable !== undefined)("PostgresSource query streams", () => {
  ConnectorConformance.suite<Rec, never>("postgres-query-source", {
    source: {
      records: (n) =>
        Array.from({ length: n }, (_, i) => ({
          id: 9_007_199_254_740_993n + BigInt(i),
          name: `rec ${i} 'q' %s`,
          at: Timestamp.fromEpochMicros(BASE + BigInt(Math.floor(i / 3)) * 1_000_001n, { zoned: true })
        })),
      make: (records) =>
        Effect.gen(function* () {
          const schema = freshSchema()
          const table = sql.ident([schema, "recs"])
          yield* run(
            sql`create schema ${sql.ident(schema)}`,
            sql`create table ${table} (id int8 primary key, tenant text not null, name text not null, at timestamptz not null)`
          )
          // Each record, and a decoy of another tenant that the bound filter leaves out.
          const ids = records.map((r) => r.id)
          const names = records.map((r) => r.name)
          const ats = records.map((r) => r.at.toISOString())
          yield* run(
            sql`insert into ${table} select r.id + t.shift, t.tenant, r.name, r.at
              from unnest(${ids}::int8[], ${names}::text[], ${ats}::timestamptz[]) as r(id, name, at)
              cross join (values (${"acme"}, 0), (${"zeta"}, 1000000)) as t(tenant, shift)`
          )
          return PostgresSource.make({
            connection: config,
            streams: [
              {
                name: "acme_recs",
                query: sql`select id, name, at from ${table} where tenant = ${"acme"}`,
                cursor: "at",
                key: "id"
              }
            ]
          }) as unknown as Pipeline.AnySource<Rec>
        }),
      id: (r) => String(r.id)
    }
  })

  it.live("binds every value, and reads the rows with the codec's types and exact-text checkpoints", () =>
    Effect.gen(function* () {
      const { table } = yield* orders(30)
      const stream = {
        query: sql`select id, name, amount, at, tags from ${table}
          where tenant = ${"acme"} and amount > ${"4000000000000"} and tags && ${["t1", "t2", "t3"]}
            and blob <> ${Buffer.from([0x0c])} and coalesce(${null}::text, name) like ${"name %"}`,
        cursor: "at",
        key: "id"
      }
      const batches = yield* collect(querySource(stream))
      const records = recordsOf(batches)
      // Even ids above 4 whose id % 5 is 1, 2 or 3, except 12 (its blob is 0x0c).
      const expected = Array.from({ length: 30 }, (_, i) => i + 1).filter(
        (g) => g % 2 === 0 && g > 4 && [1, 2, 3].includes(g % 5) && g !== 12
      )
      assert.deepStrictEqual(
        records.map((r) => r.id),
        expected.map(BigInt)
      )
      const first = records[0]!
      assert.deepStrictEqual(Object.keys(first), ["id", "name", "amount", "at", "tags"])
      assert.strictEqual(first.amount, `${expected[0]}000000000000.125`)
      assert.isTrue(Timestamp.isTimestamp(first.at))
      assert.deepStrictEqual(first.tags, [`t${expected[0]! % 5}`])
      // The checkpoint is the exact text of the last row's cursor and key, under the stream's name.
      assert.deepStrictEqual(last(batches), { q: { cursor: "2026-01-01 00:00:09.000009+00", key: "28" } })
      // The same rows, handed over as COPY text (encoded batches), decode to the same records.
      const encoded = yield* collect(querySource(stream), undefined, ["postgres/copy-text"])
      assert.isTrue(encoded.filter((b) => b.records.length > 0).every((b) => Batch.encodedOf(b) !== undefined))
      assert.deepStrictEqual(recordsOf(encoded), records)
      assert.deepStrictEqual(last(encoded), last(batches))
    })
  )

  it.live("injection payloads are bound as values: each matches only its own row, nothing runs", () =>
    Effect.gen(function* () {
      const schema = freshSchema()
      const sentinelName = "sentinel"
      const sentinel = sql.ident([schema, sentinelName])
      const table = sql.ident([schema, "names"])
      const payloads = [
        `'; drop table ${schema}.${sentinelName}; --`,
        "' or '1'='1",
        `'); delete from ${schema}.${sentinelName}; --`,
        "$1",
        "$$; drop table x; $$",
        "\\'; drop table x; --",
        "E'\\x27'",
        "/* */ select pg_sleep(10) --",
        "%s %I %L %1$s %2$L %%",
        "100% sure",
        "Ünïcödé 名前 🚀 ' \" ;",
        `${"x".repeat(5_000)}'; drop table ${schema}.${sentinelName}; --`
      ]
      yield* run(
        sql`create schema ${sql.ident(schema)}`,
        sql`create table ${sentinel} (id int)`,
        sql`insert into ${sentinel} values (1), (2)`,
        sql`create table ${table} (id int primary key, name text not null)`
      )
      for (const [i, p] of payloads.entries()) yield* run(sql`insert into ${table} values (${i + 1}, ${p})`)
      const source = PostgresSource.make({
        connection: config,
        streams: payloads.map((p, i) => ({
          name: `payload_${i}`,
          query: sql`select id, name from ${table} where name = ${p} or name = ${`${p}'`}`,
          key: "id"
        }))
      })
      for (const encodings of [undefined, ["postgres/copy-text"], ["postgres/copy-binary"]]) {
        const batches = yield* collect(source, undefined, encodings)
        for (const [i, p] of payloads.entries()) {
          const rows = batches.filter((b) => b.stream === `payload_${i}`).flatMap((b) => b.records)
          assert.deepStrictEqual(rows, [{ id: i + 1, name: p }], `payload ${i}`)
        }
      }
      // The query's own text may hold `%`, format directives, dollar quotes and comments: they stay text.
      // (The bound word must not occur in the schema name, which holds the process id.)
      const literal = yield* collect(
        querySource({
          query: sql`select id, name, '%s %I %%' as pct, $q$it's %L$q$ as dollar from ${table} /* 100% %1$s */
            where name like '%' || ${"sure"} || '%' -- 50% %L
              and id > ${0}`,
          key: "id"
        })
      )
      assert.deepStrictEqual(recordsOf(literal), [{ id: 10, name: "100% sure", pct: "%s %I %%", dollar: "it's %L" }])
      const kept = yield* exec((pool) => Pool.query(pool, sql`select id from ${sentinel} order by id`, "check"))
      assert.deepStrictEqual(kept.rows, [{ id: 1 }, { id: 2 }])
    })
  )

  it.live("an incremental query resumes from any checkpoint with exactly the rest; later runs read only new rows", () =>
    Effect.gen(function* () {
      const { table } = yield* orders(40)
      const source = querySource({
        query: sql`select id, at from ${table} where tenant = ${"acme"}`,
        cursor: "at",
        key: "id"
      })
      const ids = (batches: Batches) => recordsOf(batches).map((r) => Number(r.id))
      const evens = (from: number, to: number) =>
        Array.from({ length: to - from + 1 }, (_, i) => from + i).filter((g) => g % 2 === 0)
      const full = yield* collect(source)
      assert.deepStrictEqual(ids(full), evens(1, 40))
      for (const [i, batch] of full.entries()) {
        const rest = yield* collect(source, batch.checkpoint)
        assert.deepStrictEqual(ids(rest), evens(1, 40).slice(3 * (i + 1)), `resumed after batch ${i}`)
      }
      // New rows of both tenants: the next run reads exactly the new ones of the bound tenant.
      yield* run(
        sql`insert into ${table} select g, case when g % 2 = 0 then 'acme' else 'zeta' end, 'new', 1,
          ${"2027-01-01T00:00:00Z"}::timestamptz + g * interval '1 second', array['n'], null
          from generate_series(41, 50) g`
      )
      const next = yield* collect(source, last(full))
      assert.deepStrictEqual(ids(next), evens(41, 50))
      assert.deepStrictEqual(ids(yield* collect(source, last(next))), [])
    })
  )

  it.live("incremental options work on a query as on a table: NULL cursors first with onNull include-first", () =>
    Effect.gen(function* () {
      const schema = freshSchema()
      const table = sql.ident([schema, "events"])
      yield* run(
        sql`create schema ${sql.ident(schema)}`,
        sql`create table ${table} (id int primary key, tenant text not null, v int)`,
        sql`insert into ${table} select g, case when g % 2 = 0 then 'acme' else 'zeta' end,
          case when g % 3 = 0 then null else 100 - g end from generate_series(1, 30) g`
      )
      const source = querySource({
        query: sql`select id, v from ${table} where tenant = ${"acme"}`,
        cursor: "v",
        key: "id",
        onNull: "include-first"
      })
      const batches = yield* collect(source)
      const acme = Array.from({ length: 15 }, (_, i) => 2 * (i + 1))
      const nulls = acme.filter((id) => id % 3 === 0)
      const valued = acme.filter((id) => id % 3 !== 0).sort((a, b) => 100 - a - (100 - b))
      assert.deepStrictEqual(
        recordsOf(batches).map((r) => r.id),
        [...nulls, ...valued]
      )
      // Resume inside the NULL section, then from its end: exactly the rest each time.
      assert.deepStrictEqual(batches[0]!.checkpoint, { q: { cursor: null, key: "18" } })
      const rest = yield* collect(source, batches[0]!.checkpoint)
      assert.deepStrictEqual(
        recordsOf(rest).map((r) => r.id),
        [...nulls.slice(3), ...valued]
      )
    })
  )

  it.live("text keys with quotes and format directives page and resume safely", () =>
    Effect.gen(function* () {
      const schema = freshSchema()
      const table = sql.ident([schema, "keys"])
      const keys = ["a", "o'brien", "''", "%L %I %s %1$s", "100%", "back\\slash", 'dq"', "$1", "tab\tnl\n", "🎉"].sort()
      yield* run(sql`create schema ${sql.ident(schema)}`, sql`create table ${table} (k text collate "C" primary key)`)
      for (const k of keys) yield* run(sql`insert into ${table} values (${k})`)
      const source = querySource({ query: sql`select k from ${table} where k <> ${"none'"}`, key: "k" }, 2)
      const batches = yield* collect(source)
      assert.deepStrictEqual(
        recordsOf(batches).map((r) => r.k),
        keys
      )
      for (const [i, batch] of batches.entries()) {
        if (batch.records.length === 0) continue
        const rest = yield* collect(source, batch.checkpoint)
        assert.deepStrictEqual(
          recordsOf(rest).map((r) => r.k),
          keys.slice(2 * (i + 1))
        )
      }
    })
  )

  it.live("a query that writes is refused by the READ ONLY transaction, and nothing is written", () =>
    Effect.gen(function* () {
      const schema = freshSchema()
      const sentinel = sql.ident([schema, "sentinel"])
      const counter = sql.ident([schema, "counter"])
      const writer = sql.ident([schema, "writer"])
      yield* run(
        sql`create schema ${sql.ident(schema)}`,
        sql`create table ${sentinel} (id int primary key)`,
        sql`insert into ${sentinel} values (1), (2)`,
        sql`create sequence ${counter}`,
        sql`create function ${writer}(target regclass) returns int language plpgsql volatile as $$
          begin execute pg_catalog.format('insert into %s values (99)', target); return 99; end $$`
      )
      // A write the executor meets (a locking read, a sequence, a writing function) fails on READ ONLY.
      const writes = [
        sql`select id from ${sentinel} for update`,
        sql`select nextval(${`${schema}.counter`}::regclass) as id from ${sentinel}`,
        sql`select ${writer}(${`${schema}.sentinel`}::regclass) as id from ${sentinel}`
      ]
      for (const query of writes) {
        const error = yield* Effect.flip(collect(querySource({ query, key: "id" })))
        assert.strictEqual(error._tag, "ConnectorError")
        assert.isFalse(error.retryable)
        assert.include(error.message, "SQLSTATE 25006 read_only_sql_transaction", String(query))
      }
      // A data-modifying WITH cannot even be read as a subquery.
      const cte = yield* Effect.flip(
        collect(
          querySource({
            query: sql`with gone as (delete from ${sentinel} returning id) select id from gone`,
            key: "id"
          })
        )
      )
      assert.include(cte.message, "SQLSTATE 0A000 feature_not_supported")
      const kept = yield* exec((pool) => Pool.query(pool, sql`select id from ${sentinel} order by id`, "check"))
      assert.deepStrictEqual(kept.rows, [{ id: 1 }, { id: 2 }])
      const sequence = yield* exec((pool) =>
        Pool.query(pool, sql`select last_value::int as v, is_called from ${counter}`, "check")
      )
      assert.deepStrictEqual(sequence.rows, [{ v: 1, is_called: false }])
    })
  )

  it("a query stream that is not one read statement is refused when the source is made", () => {
    const refused = (query: unknown) => {
      try {
        PostgresSource.make({ connection: config, streams: [{ name: "q", query: query as Fragment, key: "id" }] })
      } catch (e) {
        return e
      }
      return undefined
    }
    for (const query of [
      sql`delete from t returning id`,
      sql`insert into t values (1) returning id`,
      sql`/* a comment */ (update t set x = 1 returning id)`,
      sql`vacuum t`,
      "select id from t"
    ]) {
      const error = refused(query)
      assert.instanceOf(error, Config.ConfigError, String(query))
      assert.strictEqual((error as Config.ConfigError).path, "streams.0.query")
    }
    assert.isUndefined(
      refused(sql`-- rows
      (select 1 as id) union all (select 2)`)
    )
    // A second statement never even becomes a query.
    assert.throws(() => sql`select 1 as id; delete from t`, SqlError)
  })

  it.live("a query without a key is read in one COPY, then done; duplicate column names are refused", () =>
    Effect.gen(function* () {
      const { table } = yield* orders(12)
      const source = querySource({ query: sql`select id, name from ${table} where id <= ${5} order by id desc` })
      const batches = yield* collect(source)
      assert.deepStrictEqual(
        batches.map((b) => b.records.map((r) => Number(r.id))),
        [[5, 4, 3, 2, 1]]
      )
      assert.deepStrictEqual(last(batches), { q: { done: true } })
      assert.deepStrictEqual(yield* collect(source, last(batches)), [])
      const twice = yield* Effect.flip(
        collect(
          querySource({ query: sql`select o.id, p.id from ${table} o join ${table} p using (tenant)`, key: "id" })
        )
      )
      assert.include(twice.message, `"id" more than once`)
    })
  )

  it.live("discover describes a query's columns; estimate is the planner's row estimate", () =>
    Effect.gen(function* () {
      const { table } = yield* orders(200)
      yield* run(sql`analyze ${table}`)
      const source = querySource({
        query: sql`select id, amount, at, tags from ${table} where id <= ${100}`,
        key: "id"
      })
      const info = (yield* source.discover!()).find((s) => s.name === "q")
      assert.deepStrictEqual(info?.jsonSchema, {
        type: "object",
        properties: {
          id: { "x-field-type": "integer", "x-postgres-type": "bigint", "x-nullable": true },
          amount: { "x-field-type": "decimal", "x-postgres-type": "numeric", "x-nullable": true },
          at: { "x-field-type": "timestamp", "x-postgres-type": "timestamp with time zone", "x-nullable": true },
          tags: { "x-field-type": "array", "x-postgres-type": "text[]", "x-nullable": true }
        }
      })
      const estimate = yield* source.estimate!(undefined)
      const rows = estimate.streams?.q?.rows ?? 0
      // The planner's estimate for `id <= 100` of 200 analysed rows: near 100, not the table's 200.
      assert.isAbove(rows, 50)
      assert.isBelow(rows, 150)
      assert.isAbove(estimate.bytes ?? 0, 0)
    })
  )
})
