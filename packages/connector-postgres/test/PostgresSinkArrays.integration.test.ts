// Array columns of the sink against the real PostgreSQL (PGHOST/PGPORT/PGUSER/PGDATABASE, default 127.0.0.1:5432
// postgres/test): declared array types created by DDL and written through COPY, array types inferred from
// records, evolution (adding array columns, lossless widening of element types), per-record rejection of
// values PostgreSQL would refuse, and a PG → runner → PG round trip compared as exact `col::text`.
import { Pipeline, Runner, Timestamp } from "@data-mcp/core"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Pool from "../src/internal/pool.ts"
import * as PostgresSink from "../src/PostgresSink.ts"
import * as PostgresSource from "../src/PostgresSource.ts"
import { sql } from "../src/Sql.ts"
import * as Db from "./utils.ts"

const connection = { ...Pool.configFromEnv(), connectTimeoutMs: 5_000 }
const db = await Db.database("PostgresSink arrays", "dm_arr")
const schema = db.freshSchema()
let tables = 0
const nextTable = () => `a_${++tables}`

type Options = Omit<PostgresSink.SinkOptionsInput, "connection" | "table">

const makeSink = (table: string, options: Options = {}) =>
  PostgresSink.make({ connection, table: [schema, table], ...options })

const { batch, changesOf, exec, openWriter } = Db

/** The table's columns as `name type`, arrays spelt with their element type (`tags text[]`). */
const columnsOf = (table: string) =>
  Effect.map(
    exec(
      sql`select a.attname || ' ' || format_type(a.atttypid, a.atttypmod) as c from pg_attribute a where a.attrelid = to_regclass(${`"${schema}"."${table}"`}) and a.attnum > 0 and not a.attisdropped order by a.attnum`
    ),
    (r) => r.rows.map((row) => row.c as string)
  )

/** `col::text` of every column, ordered by id. */
const textOf = (table: string, columns: ReadonlyArray<string>) =>
  Effect.map(
    exec(
      sql`select ${sql.join(columns.map((c) => sql`${sql.ident(c)}::text as ${sql.ident(c)}`))} from ${sql.ident([schema, table])} order by id`
    ),
    (r) => r.rows as Array<Record<string, string | null>>
  )

const ts = (iso: string, zoned = true) => {
  const t = Timestamp.fromISOString(iso)
  return zoned ? t : Timestamp.fromEpochMicros(t.micros, { zoned: false })
}

const describeIf = db.unreachable === undefined ? describe : describe.skip

