import { randomBytes } from "node:crypto"
import { Memory, Pipeline, Runner, Timestamp } from "@data-mcp/core"
import { FaultInjection } from "@data-mcp/core/testing"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import type pg from "pg"
import * as Pool from "../src/internal/pool.ts"
import * as PostgresSink from "../src/PostgresSink.ts"
import { sql } from "../src/Sql.ts"
import * as Db from "./utils.ts"

// Inferred tables and schema evolution against the real PostgreSQL (see PostgresSink.integration.test.ts).
const connection = { ...Pool.configFromEnv(), connectTimeoutMs: 5_000 }

const run = <A, E>(f: (pool: pg.Pool) => Effect.Effect<A, E>) =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(Pool.pool(connection), f)))

const unreachable = await Db.unreachable("PostgresSink evolution")

const schema = `dm_evolve_${randomBytes(4).toString("hex")}`
let tables = 0
const nextTable = () => `e_${++tables}`

type Options = Omit<PostgresSink.SinkOptionsInput, "connection" | "table">

const makeSink = (table: string, options: Options = {}) =>
  PostgresSink.make({ connection, table: [schema, table], ...options })

const { batch, changesOf, exec, openWriter } = Db

/** The table's columns and their types, as `name type` in column order. */
const columnsOf = (table: string) =>
  Effect.map(
    exec(
      sql`select column_name || ' ' || case when character_maximum_length is null then data_type else data_type || '(' || character_maximum_length || ')' end as c from information_schema.columns where table_schema = ${schema} and table_name = ${table} order by ordinal_position`
    ),
    (r) => r.rows.map((row) => row.c as string)
  )

/** Every row as JSON text (jsonb of the row), ordered by id. */
const rowsOf = (table: string) =>
  Effect.map(exec(sql`select to_jsonb(t)::text as j from ${sql.ident([schema, table])} as t order by id`), (r) =>
    r.rows.map((row) => JSON.parse(row.j as string) as Record<string, unknown>)
  )

const describeIf = unreachable === undefined ? describe : describe.skip

