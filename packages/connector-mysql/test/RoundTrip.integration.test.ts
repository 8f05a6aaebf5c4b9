// Type round trips against the real MariaDB/MySQL: every supported type MariaDB → MysqlSource → MysqlSink → MariaDB
// through the runner, compared column by column in the server's own text (hex for bytes); the decoded values are
// checked one by one; and a table inferred by the sink from decoded records reads back to the same values.
// With CI=true the suite must run; otherwise an unreachable server skips it with the reason printed.
import { Memory, Pipeline, Runner, Timestamp } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as MysqlSink from "../src/MysqlSink.ts"
import * as MysqlSource from "../src/MysqlSource.ts"
import * as Db from "./utils.ts"

const db = await Db.database("RoundTrip", "dm_rt")

const DDL = `(
  id bigint unsigned primary key,
  i8 tinyint, i32 int, i64 bigint,
  d decimal(65, 30), f double,
  dt datetime(6), ts timestamp(6) null default null, da date, tm time(6),
  j json, b blob, vb varbinary(16), bt bit(10),
  t text, v varchar(20), e enum('a', 'b'), y year
) default charset = utf8mb4 collate = utf8mb4_bin`

const ROWS = [
  `(18446744073709551615, -128, -2147483648, -9223372036854775808, -12345678901234567890123456789012345.123456789012345678901234567890,
    1.7976931348623157e308, '1000-01-01 00:00:00.000001', '1970-01-01 00:00:01.000000', '1000-01-01', '-838:59:59.000000',
    '{"a": [1, 2.5, "x"], "big": 12345678901234567890, "n": null}', x'00ff10', x'', b'1111111111',
    'ascii', '', 'a', 1901)`,
  `(1, 127, 2147483647, 9223372036854775807, 0.000000000000000000000000000001, -0.0, '9999-12-31 23:59:59.999999',
    '2038-01-19 03:14:07.999999', '9999-12-31', '838:59:59.999999', '[]', x'deadbeef', x'0102', b'0',
    'näme 🎉 "q" \\\\ \\t\\n ''quoted''', 'ü€😀', 'b', 2155)`,
  `(2, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null)`
]

const COMPARE = `select cast(id as char) as id, cast(i8 as char) as i8, cast(i32 as char) as i32, cast(i64 as char) as i64,
  cast(d as char) as d, cast(f as char) as f, cast(dt as char) as dt, cast(ts as char) as ts, cast(da as char) as da,
  cast(tm as char) as tm, json_compact(j) as j, hex(b) as b, hex(vb) as vb, bin(bt) as bt, t, v, e, cast(y as char) as y`

const snapshot = (table: string) =>
  Effect.promise(() =>
    Db.withConnection(async (c) => {
      const [rows] = await c.query(`${COMPARE} from \`${table}\` order by id`)
      return rows as Array<Record<string, unknown>>
    }, db.name)
  )

const run = <P, A, B>(pipeline: Pipeline.Pipeline<P, A, B>) =>
  Runner.run(pipeline, {}).pipe(Effect.scoped, Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))