describeIf("PostgresSink array columns", () => {
  beforeAll(() => Effect.runPromise(exec(sql`create schema if not exists ${sql.ident(schema)}`)))
  afterAll(() => Effect.runPromise(exec(sql`drop schema if exists ${sql.ident(schema)} cascade`)))

  it("validates declared array types and accepts the int8/int4/float8/bool aliases", () => {
    assert.doesNotThrow(() =>
      makeSink("x", {
        columns: [
          { name: "a", type: "int8[]" },
          { name: "b", type: "text[]" },
          { name: "c", type: "bool" }
        ]
      })
    )
    assert.throws(() => makeSink("x", { columns: [{ name: "a", type: "text[][]" as never }] }), /columns\.0\.type/)
    assert.throws(() => makeSink("x", { columns: [{ name: "a", type: "uuid[]" as never }] }), /columns\.0\.type/)
  })

  it.live("declared array columns are created by DDL and written through COPY, exactly", () =>
    Effect.gen(function* () {
      const table = nextTable()
      const sink = makeSink(table, {
        columns: [
          { name: "id", type: "bigint" },
          { name: "tags", type: "text[]" },
          { name: "ids", type: "int8[]" },
          { name: "ints", type: "integer[]" },
          { name: "amounts", type: "numeric[]" },
          { name: "ratios", type: "double precision[]" },
          { name: "flags", type: "boolean[]" },
          { name: "docs", type: "jsonb[]" },
          { name: "ats", type: "timestamptz[]" },
          { name: "walls", type: "timestamp[]" },
          { name: "days", type: "date[]" },
          { name: "blobs", type: "bytea[]" },
          { name: "grid", type: "bigint[]" }
        ]
      })
      const writer = yield* openWriter(sink, `declared:${table}`)
      assert.deepStrictEqual(yield* columnsOf(table), [
        "id bigint",
        "tags text[]",
        "ids bigint[]",
        "ints integer[]",
        "amounts numeric[]",
        "ratios double precision[]",
        "flags boolean[]",
        "docs jsonb[]",
        "ats timestamp with time zone[]",
        "walls timestamp without time zone[]",
        "days date[]",
        "blobs bytea[]",
        "grid bigint[]"
      ])
      const result = yield* writer.write(
        batch([
          {
            id: 1,
            tags: ["a,b", 'c"d', "e\\f", "NULL", "", " sp ", "{x}", null, "漢字🚀", "tab\there", "nl\nhere"],
            ids: [9_007_199_254_740_993n, null, -9_223_372_036_854_775_808n],
            ints: [1, -2_147_483_648, 2_147_483_647],
            amounts: ["123456789012345678901.234567890", "-0.5", "NaN", null],
            ratios: [0.1, -0, Number.POSITIVE_INFINITY, Number.NaN],
            flags: [true, false, null],
            docs: [{ a: [1, 2], big: 9_007_199_254_740_993n }, [1, "x"], "s", null],
            ats: [ts("2024-03-10T02:30:00.123456Z"), "infinity", null],
            walls: [ts("2024-02-29T23:59:59.999999Z", false)],
            days: ["2024-02-29", "-000043-03-15", "infinity"],
            blobs: [new Uint8Array([0, 1, 255]), new Uint8Array([]), null],
            grid: [
              [1, 2, 3],
              [4, null, 6]
            ]
          },
          { id: 2, tags: [], ids: [], ints: [], amounts: [], ratios: [], flags: [], docs: [], ats: [], grid: [] },
          { id: 3 }
        ]),
        { seq: 0, checkpointFrom: null, checkpointTo: 1 }
      )
      assert.strictEqual(result.written, 3)
      assert.deepStrictEqual(changesOf(result), [
        `${schema}.${table} v1: + added: id (bigint); + added: tags (text[]); + added: ids (bigint[]); + added: ints (integer[]); + added: amounts (numeric[]); + added: ratios (double precision[]); + added: flags (boolean[]); + added: docs (jsonb[]); + added: ats (timestamptz[]); + added: walls (timestamp[]); + added: days (date[]); + added: blobs (bytea[]); + added: grid (bigint[])`
      ])
      const names = ["id", "tags", "ids", "ints", "amounts", "ratios", "flags", "docs", "ats", "walls", "days"]
      const rows = yield* textOf(table, [...names, "blobs", "grid"])
      assert.deepStrictEqual(rows[0], {
        id: "1",
        tags: '{"a,b","c\\"d","e\\\\f","NULL",""," sp ","{x}",NULL,漢字🚀,"tab\there","nl\nhere"}',
        ids: "{9007199254740993,NULL,-9223372036854775808}",
        ints: "{1,-2147483648,2147483647}",
        amounts: "{123456789012345678901.234567890,-0.5,NaN,NULL}",
        ratios: "{0.1,-0,Infinity,NaN}",
        flags: "{t,f,NULL}",
        docs: '{"{\\"a\\": [1, 2], \\"big\\": 9007199254740993}","[1, \\"x\\"]","\\"s\\"",NULL}',
        ats: '{"2024-03-10 02:30:00.123456+00",infinity,NULL}',
        walls: '{"2024-02-29 23:59:59.999999"}',
        days: '{2024-02-29,"0044-03-15 BC",infinity}',
        blobs: '{"\\\\x0001ff","\\\\x",NULL}',
        grid: "{{1,2,3},{4,NULL,6}}"
      })
      // Empty arrays stay empty arrays, not NULL; absent fields are NULL.
      assert.deepStrictEqual(rows[1], {
        id: "2",
        tags: "{}",
        ids: "{}",
        ints: "{}",
        amounts: "{}",
        ratios: "{}",
        flags: "{}",
        docs: "{}",
        ats: "{}",
        walls: null,
        days: null,
        blobs: null,
        grid: "{}"
      })
      assert.isTrue(Object.entries(rows[2]!).every(([k, v]) => k === "id" || v === null))
    })
  )

  it.live("a value PostgreSQL would refuse in an array column rejects only its record, naming the column", () =>
    Effect.gen(function* () {
      const table = nextTable()
      const sink = makeSink(table, {
        columns: [
          { name: "id", type: "bigint" },
          { name: "grid", type: "integer[]" },
          { name: "docs", type: "jsonb[]" }
        ]
      })
      const writer = yield* openWriter(sink, `refuse:${table}`)
      const result = yield* writer.write(
        batch([
          { id: 1, grid: [[1], [2, 3]] },
          { id: 2, grid: [[1, 2], null] },
          { id: 3, grid: [1, [2]] },
          { id: 4, grid: [[[[[[[1]]]]]]] },
          { id: 5, grid: "not an array" },
          { id: 6, grid: ["x"] },
          // jsonb elements: inner arrays are JSON values, not dimensions, so ragged is fine.
          {
            id: 7,
            grid: [
              [1, 2],
              [3, 4]
            ],
            docs: [[1], [2, 3]]
          }
        ]),
        { seq: 0, checkpointFrom: null, checkpointTo: 1 }
      )
      assert.strictEqual(result.written, 1)
      assert.deepStrictEqual(
        result.rejected?.map((r) => r.index),
        [0, 1, 2, 3, 4, 5]
      )
      for (const r of result.rejected ?? []) assert.include(r.reason, 'column "grid"')
      assert.include(result.rejected?.[0]?.reason, "not rectangular")
      assert.include(result.rejected?.[3]?.reason, "7 dimensions")
      assert.notInclude(result.rejected?.[5]?.reason ?? "", '"x"')
      assert.deepStrictEqual(yield* textOf(table, ["id", "grid", "docs"]), [
        { id: "7", grid: "{{1,2},{3,4}}", docs: '{[1],"[2, 3]"}' }
      ])
    })
  )

  it.live("infers array types from records: arrays of one scalar type, else jsonb", () =>
    Effect.gen(function* () {
      const table = nextTable()
      const writer = yield* openWriter(makeSink(table), `infer:${table}`)
      const first = {
        id: 1,
        tags: ["a", null, "ü"],
        counts: [1, 2n],
        mixed_numbers: [1, 1.5],
        ratios: [0.25],
        flags: [true],
        ats: [ts("2024-01-01T00:00:00Z")],
        walls: [ts("2024-01-01T00:00:00Z", false)],
        blobs: [new Uint8Array([1])],
        matrix: [
          [1, 2],
          [3, 4]
        ],
        ragged: [[1], [2, 3]],
        mixed: [1, "a"],
        objects: [{ a: 1 }],
        empty: [],
        nulls: [null],
        deep: [[[[[[[1]]]]]]]
      }
      yield* writer.write(batch([first, { id: 2, tags: [], matrix: [] }]), {
        seq: 0,
        checkpointFrom: null,
        checkpointTo: 1
      })
      assert.deepStrictEqual(yield* columnsOf(table), [
        "id bigint",
        "tags text[]",
        "counts bigint[]",
        "mixed_numbers numeric[]",
        "ratios double precision[]",
        "flags boolean[]",
        "ats timestamp with time zone[]",
        "walls timestamp without time zone[]",
        "blobs bytea[]",
        "matrix bigint[]",
        "ragged jsonb",
        "mixed jsonb",
        "objects jsonb",
        "empty jsonb",
        "nulls jsonb",
        "deep jsonb"
      ])
      const rows = yield* textOf(table, ["id", "tags", "matrix", "ragged", "mixed", "empty", "nulls"])
      assert.deepStrictEqual(rows, [
        {
          id: "1",
          tags: "{a,NULL,ü}",
          matrix: "{{1,2},{3,4}}",
          ragged: "[[1], [2, 3]]",
          mixed: '[1, "a"]',
          empty: "[]",
          nulls: "[null]"
        },
        { id: "2", tags: "{}", matrix: "{}", ragged: null, mixed: null, empty: null, nulls: null }
      ])
    })
  )

  it.live("evolve: adds array columns and widens element types losslessly; refuses lossy widenings", () =>
    Effect.gen(function* () {
      const table = nextTable()
      yield* exec(
        sql`create table ${sql.ident([schema, table])} (id bigint, small integer[], ratio real[], day date[], names varchar(5)[])`
      )
      const writer = yield* openWriter(makeSink(table), `widen:${table}`)
      yield* writer.write(batch([{ id: 1, small: [1], ratio: [0.5], day: ["2026-01-02"], names: ["abc"] }]), {
        seq: 0,
        checkpointFrom: null,
        checkpointTo: 1
      })
      assert.deepStrictEqual(yield* columnsOf(table), [
        "id bigint",
        "small integer[]",
        "ratio real[]",
        "day date[]",
        "names character varying(5)[]"
      ])
      yield* writer.write(
        batch([
          {
            id: 2,
            small: [[1, 3_000_000_000]],
            ratio: [0.1],
            day: [ts("2026-01-02T03:04:05.000006Z")],
            tags: ["new"],
            names: ["abcdef"]
          }
        ]),
        { seq: 1, checkpointFrom: 1, checkpointTo: 2 }
      )
      assert.deepStrictEqual(yield* columnsOf(table), [
        "id bigint",
        "small bigint[]",
        "ratio double precision[]",
        "day timestamp with time zone[]",
        // PostgreSQL checks varchar(n) on every element: a longer one widens the column to text[].
        "names text[]",
        "tags text[]"
      ])
      yield* writer.write(batch([{ id: 3, small: [1.5] }]), { seq: 2, checkpointFrom: 2, checkpointTo: 3 })
      assert.deepStrictEqual((yield* columnsOf(table))[1], "small numeric[]")
      assert.deepStrictEqual(yield* textOf(table, ["id", "small", "ratio", "day", "names", "tags"]), [
        {
          id: "1",
          small: "{1}",
          ratio: "{0.5}",
          day: '{"2026-01-02 00:00:00+00"}',
          names: "{abc}",
          tags: null
        },
        {
          id: "2",
          small: "{{1,3000000000}}",
          ratio: "{0.1}",
          day: '{"2026-01-02 03:04:05.000006+00"}',
          names: "{abcdef}",
          tags: "{new}"
        },
        { id: "3", small: "{1.5}", ratio: null, day: null, names: null, tags: null }
      ])

      // double precision[] → numeric[] is not a lossless widening: the write fails with the diff, changing nothing.
      const lossy = nextTable()
      const strict = yield* openWriter(
        makeSink(lossy, { columns: [{ name: "x", type: "double precision[]" }] }),
        `lossy:${lossy}`
      )
      const error = yield* Effect.flip(
        strict.write(batch([{ x: [1.5, 2n ** 60n] }]), { seq: 0, checkpointFrom: null, checkpointTo: 1 })
      )
      assert.include((error as unknown as Error).message, "! incompatible: x double precision[] → numeric[]")
      assert.deepStrictEqual(yield* columnsOf(lossy), ["x double precision[]"])
    })
  )

  it.live("freeze and discardRow treat array fields and element widenings like scalar ones", () =>
    Effect.gen(function* () {
      const columns = [
        { name: "id", type: "bigint" },
        { name: "ints", type: "integer[]" }
      ] as const
      const frozen = nextTable()
      const writer = yield* openWriter(makeSink(frozen, { columns, schemaEvolution: "freeze" }), `f:${frozen}`)
      const error = yield* Effect.flip(
        writer.write(batch([{ id: 1, ints: [5_000_000_000], tags: ["x"] }]), {
          seq: 0,
          checkpointFrom: null,
          checkpointTo: 1
        })
      )
      const message = (error as unknown as Error).message
      assert.include(message, "+ added: tags (text[])")
      assert.include(message, "~ widened: ints integer[] → bigint[]")

      const rowTable = nextTable()
      const rows = yield* openWriter(makeSink(rowTable, { columns, schemaEvolution: "discardRow" }), `d:${rowTable}`)
      const result = yield* rows.write(
        batch([
          { id: 1, ints: [1, 5_000_000_000] },
          { id: 2, ints: [1, 2] }
        ]),
        { seq: 0, checkpointFrom: null, checkpointTo: 1 }
      )
      assert.strictEqual(result.written, 1)
      assert.include(result.rejected?.[0]?.reason, "widening to bigint[]")
      assert.deepStrictEqual(yield* textOf(rowTable, ["id", "ints"]), [{ id: "2", ints: "{1,2}" }])
    })
  )

  // A JSON null element of a jsonb[] is kept when the rows travel undecoded. Known limitation, kept visible: as
  // records, the codec decodes it to JS null, which the encoder writes as an SQL NULL element, so `{"null"}`
  // comes back `{NULL}` (hence `fails` for the records lane).
  const jsonNullRoundTrip = (lane: (typeof Db.LANES)[number]) =>
    Effect.gen(function* () {
      const src = nextTable()
      const dst = nextTable()
      yield* exec(sql`create table ${sql.ident([schema, src])} (id bigint primary key, j jsonb[])`)
      yield* exec(sql`insert into ${sql.ident([schema, src])} values (1, array['null'::jsonb, null])`)
      const seen = { asked: false, encoded: 0 }
      const summary = yield* Runner.run(
        Pipeline.make<PostgresSource.Row, PostgresSource.Row>({
          name: `arrays_${dst}`,
          version: "1.0.0",
          description: "a JSON null element, PG to PG",
          source: Db.observed(
            PostgresSource.make({ connection, streams: [{ table: [schema, src], key: "id" }] }),
            seen
          ),
          ...Db.transformsFor<PostgresSource.Row>(lane),
          sink: PostgresSink.make({
            connection,
            table: [schema, dst],
            columns: [
              { name: "id", type: "bigint" },
              { name: "j", type: "jsonb[]" }
            ]
          })
        }),
        {}
      )
      assert.strictEqual(summary.status, "succeeded")
      assert.strictEqual(seen.asked, lane === "encoded", `the ${lane} lane`)
      assert.deepStrictEqual(yield* textOf(src, ["id", "j"]), [{ id: "1", j: '{"null",NULL}' }])
      assert.deepStrictEqual(yield* textOf(dst, ["id", "j"]), [{ id: "1", j: '{"null",NULL}' }])
    }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))

  it.live("a JSON null inside a jsonb[] survives PG → runner → PG undecoded (the encoded lane)", () =>
    jsonNullRoundTrip("encoded")
  )

  it.live.fails("a JSON null inside a jsonb[] survives PG → runner → PG as records (known limitation: NULL)", () =>
    jsonNullRoundTrip("records")
  )

  // Both lanes: undecoded COPY text loaded as it is, and decoded records encoded by the sink's array encoder.
  for (const lane of Db.LANES)
    it.live(
      `round trip PG → runner → PG: arrays with NULL elements, empty arrays, unicode, quotes and backslashes are equal as ::text — ${lane}`,
      () =>
        Effect.gen(function* () {
          const src = nextTable()
          const dst = nextTable()
          const T = sql.ident([schema, src])
          yield* exec(
            sql`create table ${T} (id bigint primary key, t text[], i4 integer[], i8 bigint[], n numeric[], f8 double precision[], b boolean[], j jsonb[], tz timestamptz[], ts timestamp[], d date[], by bytea[], m2 integer[], tm text[])`
          )
          const rows = [
            sql`insert into ${T} values (1, array['a,b', 'c"d', 'e\\f', 'NULL', '', ' sp ', '{x}', null, '漢字🚀 é', E'tab\\there', E'nl\\nhere', '\\N'], '{1,NULL,-2147483648,2147483647}', '{9223372036854775807,-9223372036854775808,NULL}', '{123456789012345678901.234567890,NaN,-0.000000000000000000000000000001,NULL}', '{0.1,-0,Infinity,-Infinity,NaN,NULL,1.7976931348623157e308}', '{t,f,NULL}', array['{"a": [1, 2], "big": 9007199254740993}'::jsonb, '"ü\\"q\\""', '[]', null], array['2024-03-10 02:30:00.123456+05:45'::timestamptz, 'infinity', null, '1900-06-01 12:00:00.000001+14'], '{"2024-02-29 23:59:59.999999","-infinity",NULL}', '{2024-02-29,"0044-03-15 BC",infinity,NULL}', array['\\x00ff'::bytea, ''::bytea, null], '{{1,2,3},{4,NULL,6}}', '{{"a\\"b","c\\\\d"},{NULL,"é"}}')`,
            sql`insert into ${T} values (2, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')`,
            sql`insert into ${T} (id) values (3)`,
            sql`insert into ${T} values (4, array[null]::text[], array[null]::int[], '{0}', '{0}', '{0}', '{f}', array['{}'::jsonb], array['-infinity'::timestamptz], '{"0001-01-01 00:00:00"}', '{-infinity}', array['\\x'::bytea], '{{{1}},{{2}}}', '{{""}}')`
          ]
          for (const insert of rows) yield* exec(insert)
          const arrays = ["t", "i4", "i8", "n", "f8", "b", "j", "tz", "ts", "d", "by", "m2", "tm"]
          const declared: Array<typeof PostgresSink.Column.Encoded> = [
            { name: "id", type: "bigint" },
            { name: "t", type: "text[]" },
            { name: "i4", type: "integer[]" },
            { name: "i8", type: "bigint[]" },
            { name: "n", type: "numeric[]" },
            { name: "f8", type: "double precision[]" },
            { name: "b", type: "boolean[]" },
            { name: "j", type: "jsonb[]" },
            { name: "tz", type: "timestamptz[]" },
            { name: "ts", type: "timestamp[]" },
            { name: "d", type: "date[]" },
            { name: "by", type: "bytea[]" },
            { name: "m2", type: "integer[]" },
            { name: "tm", type: "text[]" }
          ]
          const seen = { asked: false, encoded: 0 }
          const summary = yield* Runner.run(
            Pipeline.make<PostgresSource.Row, PostgresSource.Row>({
              name: `arrays_${dst}`,
              version: "1.0.0",
              description: "array columns, PG to PG",
              source: Db.observed(
                PostgresSource.make({ connection, streams: [{ table: [schema, src], key: "id" }], batchSize: 2 }),
                seen
              ),
              ...Db.transformsFor<PostgresSource.Row>(lane),
              sink: PostgresSink.make({ connection, table: [schema, dst], columns: declared }),
              options: { batch: { rows: 2, maxWaitMs: 10 }, deadLetterBudget: { maxCount: 0 } }
            }),
            {}
          )
          assert.strictEqual(summary.status, "succeeded")
          assert.strictEqual(summary.recordsWritten, 4)
          // The lane under test is the one taken: undecoded end to end when asked; else the transform made the
          // source's batches decode.
          assert.deepStrictEqual([seen.asked, seen.encoded > 0], [lane === "encoded", true])
          const [before, after] = [yield* textOf(src, ["id", ...arrays]), yield* textOf(dst, ["id", ...arrays])]
          assert.strictEqual(after.length, 4)
          for (let i = 0; i < before.length; i++)
            for (const c of ["id", ...arrays])
              assert.strictEqual(after[i]![c], before[i]![c], `row id=${before[i]!.id} column ${c}`)
          // The hard cases really are in the data (a wrong assertion above cannot pass on empty rows).
          assert.include(before[0]!.t, '"c\\"d"')
          assert.include(before[0]!.t, '"e\\\\f"')
          assert.include(before[0]!.t, "漢字🚀 é")
          assert.strictEqual(before[1]!.t, "{}")
          assert.strictEqual(before[0]!.m2, "{{1,2,3},{4,NULL,6}}")
        }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 }))),
      { timeout: 60_000 }
    )
})
