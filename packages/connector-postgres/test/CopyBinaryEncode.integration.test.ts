// Records a PostgreSQL sink writes in COPY binary, against the real PostgreSQL. Checked here: for every type written
// in binary, rows of edge values (and NULLs) loaded in binary leave exactly what the same records loaded as COPY
// text leave (`::text` of every column); values without an exact binary form make the encoder give up (the sink
// then writes the group as COPY text), never write something else; a sink's early encoding uses binary when it can
// and COPY text when it cannot, and a run mixing both stores every row.

import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { Batch, Pipeline, Runner, Source, Timestamp } from "@data-mcp/core"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { from as copyFrom } from "pg-copy-streams"
import * as CopyBinary from "../src/internal/copyBinary.ts"
import * as CopyBinaryEncode from "../src/internal/copyBinaryEncode.ts"
import * as EncodedRows from "../src/internal/encodedRows.ts"
import * as SinkSql from "../src/internal/sinkSql.ts"
import * as PostgresCodec from "../src/PostgresCodec.ts"
import * as PostgresSink from "../src/PostgresSink.ts"
import { connection, database, withClient } from "./utils.ts"

const db = await database("copy-binary-encode", "dm_cbe")
const schema = db.freshSchema()
const q = (s: string) => `"${s.replaceAll('"', '""')}"`
const T = (table: string) => `${q(schema)}.${q(table)}`
const Oid = PostgresCodec.Oid

const ts = (iso: string) => Timestamp.fromISOString(iso)
const micros = (m: bigint, zoned = true) => new Timestamp.Timestamp(m, zoned)

/** Every type written in binary, with values at its edges; row `i` holds each column's `i`-th value (else NULL). */
const COLUMNS: ReadonlyArray<readonly [string, string, number, ReadonlyArray<unknown>]> = [
  ["c_bool", "boolean", Oid.bool, [true, false]],
  ["c_int2", "smallint", Oid.int2, [-32768, 32767, 0, -1]],
  ["c_int4", "integer", Oid.int4, [-2147483648, 2147483647, -1, 0]],
  [
    "c_int8",
    "bigint",
    Oid.int8,
    [-(2n ** 63n), 2n ** 63n - 1n, 9007199254740993n, 0n, -1n, 42, -9007199254740991, 4294967296, -4294967297]
  ],
  [
    "c_float8",
    "double precision",
    Oid.float8,
    [0.1, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1.7976931348623157e308, 5e-324, 1 / 3]
  ],
  [
    "c_numeric",
    "numeric",
    Oid.numeric,
    [
      "0",
      "-0",
      "0.00",
      "-0.001",
      "10000",
      "100000000",
      "0.0001",
      "00012.50",
      "-12.5",
      "100000000.0001",
      "999999999999999.999999999999",
      "1000000000000000",
      "123456789012345678901.234567890",
      "-0.000000000000000000000000000001",
      "99999999999999999999999999999.9",
      "1.0000000000000",
      1.5,
      -0.25,
      12345678901234567890n,
      0
    ]
  ],
  ["c_numeric_scaled", "numeric(12,2)", Oid.numeric, ["1.005", "-9999999999.99", "0", "2.499", 7]],
  [
    "c_text",
    "text",
    Oid.text,
    [
      "",
      "tab\t nl\n cr\r backslash \\ \\N",
      "ü🚀 漢字",
      "x",
      "a".repeat(64),
      `${"b".repeat(70)}é`,
      `${"c".repeat(63)}é`,
      "lone \ud800 surrogate"
    ]
  ],
  ["c_varchar", "varchar(20)", Oid.varchar, ["varchär ✓", ""]],
  [
    "c_uuid",
    "uuid",
    Oid.uuid,
    [
      "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
      "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
      "00000000-0000-0000-0000-000000000000"
    ]
  ],
  ["c_date", "date", Oid.date, ["2024-02-29", "0001-01-01", "9999-12-31", "1970-01-01", "2000-01-01", "1899-12-31"]],
  [
    "c_ts",
    "timestamp",
    Oid.timestamp,
    [
      ts("2024-01-02T03:04:05.123456"),
      ts("0001-01-01T00:00:00"),
      ts("9999-12-31T23:59:59.999999"),
      ts("1969-12-31T23:59:59.999999"),
      ts("1600-06-01T12:00:00.000001"),
      ts("2024-01-02T03:04:05.5Z"),
      new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678))
    ]
  ],
  [
    "c_tstz",
    "timestamptz",
    Oid.timestamptz,
    [
      ts("2024-01-02T03:04:05.123456Z"),
      ts("0001-01-01T00:00:00Z"),
      ts("9999-12-31T23:59:59.999999Z"),
      micros(-1n),
      ts("2300-01-01T00:00:00.000001Z"),
      ts("2024-01-02T03:04:05.5"),
      new Date(Date.UTC(1960, 5, 7, 8, 9, 10, 11))
    ]
  ],
  ["c_ts3", "timestamp(3)", Oid.timestamp, [ts("2024-01-02T03:04:05.123456"), ts("2024-01-02T03:04:05.9995")]],
  [
    "c_json",
    "json",
    Oid.json,
    [{ a: 1, b: [true, null, "x"] }, "a string", 12.5, [], { big: 2n ** 64n }, { nested: { deep: ["ü", "\t\\"] } }]
  ],
  [
    "c_jsonb",
    "jsonb",
    Oid.jsonb,
    [{ a: 1, b: [true, null, "x"] }, "a string", 12.5, { big: 2n ** 64n, n: -0.5 }, { s: 'quote " tab \t 🚀' }, null]
  ],
  ["c_bytea", "bytea", Oid.bytea, [new Uint8Array(0), Uint8Array.from({ length: 256 }, (_, i) => i), Buffer.from("hi")]]
]

