import { createHash, randomBytes } from "node:crypto"
import { createRequire } from "node:module"
import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { Timestamp } from "@data-mcp/core"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import type pg from "pg"
import { from as copyFrom, to as copyTo } from "pg-copy-streams"
import * as PostgresCodec from "../src/PostgresCodec.ts"
import * as Db from "./utils.ts"

// vitest runs Node with `--conditions import`, under which pg's index requires pg-pool's ESM build and fails to
// load; the client alone does not need the pool, so load it directly.
const Client = createRequire(import.meta.url)("pg/lib/client.js") as typeof pg.Client

// The address comes from the usual libpq variables; with CI=true the suite never skips.
const config: pg.ClientConfig = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test",
  connectionTimeoutMillis: 5_000
}

const unreachable = await Db.unreachable("PostgresCodec")

const ts = (iso: string) => Timestamp.fromISOString(iso)
const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i)

// One column of every supported type. bpchar(5) pads, so its values are written padded.
const COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ["id", "int4"],
  ["b", "bool"],
  ["i2", "int2"],
  ["i4", "int4"],
  ["i8", "int8"],
  ["f4", "float4"],
  ["f8", "float8"],
  ["num", "numeric"],
  ["t", "text"],
  ["vc", "varchar(200)"],
  ["bp", "char(5)"],
  ["u", "uuid"],
  ["d", "date"],
  ["tm", "time"],
  ["iv", "interval"],
  ["ts", "timestamp"],
  ["tstz", "timestamptz"],
  ["j", "json"],
  ["jb", "jsonb"],
  ["by", "bytea"],
  ["ai4", "int4[]"],
  ["ai8", "int8[]"],
  ["at", "text[]"],
  ["anum", "numeric[]"],
  ["atstz", "timestamptz[]"],
  ["ajb", "jsonb[]"],
  ["ab", "bool[]"],
  ["af8", "float8[]"],
  ["avc", "varchar[]"],
  ["au", "uuid[]"],
  ["ad", "date[]"],
  ["ats", "timestamp[]"],
  ["aby", "bytea[]"]
]

const largeJson = {
  note: "about one megabyte",
  big: 12345678901234567890n,
  items: Array.from({ length: 11_000 }, (_, i) => ({
    i,
    name: `élément ${i} 🎉 中文`,
    tags: ["a", "b\tc", 'q"uote'],
    v: i / 7
  }))
}

const fullRow: PostgresCodec.Row = {
  id: 1,
  b: true,
  i2: -32768,
  i4: 2147483647,
  i8: 9007199254740993n,
  f4: 1.5,
  f8: Number.NaN,
  num: "123456789012345678901234567890.123456789",
  t: "emoji 🎉👩‍👩‍👧, CJK 中文字, combining e\u0301 a\u0308, RTL שלום, tab\tnewline\ncr\rbackslash\\ \\N",
  vc: "ünïcödé",
  bp: "ab   ",
  u: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
  d: "2024-02-29",
  tm: "12:00:01.25",
  iv: "1 day 02:00:01.5",
  ts: ts("2024-03-10T02:30:00.000001"), // a wall clock that does not exist in New York: kept as written
  tstz: ts("2024-03-10T06:59:59.999999Z"), // one microsecond before New York's spring-forward
  j: { big: -9223372036854775808n, small: 1.25, nested: { arr: [1, null, "NULL", "\\"] } },
  jb: largeJson,
  by: allBytes,
  ai4: [
    [1, 2],
    [3, null]
  ],
  ai8: [9007199254740993n, -9223372036854775808n, null],
  at: ["a,b", 'c"d', "NULL", "", " x ", "{}", "back\\slash", null, "tab\tnew\nline", "🎉"],
  anum: ["1.50", "NaN", "-Infinity", null, "0.000000000000000000000000000001"],
  atstz: [ts("2024-11-03T05:30:00Z"), ts("2024-11-03T06:30:00Z"), "infinity", "-infinity", null],
  ajb: [{ a: 1, "b,c": [true, null] }, "string", 12345678901234567890n, null],
  ab: [true, false, null],
  af8: [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, -0, 0.1, 1e308],
  avc: ["é", "中", ""],
  au: ["00000000-0000-0000-0000-000000000000"],
  ad: ["0000-01-01", "-004712-01-01", "+010000-12-31", "infinity"],
  ats: [ts("1999-12-31T23:59:59.999999"), ts("-004000-06-15T12:00:00")],
  aby: [allBytes, new Uint8Array(0), null]
}