describeIf("PostgresSink schema evolution", () => {
  beforeAll(() => run((p) => Pool.query(p, sql`create schema if not exists ${sql.ident(schema)}`, "check")))
  afterAll(() => run((p) => Pool.query(p, sql`drop schema if exists ${sql.ident(schema)} cascade`, "check")))

  it.live("infers the columns from the first batch and creates the table", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const table = nextTable()
        const writer = yield* openWriter(makeSink(table), `infer:${table}`)
        // No table until the first batch.
        assert.deepStrictEqual(yield* columnsOf(table), [])
        const result = yield* writer.write(
          batch([
            {
              id: 1,
              big: 9_007_199_254_740_993n,
              price: 1.5,
              name: "ä",
              ok: true,
              at: Timestamp.fromEpochMicros(1_700_000_000_000_001n),
              wall: Timestamp.fromEpochMicros(1_700_000_000_000_001n, { zoned: false }),
              meta: { a: [1, 2] },
              tags: ["x"],
              bin: new Uint8Array([1, 2, 255]),
              nothing: null
            },
            { id: 2, big: 1, price: 2, name: null, ok: false }
          ]),
          { seq: 0, checkpointFrom: null, checkpointTo: 1 }
        )
        assert.strictEqual(result.written, 2)
        // The table the write created is the first version of its schema.
        assert.deepStrictEqual(changesOf(result), [
          `${schema}.${table} v1: + added: id (bigint); + added: big (bigint); + added: price (numeric); + added: name (text); + added: ok (boolean); + added: at (timestamptz); + added: wall (timestamp); + added: meta (jsonb); + added: tags (text[]); + added: bin (bytea)`
        ])
        assert.deepStrictEqual(yield* columnsOf(table), [
          "id bigint",
          "big bigint",
          // 1.5 and 2: integer ⊔ number = decimal.
          "price numeric",
          "name text",
          "ok boolean",
          "at timestamp with time zone",
          "wall timestamp without time zone",
          "meta jsonb",
          // An array of strings is a text[] column (information_schema says ARRAY; see PostgresSinkArrays).
          "tags ARRAY",
          "bin bytea"
          // "nothing" (only nulls) has no type yet: no column.
        ])
        const rows = yield* rowsOf(table)
        assert.strictEqual(rows.length, 2)
        const big = yield* exec(sql`select big::text as b from ${sql.ident([schema, table])} where id = 1`)
        assert.strictEqual(big.rows[0]?.b, "9007199254740993")
        assert.deepStrictEqual(rows[0]!.meta, { a: [1, 2] })
        const tags = yield* exec(sql`select tags::text as t from ${sql.ident([schema, table])} where id = 1`)
        assert.strictEqual(tags.rows[0]?.t, "{x}")
        assert.strictEqual(rows[0]!.bin, "\\x0102ff")
        assert.strictEqual(rows[1]!.price, 2)
      })
    )
  )

  it.live("evolve: adds a column and widens bigint → numeric mid-run", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const table = nextTable()
        const writer = yield* openWriter(makeSink(table), `evolve:${table}`)
        yield* writer.write(batch([{ id: 1, amount: 5 }]), { seq: 0, checkpointFrom: null, checkpointTo: 1 })
        assert.deepStrictEqual(yield* columnsOf(table), ["id bigint", "amount bigint"])
        const result = yield* writer.write(
          batch([
            { id: 2, amount: 2.25, email: "e@x" },
            { id: 3, amount: 7 }
          ]),
          {
            seq: 1,
            checkpointFrom: 1,
            checkpointTo: 2
          }
        )
        assert.strictEqual(result.written, 2)
        assert.deepStrictEqual(changesOf(result), [
          `${schema}.${table} v2: + added: email (text); ~ widened: amount bigint → numeric`
        ])
        assert.deepStrictEqual(yield* columnsOf(table), ["id bigint", "amount numeric", "email text"])
        assert.deepStrictEqual(yield* rowsOf(table), [
          { id: 1, amount: 5, email: null },
          { id: 2, amount: 2.25, email: "e@x" },
          { id: 3, amount: 7, email: null }
        ])
        assert.deepStrictEqual(Option.getOrNull(yield* writer.loadCheckpoint!), 2)
      })
    )
  )

  it.live(
    "evolve: lossless widenings of an existing table (int4 → int8, varchar(n) → text, real → float8, date → timestamptz)",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const table = nextTable()
          yield* exec(
            sql`create table ${sql.ident([schema, table])} (id integer, code varchar(3), ratio real, day date, keep text default 'dflt')`
          )
          const writer = yield* openWriter(makeSink(table), `widen:${table}`)
          yield* writer.write(batch([{ id: 1, code: "abc", ratio: 0.5, day: "2026-01-02" }]), {
            seq: 0,
            checkpointFrom: null,
            checkpointTo: 1
          })
          // Nothing needed widening yet; an undeclared column absent from the records keeps its default.
          assert.deepStrictEqual(yield* columnsOf(table), [
            "id integer",
            "code character varying(3)",
            "ratio real",
            "day date",
            "keep text"
          ])
          yield* writer.write(
            batch([
              {
                id: 3_000_000_000,
                code: "abcdef",
                ratio: 0.1,
                day: Timestamp.fromISOString("2026-01-02T03:04:05.000006Z")
              }
            ]),
            { seq: 1, checkpointFrom: 1, checkpointTo: 2 }
          )
          assert.deepStrictEqual(yield* columnsOf(table), [
            "id bigint",
            "code text",
            "ratio double precision",
            "day timestamp with time zone",
            "keep text"
          ])
          const rows = yield* rowsOf(table)
          assert.deepStrictEqual(rows[0], {
            id: 1,
            code: "abc",
            ratio: 0.5,
            day: "2026-01-02T00:00:00+00:00",
            keep: "dflt"
          })
          assert.deepStrictEqual(rows[1], {
            id: 3_000_000_000,
            code: "abcdef",
            ratio: 0.1,
            day: "2026-01-02T03:04:05.000006+00:00",
            keep: "dflt"
          })
        })
      )
  )

  it.live("evolve: a widening that is not lossless fails like freeze", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const table = nextTable()
        const sink = makeSink(table, { columns: [{ name: "x", type: "double precision" }] })
        const writer = yield* openWriter(sink, `lossy:${table}`)
        const error = yield* Effect.flip(
          writer.write(batch([{ x: 2n ** 60n }]), { seq: 0, checkpointFrom: null, checkpointTo: 1 })
        )
        assert.strictEqual(error._tag, "ConnectorError")
        assert.include((error as unknown as Error).message, "! incompatible: x double precision → numeric")
        assert.deepStrictEqual(yield* columnsOf(table), ["x double precision"])
      })
    )
  )

  it.live("freeze: fails with a readable diff, non-retryable, and changes nothing", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const table = nextTable()
        const sink = makeSink(table, {
          columns: [
            { name: "id", type: "bigint" },
            { name: "amount", type: "bigint" }
          ],
          schemaEvolution: "freeze"
        })
        const writer = yield* openWriter(sink, `freeze:${table}`)
        const first = yield* writer.write(batch([{ id: 1, amount: 2 }]), {
          seq: 0,
          checkpointFrom: null,
          checkpointTo: 1
        })
        assert.strictEqual(first.written, 1)
        // Opening the sink created the declared table: reported with the first write.
        assert.deepStrictEqual(changesOf(first), [
          `${schema}.${table} v1: + added: id (bigint); + added: amount (bigint)`
        ])
        const error = yield* Effect.flip(
          writer.write(batch([{ id: 2, amount: 1.5, email: "e" }]), { seq: 1, checkpointFrom: 1, checkpointTo: 2 })
        )
        assert.strictEqual(error._tag, "ConnectorError")
        const connectorError = error as unknown as { retryable: boolean; message: string }
        assert.isFalse(connectorError.retryable)
        assert.include(connectorError.message, "+ added: email (text)")
        assert.include(connectorError.message, "~ widened: amount bigint → numeric")
        assert.include(connectorError.message, 'schemaEvolution is "freeze"')
        assert.deepStrictEqual(yield* columnsOf(table), ["id bigint", "amount bigint"])
        assert.deepStrictEqual(yield* rowsOf(table), [{ id: 1, amount: 2 }])
        assert.deepStrictEqual(Option.getOrNull(yield* writer.loadCheckpoint!), 1)
      })
    )
  )

  it.live("discardValue drops the field; discardRow rejects the record naming the field", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const columns = [
          { name: "id", type: "bigint" },
          { name: "n", type: "integer" }
        ] as const
        const valueTable = nextTable()
        const values = yield* openWriter(
          makeSink(valueTable, { columns, schemaEvolution: "discardValue" }),
          `dv:${valueTable}`
        )
        const r1 = yield* values.write(
          batch([
            { id: 1, n: 1, email: "e" },
            { id: 2, n: 5_000_000_000 },
            { id: 3, n: 3 }
          ]),
          { seq: 0, checkpointFrom: null, checkpointTo: 1 }
        )
        assert.strictEqual(r1.written, 3)
        assert.deepStrictEqual(changesOf(r1), [
          `${schema}.${valueTable} v1: + added: id (bigint); + added: n (integer)`
        ])
        assert.deepStrictEqual(yield* columnsOf(valueTable), ["id bigint", "n integer"])
        assert.deepStrictEqual(yield* rowsOf(valueTable), [
          { id: 1, n: 1 },
          { id: 2, n: null },
          { id: 3, n: 3 }
        ])

        const rowTable = nextTable()
        const rows = yield* openWriter(makeSink(rowTable, { columns, schemaEvolution: "discardRow" }), `dr:${rowTable}`)
        const r2 = yield* rows.write(
          batch([
            { id: 1, n: 1, email: "secret@x" },
            { id: 2, n: "not a number" },
            { id: 3, n: 5_000_000_000 },
            { id: 4, n: 4, email: null }
          ]),
          { seq: 0, checkpointFrom: null, checkpointTo: 1 }
        )
        assert.strictEqual(r2.written, 1)
        assert.deepStrictEqual(
          r2.rejected?.map((r) => r.index),
          [0, 1, 2]
        )
        assert.include(r2.rejected?.[0]?.reason, 'field "email"')
        assert.notInclude(r2.rejected?.[0]?.reason, "secret")
        // A value no widening helps is refused by the codec, as before.
        assert.include(r2.rejected?.[1]?.reason, '"n"')
        assert.include(r2.rejected?.[2]?.reason, "widening to bigint")
        assert.deepStrictEqual(yield* columnsOf(rowTable), ["id bigint", "n integer"])
        assert.deepStrictEqual(yield* rowsOf(rowTable), [{ id: 4, n: 4 }])
      })
    )
  )

  it.live("exactly-once across an evolution: a replayed batch that evolved the table is skipped", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const table = nextTable()
        const sink = makeSink(table)
        const key = `eo:${table}`
        const writer = yield* openWriter(sink, key)
        yield* writer.write(batch([{ id: 1 }]), { seq: 0, checkpointFrom: null, checkpointTo: 1 })
        const evolving = batch([{ id: 2, extra: "x" }])
        const evolved = yield* writer.write(evolving, { seq: 1, checkpointFrom: 1, checkpointTo: 2 })
        assert.deepStrictEqual(changesOf(evolved), [`${schema}.${table} v2: + added: extra (text)`])
        // The acknowledgement was lost: the same batch again, on a writer opened anew. It writes nothing, and
        // reports the change its committed attempt made (so a lost acknowledgement does not lose the event).
        const again = yield* openWriter(sink, key)
        assert.deepStrictEqual(Option.getOrNull(yield* again.loadCheckpoint!), 2)
        const replayed = yield* again.write(evolving, { seq: 1, checkpointFrom: 1, checkpointTo: 2 })
        assert.strictEqual(replayed.written, 1)
        assert.deepStrictEqual(changesOf(replayed), changesOf(evolved))
        assert.deepStrictEqual(yield* rowsOf(table), [
          { id: 1, extra: null },
          { id: 2, extra: "x" }
        ])
        // A newer lease fences the old writer, even for a batch that would evolve the table.
        const newer = yield* openWriter(sink, key, 2)
        yield* newer.write(batch([{ id: 3 }]), { seq: 0, checkpointFrom: 2, checkpointTo: 3 })
        const fenced = yield* Effect.flip(
          writer.write(batch([{ id: 4, other: 1 }]), { seq: 2, checkpointFrom: 2, checkpointTo: 3 })
        )
        assert.strictEqual(fenced._tag, "StateError")
        assert.deepStrictEqual(yield* columnsOf(table), ["id bigint", "extra text"])
      })
    )
  )

  it.live("merge and replace with inferred columns evolve the table they write to", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const mergeTable = nextTable()
        const merging = yield* openWriter(
          makeSink(mergeTable, { disposition: { merge: { key: ["id"], versionBy: "v" } } }),
          `m:${mergeTable}`
        )
        yield* merging.write(
          batch([
            { id: 1, v: 1 },
            { id: 2, v: 1 }
          ]),
          { seq: 0, checkpointFrom: null, checkpointTo: 1 }
        )
        yield* merging.write(
          batch([
            { id: 1, v: 2, label: "new" },
            { id: 2, v: 0, label: "stale" }
          ]),
          { seq: 1, checkpointFrom: 1, checkpointTo: 2 }
        )
        assert.deepStrictEqual(yield* columnsOf(mergeTable), ["id bigint", "v bigint", "label text"])
        assert.deepStrictEqual(yield* rowsOf(mergeTable), [
          { id: 1, v: 2, label: "new" },
          { id: 2, v: 1, label: null }
        ])
        // A merge key that is not a column fails with the field named.
        const badTable = nextTable()
        const bad = yield* openWriter(
          makeSink(badTable, { disposition: { merge: { key: ["nope"] } } }),
          `b:${badTable}`
        )
        const error = yield* Effect.flip(
          bad.write(batch([{ id: 1 }]), { seq: 0, checkpointFrom: null, checkpointTo: 1 })
        )
        assert.include((error as unknown as Error).message, '"nope" is not a declared column')

        const replaceTable = nextTable()
        yield* exec(sql`create table ${sql.ident([schema, replaceTable])} (id bigint)`)
        yield* exec(sql`insert into ${sql.ident([schema, replaceTable])} values (100)`)
        const replacing = yield* openWriter(makeSink(replaceTable, { disposition: "replace" }), `r:${replaceTable}`)
        yield* replacing.write(batch([{ id: 1, extra: true }]), { seq: 0, checkpointFrom: null, checkpointTo: 1 })
        // The target is untouched until finish; then the evolved staging table is swapped in.
        assert.deepStrictEqual(yield* columnsOf(replaceTable), ["id bigint"])
        yield* replacing.finish!
        assert.deepStrictEqual(yield* columnsOf(replaceTable), ["id bigint", "extra boolean"])
        assert.deepStrictEqual(yield* rowsOf(replaceTable), [{ id: 1, extra: true }])
      })
    )
  )

  it.live("a run whose shape changes mid-stream, with replayed commits, delivers every row once", () =>
    Effect.gen(function* () {
      const table = nextTable()
      const rows = Array.from({ length: 40 }, (_, i) => ({
        id: i,
        amount: i < 10 ? i : i + 0.5,
        ...(i >= 20 ? { note: `n${i}` } : {})
      }))
      const sink = makeSink(table)
      const [replaying, counter] = FaultInjection.sink(sink, { on: [2, 5, 9], kind: "transient", when: "after" })
      const summary = yield* Runner.run(
        Pipeline.make({
          name: `evolve_${table}`,
          version: "1.0.0",
          description: "schema evolution mid-run",
          source: Memory.source(rows, { batchSize: 4 }),
          sink: replaying,
          options: {
            batch: { rows: 4, maxWaitMs: 20 },
            retry: { initialDelayMs: 1, maxDelayMs: 10, maxAttempts: 4 }
          }
        }),
        {}
      )
      assert.strictEqual(summary.status, "succeeded")
      assert.strictEqual(counter.faults(), 3)
      assert.deepStrictEqual(yield* columnsOf(table), ["id bigint", "amount numeric", "note text"])
      const out = yield* rowsOf(table)
      assert.deepStrictEqual(
        out,
        rows.map((r) => ({ id: r.id, amount: r.amount, note: r.note ?? null }))
      )
    }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )
})