const ROWS = Math.max(...COLUMNS.map(([, , , values]) => values.length))
const columns = [{ name: "n", oid: Oid.int4 }, ...COLUMNS.map(([name, , oid]) => ({ name, oid }))]
const records: ReadonlyArray<Record<string, unknown>> = Array.from({ length: ROWS }, (_, n) => {
  const record: Record<string, unknown> = { n }
  for (const [name, , , values] of COLUMNS) record[name] = values[n] ?? null
  return record
})

const createTable = (table: string) =>
  withClient((c) =>
    c.query(`create table ${T(table)} (n integer, ${COLUMNS.map(([name, type]) => `${q(name)} ${type}`).join(", ")})`)
  )

/** Loads `chunks` with COPY (binary or text) on a client with the codec's session settings, as the sink does. */
const copyInto = (table: string, chunks: ReadonlyArray<Uint8Array>, binary: boolean) =>
  withClient(async (c) => {
    for (const statement of PostgresCodec.sessionSettings) await c.query(statement)
    const names = columns.map((col) => q(col.name)).join(", ")
    await pipeline(
      Readable.from(binary ? CopyBinary.frame(chunks) : chunks),
      c.query(copyFrom(`COPY ${T(table)} (${names}) FROM STDIN${binary ? " (FORMAT binary)" : ""}`))
    )
  })

/** Every column's `::text`, by row. */
const textOf = (table: string) =>
  withClient(async (c) => {
    const list = COLUMNS.map(([name]) => `${q(name)}::text as ${q(name)}`).join(", ")
    return (await c.query(`select n, ${list} from ${T(table)} order by n`)).rows
  })

/** The formats a sink's early encoding picks for each group of `groups` (a writer opened for the purpose). */
const formatsOf = (
  sink: ReturnType<typeof PostgresSink.make>,
  key: string,
  groups: ReadonlyArray<ReadonlyArray<object>>
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const writer = yield* sink.open({
        runId: "r0",
        pipeline: key,
        stateKey: key,
        lease: { key, runId: "r0", token: 1, expiresAt: Date.now() + 60_000 }
      })
      return groups.map(
        (records) => writer.encode?.(records as Array<Record<string, unknown>>, "default")?.encoded.format
      )
    })
  )

/** Runs `rows` into `sink`, a batch per row; the records written. */
const runRows = (name: string, sink: ReturnType<typeof PostgresSink.make>, rows: ReadonlyArray<object>) =>
  Effect.map(
    Runner.run(
      Pipeline.make({
        name,
        version: "1.0.0",
        description: "rows a batch at a time",
        source: Source.make({
          name: "rows",
          read: () => Stream.fromIterable(rows.map((row, i) => Batch.make([row], { checkpoint: i + 1 })))
        }),
        sink,
        options: { batch: { rows: 1 } }
      }),
      {}
    ).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 }))),
    (summary) => summary.recordsWritten
  )