const edgeRow: PostgresCodec.Row = {
  id: 2,
  b: false,
  i2: 32767,
  i4: -2147483648,
  i8: -9223372036854775808n,
  f4: Number.NEGATIVE_INFINITY,
  f8: -0,
  num: "-0.000000000000000000000000000001",
  t: "",
  vc: "",
  bp: "     ",
  u: "ffffffff-ffff-ffff-ffff-ffffffffffff",
  d: "-004712-01-01",
  tm: "00:00:00",
  iv: "-1 years -2 mons +3 days -04:05:06.000007",
  ts: ts("-004712-01-01T00:00:00"),
  tstz: ts("2024-03-10T07:00:00Z"), // New York's spring-forward instant
  j: [],
  jb: {},
  by: new Uint8Array(0),
  ai4: [],
  ai8: [],
  at: [],
  anum: [],
  atstz: [],
  ajb: [],
  ab: [],
  af8: [],
  avc: [],
  au: [],
  ad: [],
  ats: [],
  aby: []
}

const futureRow: PostgresCodec.Row = {
  ...edgeRow,
  id: 3,
  i8: 9223372036854775807n,
  f8: Number.POSITIVE_INFINITY,
  num: "Infinity",
  d: "+010000-01-01",
  ts: ts("+100000-01-01T00:00:00.5"),
  tstz: ts("1800-01-01T00:00:00Z"), // local mean time in Kolkata: +05:53:28
  jb: { deep: { er: { est: [1, [2, [3, "🎉"]]] } } }
}

const infiniteRow: PostgresCodec.Row = { ...edgeRow, id: 4, d: "infinity", ts: "-infinity", tstz: "infinity" }

const nullRow: PostgresCodec.Row = Object.fromEntries(COLUMNS.map(([name]) => [name, name === "id" ? 5 : null]))

const ROWS = [fullRow, edgeRow, futureRow, infiniteRow, nullRow]

