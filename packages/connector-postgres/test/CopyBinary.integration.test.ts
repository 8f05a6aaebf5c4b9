// COPY binary against the real PostgreSQL: rows a PostgreSQL sink loads as they are travel in COPY binary when the
// runner asks for it. Checked here: the records decoded from binary equal those decoded from COPY text for every
// type that travels in binary (edge values and NULLs included); the checkpoints read off binary rows equal the
// text ones for every key type, and a read resumed from each of them returns exactly the rest; a PG → runner → PG
// copy in binary leaves the target equal to the source (exact `::text` of every column); a target whose types
// differ gets the rows decoded; a malformed stream fails with a typed `CodecError`.
import { Batch, Pipeline, Runner } from "@data-mcp/core"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as EncodedRows from "../src/internal/encodedRows.ts"
import * as SourceBuffers from "../src/internal/sourceBuffers.ts"
import * as PostgresCodec from "../src/PostgresCodec.ts"
import * as PostgresSink from "../src/PostgresSink.ts"
import * as PostgresSource from "../src/PostgresSource.ts"
import { collect, config } from "./sourceRead.ts"
import { database, withClient } from "./utils.ts"

const db = await database("copy-binary", "dm_cb")
const schema = db.freshSchema()
const q = (s: string) => `"${s.replaceAll('"', '""')}"`
const T = (table: string) => `${q(schema)}.${q(table)}`
const BINARY = [EncodedRows.COPY_BINARY]
const TEXT = [EncodedRows.COPY_TEXT]