describe.skipIf(db.unreachable !== undefined)("COPY binary records (PostgreSQL)", () => {
  beforeAll(() => withClient((c) => c.query(`create schema ${q(schema)}`)))
  afterAll(() => withClient((c) => c.query(`drop schema if exists ${q(schema)} cascade`)))

  it("stores exactly what COPY text stores, for every type and edge value", async () => {
    assert.isTrue(CopyBinaryEncode.supports(columns.map((c) => c.oid)))
    const binary = CopyBinaryEncode.encodeRows(columns, records)
    assert.isDefined(binary, "every value here has an exact binary form")
    // Copied out of the encoder's scratch memory, as the sink does, before the text encoder runs.
    const binaryRows = Buffer.from(binary!)
    const text = PostgresCodec.makeEncoder(columns).encodeRows(records)
    await createTable("bin")
    await createTable("txt")
    await copyInto("bin", [binaryRows], true)
    await copyInto("txt", [Buffer.from(text, "utf8")], false)
    const fromBinary = await textOf("bin")
    const fromText = await textOf("txt")
    assert.strictEqual(fromBinary.length, ROWS)
    assert.deepStrictEqual(fromBinary, fromText)
    // Spot checks that the comparison saw the values (not two empty or all-NULL tables).
    assert.strictEqual(fromBinary[0]!.c_int8, "-9223372036854775808")
    assert.strictEqual(fromBinary[12]!.c_numeric, "123456789012345678901.234567890")
    assert.strictEqual(fromBinary[0]!.c_numeric_scaled, "1.01")
    assert.strictEqual(fromBinary[5]!.c_tstz, "2024-01-02 03:04:05.5+00")
  })

  it("writes rows across its scratch memory's growth", async () => {
    const many = Array.from({ length: 3000 }, (_, n) => ({
      ...records[n % ROWS]!,
      n,
      c_text: `${n}:${"z".repeat(500)}`
    }))
    const binary = CopyBinaryEncode.encodeRows(columns, many)
    assert.isDefined(binary)
    assert.isAbove(binary!.length, 1024 * 1024)
    await createTable("big")
    await copyInto("big", [Buffer.from(binary!)], true)
    const rows = await withClient(
      async (c) =>
        (await c.query(`select count(*)::int as n, sum(length(c_text))::int as chars from ${T("big")}`)).rows[0]
    )
    assert.deepStrictEqual(rows, { n: 3000, chars: many.reduce((sum, r) => sum + r.c_text.length, 0) })
  })

  it("gives up on values without an exact binary form", () => {
    const cases: ReadonlyArray<readonly [number, unknown]> = [
      [Oid.timestamptz, "2024-01-02 03:04:05+02"],
      [Oid.timestamp, "infinity"],
      [Oid.timestamptz, ts("+010000-01-01T00:00:00Z")],
      [Oid.timestamptz, ts("-000001-01-01T00:00:00Z")],
      [Oid.timestamptz, new Date(Number.NaN)],
      [Oid.numeric, "1e5"],
      [Oid.numeric, "NaN"],
      [Oid.numeric, "Infinity"],
      [Oid.numeric, ".5"],
      [Oid.numeric, "5."],
      [Oid.numeric, "+5"],
      [Oid.numeric, " 5"],
      [Oid.numeric, "1.2.3"],
      [Oid.numeric, 1e21],
      [Oid.numeric, Number.NaN],
      [Oid.text, "nul \0 inside"],
      [Oid.text, 42],
      [Oid.int4, 2147483648],
      [Oid.int4, 1.5],
      [Oid.int4, 1n],
      [Oid.int2, 32768],
      [Oid.int8, 2 ** 53],
      [Oid.int8, 2n ** 63n],
      [Oid.int8, "1"],
      [Oid.float8, 1n],
      [Oid.bool, "t"],
      [Oid.date, "infinity"],
      [Oid.date, "0000-01-01"],
      [Oid.date, "2023-02-29"],
      [Oid.date, "+010000-01-01"],
      [Oid.uuid, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"],
      [Oid.uuid, "a0eebc999c0b4ef8bb6d6bb9bd380a11"],
      [Oid.uuid, "g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"],
      [Oid.jsonb, undefined],
      [Oid.jsonb, () => 1],
      [Oid.bytea, [1, 2]]
    ]
    for (const [oid, value] of cases) {
      // A good row first: giving up drops the whole group, not only the bad value.
      const rows = [{ v: null }, { v: value === undefined ? { toJSON: () => undefined } : value }]
      assert.isUndefined(CopyBinaryEncode.encodeRows([{ name: "v", oid }], rows), `${oid}: ${String(value)}`)
    }
    assert.isFalse(CopyBinaryEncode.supports([Oid.int8, Oid.float4]))
    assert.isFalse(CopyBinaryEncode.supports([Oid._int8]))
    assert.isFalse(CopyBinaryEncode.supports([]))
  })

  it.effect("uuid columns take uuid rows as they are, and records in binary", () =>
    Effect.gen(function* () {
      // The live type of a uuid column is uuid (not text): COPY rows of uuid load undecoded.
      assert.strictEqual(SinkSql.liveTypeOf("uuid"), "uuid")
      assert.strictEqual(SinkSql.liveOid({ name: "id", type: SinkSql.liveTypeOf("uuid") }), Oid.uuid)
      assert.strictEqual(SinkSql.liveOid({ name: "ids", type: SinkSql.liveTypeOf("ARRAY", "_uuid") }), Oid._uuid)
      const live = [{ name: "id", type: SinkSql.liveTypeOf("uuid") }]
      const encoded = {
        format: EncodedRows.COPY_BINARY,
        columns: [{ name: "id", type: String(Oid.uuid) }],
        rows: 0,
        chunks: []
      }
      assert.deepStrictEqual(EncodedRows.directColumns(encoded, live, SinkSql.liveOid), live)
      yield* Effect.promise(() => withClient((c) => c.query(`create table ${T("uuids")} (id uuid, ids uuid[], n int)`)))
      const sink = PostgresSink.make({ connection, table: [schema, "uuids"], create: false })
      const a = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
      const b = "B0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12"
      const format = yield* formatsOf(sink, "uuids", [
        [{ id: a, n: 1 }],
        // uuid[] has no binary writer: the group goes as COPY text.
        [{ id: a, ids: [a, b], n: 2 }]
      ])
      assert.deepStrictEqual(format, ["postgres/copy-binary", "postgres/copy-text"])
      const rows = [
        { id: a, n: 1 },
        { id: b, ids: [a, b], n: 2 },
        { id: `{${a}}`, n: 3 }
      ]
      assert.strictEqual(yield* runRows("copy_binary_uuids", sink, rows), 3)
      const stored = yield* Effect.promise(() =>
        withClient(async (c) => (await c.query(`select id::text, ids::text, n from ${T("uuids")} order by n`)).rows)
      )
      assert.deepStrictEqual(stored, [
        { id: a, ids: null, n: 1 },
        { id: b.toLowerCase(), ids: `{${a},${b.toLowerCase()}}`, n: 2 },
        // A form PostgreSQL accepts that the binary writer does not take: written as COPY text.
        { id: a, ids: null, n: 3 }
      ])
    })
  )

  it.effect("a sink encodes ahead in binary when it can, else in COPY text, and a run with both stores every row", () =>
    Effect.gen(function* () {
      yield* Effect.promise(() =>
        withClient((c) => c.query(`create table ${T("mixed")} (id bigint, at timestamptz, note text)`))
      )
      const sink = PostgresSink.make({ connection, table: [schema, "mixed"], create: false })
      const exact = [{ id: 1n, at: ts("2024-01-02T03:04:05.000001Z"), note: "binary" }]
      // A string timestamp is read in the session's zone by PostgreSQL: only COPY text keeps that.
      const loose = [{ id: 2n, at: "2024-01-02 03:04:05.000002+02", note: "text" }]
      const formats = yield* formatsOf(sink, "encode_ahead:mixed", [exact, loose])
      assert.deepStrictEqual(formats, ["postgres/copy-binary", "postgres/copy-text"])
      const rows = [...exact, ...loose, { id: 3n, at: ts("2024-01-02T03:04:05.000003Z"), note: "binary again" }]
      assert.strictEqual(yield* runRows("copy_binary_mixed", sink, rows), 3)
      const stored = yield* Effect.promise(() =>
        withClient(async (c) => (await c.query(`select id::text, at::text, note from ${T("mixed")} order by id`)).rows)
      )
      assert.deepStrictEqual(stored, [
        { id: "1", at: "2024-01-02 03:04:05.000001+00", note: "binary" },
        { id: "2", at: "2024-01-02 01:04:05.000002+00", note: "text" },
        { id: "3", at: "2024-01-02 03:04:05.000003+00", note: "binary again" }
      ])
    })
  )
})