describe.skipIf(unreachable !== undefined)("PostgresCodec against PostgreSQL", () => {
  const client = new Client(config)
  const table = `codec_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`
  let columns: ReadonlyArray<PostgresCodec.Column> = []

  const names = COLUMNS.map(([name]) => name).join(", ")

  const readAll = async (timeZone: string): Promise<Array<PostgresCodec.Row>> => {
    await client.query(`SET TimeZone = '${timeZone}'`)
    const decoder = PostgresCodec.makeDecoder(columns)
    const out: Array<PostgresCodec.Row> = []
    let chunks = 0
    const stream = client.query(copyTo(`COPY (SELECT ${names} FROM ${table} ORDER BY id) TO STDOUT`))
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks++
      decoder.pushInto(chunk, out)
    }
    decoder.end()
    assert.isAbove(chunks, 1)
    return out
  }

  beforeAll(async () => {
    await client.connect()
    for (const statement of PostgresCodec.sessionSettings) await client.query(statement)
    await client.query(`CREATE TABLE ${table} (${COLUMNS.map(([n, t]) => `${n} ${t}`).join(", ")})`)
    const described = await client.query(`SELECT ${names} FROM ${table} LIMIT 0`)
    columns = described.fields.map((f) => ({ name: f.name, oid: f.dataTypeID }))
    // Write under a zone with DST: the encoder's explicit offsets make the session zone irrelevant.
    await client.query("SET TimeZone = 'America/New_York'")
    const encoder = PostgresCodec.makeEncoder(columns)
    const copy = client.query(copyFrom(`COPY ${table} (${names}) FROM STDIN`))
    await pipeline(Readable.from(ROWS.map((r) => Buffer.from(encoder.encodeRow(r), "utf8"))), copy)
    assert.strictEqual(copy.rowCount, ROWS.length)
  })

  afterAll(async () => {
    await client.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined)
    await client.end()
  })

  it("knows every column's OID", () => {
    for (const c of columns) assert.isTrue(PostgresCodec.isSupported(c.oid), `${c.name} (oid ${c.oid})`)
    const byName = Object.fromEntries(columns.map((c) => [c.name, c.oid]))
    assert.strictEqual(byName.i8, PostgresCodec.Oid.int8)
    assert.strictEqual(byName.tstz, PostgresCodec.Oid.timestamptz)
    assert.strictEqual(byName.atstz, PostgresCodec.Oid._timestamptz)
    assert.strictEqual(byName.ajb, PostgresCodec.Oid._jsonb)
    assert.strictEqual(byName.aby, PostgresCodec.Oid._bytea)
  })

  it("reads back exactly what was written, in UTC", async () => {
    const rows = await readAll("UTC")
    assert.strictEqual(rows.length, ROWS.length)
    for (let i = 0; i < ROWS.length; i++) assert.deepStrictEqual(rows[i], ROWS[i], `row ${ROWS[i]?.id}`)
  })

  it("reads the same values whatever the session time zone prints (+05:30, DST, LMT)", async () => {
    for (const zone of [
      "Asia/Kolkata",
      "America/New_York",
      "Australia/Lord_Howe",
      "America/St_Johns",
      "Asia/Kathmandu"
    ]) {
      const rows = await readAll(zone)
      for (let i = 0; i < ROWS.length; i++) assert.deepStrictEqual(rows[i], ROWS[i], `row ${ROWS[i]?.id} in ${zone}`)
    }
    // The offsets really were printed.
    await client.query("SET TimeZone = 'Asia/Kolkata'")
    const printed = await client.query<{ tstz: string; old: string }>(
      `SELECT tstz::text AS tstz, (SELECT tstz::text FROM ${table} WHERE id = 3) AS old FROM ${table} WHERE id = 1`
    )
    assert.strictEqual(printed.rows[0]?.tstz, "2024-03-10 12:29:59.999999+05:30")
    assert.strictEqual(printed.rows[0]?.old, "1800-01-01 05:53:28+05:53:28")
    await client.query("SET TimeZone = 'UTC'")
  })

  it("agrees with PostgreSQL's own text casts", async () => {
    await client.query("SET TimeZone = 'UTC'")
    const result = await client.query<Record<string, string | null>>(
      `SELECT i8::text AS i8, num::text AS num, ts::text AS ts, tstz::text AS tstz, d::text AS d,
              encode(sha256(by), 'hex') AS by_sha, length(jb::text)::text AS jb_len, jb->>'big' AS jb_big,
              (t = $1)::text AS t_eq, ai8::text AS ai8
         FROM ${table} WHERE id = 1`,
      [fullRow.t]
    )
    const row = result.rows[0]!
    assert.strictEqual(row.i8, "9007199254740993")
    assert.strictEqual(row.num, "123456789012345678901234567890.123456789")
    assert.strictEqual(row.ts, "2024-03-10 02:30:00.000001")
    assert.strictEqual(row.tstz, "2024-03-10 06:59:59.999999+00")
    assert.strictEqual(row.d, "2024-02-29")
    assert.strictEqual(row.by_sha, createHash("sha256").update(allBytes).digest("hex"))
    assert.isAbove(Number(row.jb_len), 1_000_000)
    assert.strictEqual(row.jb_big, "12345678901234567890")
    assert.strictEqual(row.t_eq, "true")
    assert.strictEqual(row.ai8, "{9007199254740993,-9223372036854775808,NULL}")
    const edge = await client.query<Record<string, string>>(
      `SELECT i8::text AS i8, d::text AS d, ts::text AS ts FROM ${table} WHERE id = 2`
    )
    assert.deepStrictEqual(edge.rows[0], {
      i8: "-9223372036854775808",
      d: "4713-01-01 BC",
      ts: "4713-01-01 00:00:00 BC"
    })
  })

  it("decodes a COPY split into one-byte chunks the same way", async () => {
    await client.query("SET TimeZone = 'Asia/Kolkata'")
    const raw: Array<Buffer> = []
    const stream = client.query(copyTo(`COPY (SELECT ${names} FROM ${table} WHERE id <> 1 ORDER BY id) TO STDOUT`))
    for await (const chunk of stream as AsyncIterable<Buffer>) raw.push(chunk)
    const payload = Buffer.concat(raw)
    const decoder = PostgresCodec.makeDecoder(columns)
    const out: Array<PostgresCodec.Row> = []
    for (let i = 0; i < payload.length; i++) decoder.pushInto(payload.subarray(i, i + 1), out)
    decoder.end()
    assert.deepStrictEqual(out, ROWS.slice(1))
    await client.query("SET TimeZone = 'UTC'")
  })
})