/** Every type that travels in binary, with values at its edges (each column also NULL in row 2). */
const COLUMNS: ReadonlyArray<readonly [string, string, ReadonlyArray<string>]> = [
  ["c_bool", "boolean", ["true", "false"]],
  ["c_int2", "smallint", ["-32768", "32767", "0"]],
  ["c_int4", "integer", ["-2147483648", "2147483647", "-1"]],
  ["c_int8", "bigint", ["-9223372036854775808", "9223372036854775807", "9007199254740993"]],
  [
    "c_float8",
    "double precision",
    ["0.1", "-0", "'NaN'", "'Infinity'", "'-Infinity'", "1.7976931348623157e308", "5e-324"]
  ],
  [
    "c_numeric",
    "numeric",
    [
      "'123456789012345678901.234567890'",
      "'-0.000000000000000000000000000001'",
      "'0'",
      "'0.00'",
      "'10000'",
      "'-12.5'",
      "'100000000.0001'",
      "'NaN'",
      "'Infinity'",
      "'-Infinity'",
      "'99999999999999999999999999999.9'"
    ]
  ],
  ["c_numeric_scaled", "numeric(12,2)", ["1.5", "-9999999999.99", "0"]],
  ["c_text", "text", ["''", "'tab\t nl\n cr\r backslash \\ \\N ü🚀 漢字'", "'x'"]],
  ["c_varchar", "varchar(20)", ["'varchär ✓'", "''"]],
  ["c_bpchar", "char(5)", ["'ab'", "'abcde'"]],
  ["c_name", "name", ["'a name'"]],
  ["c_uuid", "uuid", ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'"]],
  ["c_date", "date", ["'2024-02-29'", "'0044-03-15 BC'", "'10000-01-01'", "'infinity'", "'-infinity'"]],
  [
    "c_ts",
    "timestamp",
    [
      "'2024-02-29 23:59:59.999999'",
      "'0001-01-01 00:00:00'",
      "'1999-12-31 23:59:59.5'",
      "'-infinity'",
      "'0100-01-01 BC'"
    ]
  ],
  [
    "c_tstz",
    "timestamptz",
    [
      "'2024-03-10 02:30:00.123456+05:45'",
      "'1900-06-01 12:00:00.000001+14'",
      "'1999-12-31 23:59:59.5-08'",
      "'infinity'",
      "'12000-01-01 00:00:00+00'"
    ]
  ],
  ["c_json", "json", [`'{"b": 1,   "a": [1, "x\\ty"], "big": 9007199254740993}'`, `'"s"'`, "'\n[1,\n2]'"]],
  [
    "c_jsonb",
    "jsonb",
    [
      `'{"big": 9007199254740993, "neg": -9223372036854775809, "n": {"arr": [18446744073709551616, "ü🚀", null]}}'`,
      `'{"q": "a \\"quoted\\" \\\\ word"}'`,
      "'1.50'",
      "'[]'"
    ]
  ],
  ["c_bytea", "bytea", ["'\\x00ff10'::bytea", "''::bytea"]]
]

const ROWS = 12
/** Row `i`'s value of a column: its values in turn; NULL in row 2. */
const valueAt = (values: ReadonlyArray<string>, i: number) => (i === 2 ? "null" : values[i % values.length]!)

const describeIf = db.unreachable === undefined ? describe : describe.skip

describeIf("COPY binary", () => {
  beforeAll(() =>
    withClient(async (client) => {
      await client.query(`create schema ${q(schema)}`)
      const defs = COLUMNS.map(([c, t]) => `${q(c)} ${t}`)
      await client.query(`create table ${T("src")} (id bigint primary key, ${defs.join(", ")})`)
      for (let i = 1; i <= ROWS; i++)
        await client.query(
          `insert into ${T("src")} values (${i}, ${COLUMNS.map(([, t, values]) => `(${valueAt(values, i)})::${t}`).join(", ")})`
        )
      // Keys of every boundary type, each table read in pages of a few rows.
      await client.query(`create table ${T("k_ts")} (k timestamptz primary key, v int)`)
      await client.query(
        `insert into ${T("k_ts")} values ('0044-03-15 10:00:00.5+00 BC', 1), ('1999-12-31 23:59:59+00', 2),
         ('2024-01-01 00:00:00.000001+00', 3), ('2024-01-01 00:00:00.1+05', 4), ('12000-01-01 00:00:00+00', 5),
         ('infinity', 6), ('-infinity', 7)`
      )
      await client.query(`create table ${T("k_tsl")} (k timestamp primary key, v int)`)
      await client.query(
        `insert into ${T("k_tsl")} values ('0044-03-15 10:00:00.5 BC', 1), ('2024-01-01 00:00:00.120000', 2), ('2024-01-02', 3)`
      )
      await client.query(`create table ${T("k_num")} (k numeric primary key, v int)`)
      await client.query(
        `insert into ${T("k_num")} values ('-1.50', 1), ('0', 2), ('0.00010', 3), ('123456789012345678901.5', 4), ('10000', 5), ('Infinity', 6)`
      )
      await client.query(`create table ${T("k_date")} (k date primary key, v int)`)
      await client.query(
        `insert into ${T("k_date")} values ('0044-03-15 BC', 1), ('2000-01-01', 2), ('10000-12-31', 3), ('infinity', 4)`
      )
      await client.query(`create table ${T("k_uuid")} (k uuid primary key, v int)`)
      await client.query(`insert into ${T("k_uuid")} select md5(g::text)::uuid, g from generate_series(1, 9) g`)
      await client.query(`create table ${T("k_text")} (k text primary key, v int)`)
      await client.query(`insert into ${T("k_text")} values ('a'), ('b\tc'), ('ü🚀'), ('z\\N')`)
      await client.query(`create table ${T("k_int2")} (k smallint primary key, v int)`)
      await client.query(`insert into ${T("k_int2")} values (-32768, 1), (0, 2), (32767, 3)`)
    })
  )
  afterAll(() => withClient((client) => client.query(`drop schema if exists ${q(schema)} cascade`)))

  const source = (table: string, key: string) =>
    PostgresSource.make({ connection: config, streams: [{ table: [schema, table], key }] })

  it.live(
    "records decoded from COPY binary equal those decoded from COPY text, for every type that travels in it",
    () =>
      Effect.gen(function* () {
        const src = source("src", "id")
        const binary = yield* collect(src, undefined, BINARY)
        const text = yield* collect(src, undefined, TEXT)
        const filled = binary.filter((b) => Batch.size(b) > 0)
        assert.isAbove(filled.length, 1)
        for (const b of filled) assert.strictEqual(Batch.encodedOf(b)?.format, EncodedRows.COPY_BINARY)
        for (const b of text.filter((b) => Batch.size(b) > 0))
          assert.strictEqual(Batch.encodedOf(b)?.format, EncodedRows.COPY_TEXT)
        const fromBinary = binary.flatMap((b) => b.records)
        const fromText = text.flatMap((b) => b.records)
        assert.strictEqual(fromBinary.length, ROWS)
        // deepStrictEqual compares Timestamps by their fields, Uint8Arrays by bytes, NaN and -0 exactly.
        assert.deepStrictEqual(fromBinary, fromText)
        assert.deepStrictEqual(
          binary.map((b) => b.checkpoint),
          text.map((b) => b.checkpoint)
        )
      })
  )

  it.live("pass-through rows live in reused pages: records read after the sink gave them back fail clearly", () =>
    Effect.gen(function* () {
      const batches = yield* collect(source("src", "id"), undefined, BINARY)
      const first = batches.find((b) => Batch.size(b) > 0)!
      const encoded = Batch.encodedOf(first)!
      // What the sink does once it has committed a batch: the pages may now hold other rows.
      SourceBuffers.release(encoded.chunks)
      try {
        void first.records
        assert.fail("expected the read to fail")
      } catch (e) {
        assert.include(String(e), "already loaded by the sink")
      }
      // A batch not given back still decodes.
      const other = batches.filter((b) => Batch.size(b) > 0)[1]!
      assert.strictEqual(other.records.length, Batch.size(other))
    })
  )

  it.live("checkpoints read off binary rows equal the text ones for every key type, and each resumes exactly", () =>
    Effect.gen(function* () {
      for (const table of ["k_ts", "k_tsl", "k_num", "k_date", "k_uuid", "k_text", "k_int2"]) {
        const src = source(table, "k")
        const binary = yield* collect(src, undefined, BINARY)
        const text = yield* collect(src, undefined, TEXT)
        assert.isTrue(
          binary.filter((b) => Batch.size(b) > 0).every((b) => Batch.encodedOf(b)?.format === EncodedRows.COPY_BINARY),
          table
        )
        assert.deepStrictEqual(
          binary.map((b) => b.checkpoint),
          text.map((b) => b.checkpoint),
          table
        )
        const all = binary.flatMap((b) => b.records)
        assert.isAbove(all.length, 2, table)
        // In pages of 2 rows, each page's checkpoint resumes with exactly the rows after it.
        const paged = yield* collect(
          PostgresSource.make({ connection: config, streams: [{ table: [schema, table], key: "k" }], batchSize: 2 }),
          undefined,
          BINARY
        )
        let seen = 0
        for (const b of paged) {
          seen += Batch.size(b)
          if (b.checkpoint === undefined) continue
          const rest = yield* collect(src, b.checkpoint, BINARY)
          assert.deepStrictEqual(
            [...all.slice(0, seen), ...rest.flatMap((x) => x.records)],
            all,
            `${table} after ${seen}`
          )
        }
        assert.strictEqual(seen, all.length, table)
      }
    })
  )

  it.live(
    "PG → runner → PG in COPY binary (append, replace, merge): the target equals the source; other target types get decoded rows",
    () =>
      Effect.gen(function* () {
        // The columns whose types a sink's live table describes (uuid and name columns are loaded as decoded rows).
        const copied = COLUMNS.filter(([, t]) => t !== "uuid" && t !== "name")
        const columns = copied.map(([c, t]) => `${q(c)} ${t}`).join(", ")
        yield* Effect.promise(() =>
          withClient(async (client) => {
            await client.query(`create table ${T("dst")} (id bigint, ${columns})`)
            await client.query(`create table ${T("dst_replace")} (id bigint, ${columns})`)
            await client.query(`create table ${T("dst_merge")} (id bigint primary key, ${columns})`)
            // Rows the merge must update (and one it must leave alone).
            await client.query(`insert into ${T("dst_merge")} (id, c_text) values (1, 'old'), (5, 'old'), (99, 'kept')`)
            // Same columns, but the numerics as text: the rows cannot load as they are.
            await client.query(
              `create table ${T("dst_other")} (id bigint, ${columns.replace('"c_numeric" numeric,', '"c_numeric" text,')})`
            )
          })
        )
        const dispositions = {
          dst: undefined,
          dst_other: undefined,
          dst_replace: "replace",
          dst_merge: { merge: { key: ["id"] } }
        } as const
        for (const [target, disposition] of Object.entries(dispositions)) {
          const seen: Array<string> = []
          const sink = PostgresSink.make({
            connection: config,
            table: [schema, target],
            create: false,
            ...(disposition === undefined ? {} : { disposition })
          })
          const copy = Pipeline.make<PostgresSource.Row, PostgresSource.Row>({
            name: `copy_binary_${target}`,
            version: "1.0.0",
            description: "copies the binary source table",
            source: PostgresSource.make({
              connection: config,
              streams: [{ table: [schema, "src"], key: "id", columns: ["id", ...copied.map(([c]) => c)] }]
            }),
            sink: {
              ...sink,
              open: (context) =>
                Effect.map(sink.open(context), (writer) => ({
                  ...writer,
                  write: (batch, ctx) => {
                    if ((batch.encoded?.rows ?? batch.records.length) > 0) seen.push(batch.encoded?.format ?? "records")
                    return writer.write(batch, ctx)
                  }
                }))
            }
          })
          const summary = yield* Runner.run(copy, {}).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
          assert.strictEqual(summary.recordsWritten, ROWS, target)
          assert.deepStrictEqual([...new Set(seen)], [EncodedRows.COPY_BINARY], target)
          // Loaded as they came, every column is the same text; decoded rows re-encode json (whitespace) and jsonb
          // (a number's trailing zeros), so those are compared as jsonb values.
          const decoded = target === "dst_other"
          const texts = (table: string) =>
            withClient(async (client) => {
              const all = ["id", ...copied.map(([c]) => c)]
                .filter((c) => !decoded || !c.startsWith("c_json"))
                .map((c) => `${q(c)}::text`)
                .join(", ")
              return (await client.query(`select ${all} from ${T(table)} where id <> 99 order by id`)).rows
            })
          const [from, to] = yield* Effect.promise(() => Promise.all([texts("src"), texts(target)]))
          assert.deepStrictEqual(to, from, target)
          const differentJson = yield* Effect.promise(() =>
            withClient(async (client) => {
              const r = await client.query(
                `select count(*)::int as n from ${T("src")} s join ${T(target)} d using (id)
               where s.c_json::jsonb is distinct from d.c_json::jsonb or s.c_jsonb is distinct from d.c_jsonb`
              )
              return r.rows[0].n as number
            })
          )
          assert.strictEqual(differentJson, 0, target)
          if (target === "dst_merge") {
            const kept = yield* Effect.promise(() =>
              withClient((client) => client.query(`select c_text from ${T(target)} where id = 99`))
            )
            assert.deepStrictEqual(kept.rows, [{ c_text: "kept" }])
          }
        }
      })
  )

  it("malformed COPY binary fails with a CodecError naming what is wrong", () => {
    const columns = [
      { name: "id", oid: PostgresCodec.Oid.int8 },
      { name: "note", oid: PostgresCodec.Oid.text }
    ]
    const header = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1")
    const stream = (...parts: ReadonlyArray<Buffer>) => [Buffer.concat([header, Buffer.alloc(8), ...parts])]
    const row = Buffer.from([0, 2, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 2, 0x68, 0x69])
    const trailer = Buffer.from([0xff, 0xff])
    // Whole: one row, split in groups of one.
    const ok = EncodedRows.splitBinary(stream(row, trailer), columns, 1)
    assert.deepStrictEqual(
      ok.groups.map((g) => g.rows),
      [1]
    )
    assert.deepStrictEqual(
      EncodedRows.decode({
        format: EncodedRows.COPY_BINARY,
        columns: columns.map((c) => ({ name: c.name, type: String(c.oid) })),
        rows: 1,
        chunks: ok.groups[0]!.chunks
      }),
      [{ id: 7n, note: "hi" }]
    )
    // A chunk boundary inside every field: the same rows.
    const whole = stream(row, row, trailer)[0]!
    for (let cut = 1; cut < whole.length; cut++) {
      const split = EncodedRows.splitBinary([whole.subarray(0, cut), whole.subarray(cut)], columns, 5)
      assert.deepStrictEqual(
        EncodedRows.decode({
          format: EncodedRows.COPY_BINARY,
          columns: columns.map((c) => ({ name: c.name, type: String(c.oid) })),
          rows: 2,
          chunks: split.groups[0]!.chunks
        }),
        [
          { id: 7n, note: "hi" },
          { id: 7n, note: "hi" }
        ],
        `cut at ${cut}`
      )
      assert.deepStrictEqual(EncodedRows.binaryRowFields(split.lastRows[0]!, columns, [0, 1]), ["7", "hi"])
    }
    const fails = (f: () => unknown, detail: string) => {
      try {
        f()
        assert.fail("expected a CodecError")
      } catch (e) {
        assert.instanceOf(e, PostgresCodec.CodecError)
        assert.include((e as PostgresCodec.CodecError).detail, detail)
      }
    }
    fails(() => EncodedRows.splitBinary([Buffer.from("id\tnote\n")], columns, 1), "not a COPY binary stream")
    fails(() => EncodedRows.splitBinary(stream(row), columns, 1), "ends without its trailer")
    fails(() => EncodedRows.splitBinary(stream(row.subarray(0, 10)), columns, 1), "well-formed fields")
    const badInt8 = Buffer.from([0, 2, 0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 2, 0x68, 0x69])
    fails(
      () =>
        EncodedRows.decode({
          format: EncodedRows.COPY_BINARY,
          columns: columns.map((c) => ({ name: c.name, type: String(c.oid) })),
          rows: 1,
          chunks: [badInt8]
        }),
      "int8"
    )
  })
})