describe.skipIf(db.unreachable !== undefined)("MySQL type round trips", () => {
  it.live("every type survives MariaDB → source → sink → MariaDB, byte for byte", () =>
    Effect.gen(function* () {
      yield* Effect.promise(() =>
        Db.withConnection(async (c) => {
          await c.query(`create table src ${DDL}`)
          await c.query(`insert into src values ${ROWS.join(", ")}`)
          await c.query("create table dst like src")
        }, db.name)
      )
      const summary = yield* run(
        Pipeline.make({
          name: `rt_${db.name}`,
          version: "1.0.0",
          description: "type round trip",
          source: MysqlSource.make({ connection: db.config, streams: [{ table: "src", key: "id" }] }),
          sink: MysqlSink.make({ connection: db.config, table: "dst" }) as never
        })
      )
      assert.strictEqual(summary.status, "succeeded")
      assert.strictEqual(summary.recordsWritten, 3)
      assert.strictEqual(summary.deadLetters, 0)
      const [source, target] = [yield* snapshot("src"), yield* snapshot("dst")]
      assert.strictEqual(source.length, 3)
      assert.deepStrictEqual(target, source)
    })
  )

  it.live("values decode to lossless JavaScript types", () =>
    Effect.gen(function* () {
      const batches = yield* Stream.runCollect(
        MysqlSource.make({ connection: db.config, streams: [{ table: "src", key: "id" }] }).read(undefined, {
          runId: "t",
          batchRows: 10
        })
      )
      const rows = batches.flatMap((b) => b.records)
      assert.deepStrictEqual(
        rows.map((r) => r.id),
        [1n, 2n, 18446744073709551615n]
      )
      const [one, nulls, max] = [rows[0]!, rows[1]!, rows[2]!]
      assert.strictEqual(max.i64, -9223372036854775808n)
      assert.strictEqual(max.i32, -2147483648)
      assert.strictEqual(max.d, "-12345678901234567890123456789012345.123456789012345678901234567890")
      assert.strictEqual(max.f, 1.7976931348623157e308)
      assert.strictEqual((max.dt as Timestamp.Timestamp).toISOString(), "1000-01-01T00:00:00.000001")
      assert.isFalse((max.dt as Timestamp.Timestamp).zoned)
      assert.strictEqual((max.ts as Timestamp.Timestamp).toISOString(), "1970-01-01T00:00:01.000000Z")
      assert.isTrue((max.ts as Timestamp.Timestamp).zoned)
      assert.strictEqual(max.da, "1000-01-01")
      assert.strictEqual(max.tm, "-838:59:59.000000")
      assert.deepStrictEqual(max.j, { a: [1, 2.5, "x"], big: 12345678901234567890n, n: null })
      assert.deepStrictEqual(max.b, new Uint8Array([0x00, 0xff, 0x10]))
      assert.deepStrictEqual(max.vb, new Uint8Array([]))
      assert.strictEqual(max.bt, 1023n)
      assert.strictEqual(max.y, 1901)
      assert.strictEqual(one.t, `näme 🎉 "q" \\ \t\n 'quoted'`)
      assert.strictEqual(one.v, "ü€😀")
      assert.strictEqual((one.ts as Timestamp.Timestamp).toISOString(), "2038-01-19T03:14:07.999999Z")
      for (const [k, v] of Object.entries(nulls)) if (k !== "id") assert.isNull(v, k)
    })
  )

  it.live("a table the sink infers from decoded records reads back to the same values", () =>
    Effect.gen(function* () {
      const records = [
        {
          id: 9_007_199_254_740_993n,
          amount: "12345678901234567890.5",
          at: Timestamp.fromEpochMicros(1_767_323_045_123_456n, { zoned: true }),
          local: Timestamp.fromEpochMicros(-30_000_000_000_000_001n, { zoned: false }),
          doc: { nested: { list: [1, "two", null] }, big: 123456789012345678901234567890n },
          bytes: new Uint8Array([0, 1, 254, 255]),
          text: "🎉 utf8mb4 \u0001",
          flag: true,
          ratio: 0.1
        },
        { id: 1n, amount: null, at: null, local: null, doc: null, bytes: null, text: null, flag: false, ratio: null }
      ]
      const summary = yield* run(
        Pipeline.make({
          name: `rt_infer_${db.name}`,
          version: "1.0.0",
          description: "inferred round trip",
          source: Memory.source(records),
          sink: MysqlSink.make({ connection: db.config, table: "inferred" }) as never
        })
      )
      assert.strictEqual(summary.status, "succeeded")
      const back = (yield* Stream.runCollect(
        MysqlSource.make({ connection: db.config, streams: [{ table: "inferred", key: "id" }] }).read(undefined, {
          runId: "t",
          batchRows: 10
        })
      )).flatMap((b) => b.records)
      const row = back.find((r) => r.id === records[0]!.id)!
      // A string stays a string (records carry decimals as strings; inference makes it a text column).
      assert.strictEqual(row.amount, records[0]!.amount)
      assert.strictEqual((row.at as Timestamp.Timestamp).micros, records[0]!.at!.micros)
      assert.isTrue((row.at as Timestamp.Timestamp).zoned)
      assert.strictEqual((row.local as Timestamp.Timestamp).micros, records[0]!.local!.micros)
      assert.isFalse((row.local as Timestamp.Timestamp).zoned)
      assert.deepStrictEqual(row.doc, records[0]!.doc)
      assert.deepStrictEqual(row.bytes, records[0]!.bytes)
      assert.strictEqual(row.text, records[0]!.text)
      assert.strictEqual(row.flag, 1)
      assert.strictEqual(row.ratio, 0.1)
      const empty = back.find((r) => r.id === 1n)!
      assert.deepStrictEqual(
        Object.entries(empty)
          .filter(([, v]) => v !== null)
          .map(([k]) => k),
        ["id", "flag"]
      )
    })
  )
})
