import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { parquetMetadata } from "hyparquet"
import { ConfigError } from "../../src/Config.ts"
import * as Parquet from "../../src/connectors/parquet/Parquet.ts"
import * as Timestamp from "../../src/Timestamp.ts"
import { listDir, openContext, readAll, recordsOf, tempDir, writeAll, writeContext } from "./utils.ts"

const BASE = 1_767_323_045_123_456n // 2026-01-02T03:04:05.123456Z

const row = (i: number) => ({
  id: i,
  big: BigInt(i) * 10_000_000_000n,
  name: `name-${i}`,
  score: i / 7,
  ok: i % 3 === 0,
  at: Timestamp.fromEpochMicros(BASE + BigInt(i) * 1_000_001n),
  local: Timestamp.fromEpochMicros(BASE + BigInt(i), { zoned: false }),
  day: "2026-02-28",
  note: i % 10 === 0 ? null : `n${i}`
})

const schema = {
  id: "INT32",
  big: "INT64",
  name: "STRING",
  score: "DOUBLE",
  ok: "BOOLEAN",
  at: "TIMESTAMP",
  local: "TIMESTAMP_NTZ",
  day: "DATE",
  note: "STRING"
} as const

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<Array<A>> => {
  const out: Array<Array<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

const comparable = (r: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(r).map(([k, v]) => [k, v instanceof Timestamp.Timestamp ? `${v.micros}/${v.zoned}` : v])
  )

describe("Parquet", () => {
  it.effect("round-trips a few thousand rows of int, bigint, string, double, bool, timestamps, date and nulls", () =>
    Effect.gen(function* () {
      const target = path.join(tempDir(), "events.parquet")
      const rows = Array.from({ length: 4500 }, (_, i) => row(i))
      const results = yield* writeAll(Parquet.sink({ path: target, schema, rowGroupSize: 1000 }), chunks(rows, 600))
      assert.strictEqual(
        results.reduce((n, r) => n + r.written, 0),
        4500
      )
      const metadata = parquetMetadata(fs.readFileSync(target))
      assert.deepStrictEqual(
        metadata.row_groups.map((g) => Number(g.num_rows)),
        [1000, 1000, 1000, 1000, 500]
      )

      const source = Parquet.source({ path: target, batchSize: 700 })
      const batches = yield* readAll(source)
      assert.strictEqual(batches[0]?.stream, "events")
      const back = recordsOf(batches)
      assert.strictEqual(back.length, 4500)
      assert.deepStrictEqual(back.map(comparable), rows.map(comparable))
      assert.strictEqual(typeof back[5]?.big, "bigint")
      assert.isTrue(back[5]?.local instanceof Timestamp.Timestamp && !back[5].local.zoned)
      assert.strictEqual(batches.at(-1)?.checkpoint, 4500)
      assert.deepStrictEqual(yield* source.estimate!(1000), { rows: 3500, bytes: fs.statSync(target).size, to: 4500 })
    })
  )

  it.effect("resuming from a checkpoint inside a row group skips exactly the delivered rows", () =>
    Effect.gen(function* () {
      const target = path.join(tempDir(), "resume.parquet")
      const rows = Array.from({ length: 2500 }, (_, i) => ({ id: BigInt(i), name: `n${i}` }))
      yield* writeAll(Parquet.sink({ path: target, rowGroupSize: 1000 }), [rows])
      const source = Parquet.source({ path: target, batchSize: 300 })
      const batches = yield* readAll(source)
      assert.deepStrictEqual(
        batches.map((b) => b.checkpoint),
        [300, 600, 900, 1000, 1300, 1600, 1900, 2000, 2300, 2500]
      )
      for (const from of [0, 300, 1000, 1300, 2499, 2500]) {
        const rest = recordsOf(yield* readAll(source, from))
        assert.deepStrictEqual(rest, rows.slice(from))
      }
      const projected = recordsOf(yield* readAll(Parquet.source({ path: target, columns: ["name"] }), 2498))
      assert.deepStrictEqual(projected, [{ name: "n2498" }, { name: "n2499" }])
    })
  )

  it.effect("infers columns from the first batch and rejects records that do not fit, one by one", () =>
    Effect.gen(function* () {
      const target = path.join(tempDir(), "inferred.parquet")
      const at = Timestamp.fromISOString("2026-01-02T03:04:05.000001Z")
      const results = yield* writeAll(Parquet.sink({ path: target }), [
        [{ n: 1.5, s: "a", b: true, big: 1n, at, bytes: new Uint8Array([1, 2]), obj: { k: [1, "x"] }, empty: null }],
        [
          { n: "not a number" },
          { n: 2, extra: 1 },
          { n: 3, big: 2 ** 60 },
          { n: 4, at: Timestamp.fromEpochMicros(0n, { zoned: false }) },
          { n: 5, big: 2n ** 62n }
        ]
      ])
      assert.deepStrictEqual(
        results[1]?.rejected?.map((r) => [r.index, r.reason]),
        [
          [0, 'field "n": expected a number (DOUBLE)'],
          [1, `field "extra" is not a column of file ${target}`],
          [2, 'field "big": expected a 64-bit integer (bigint or safe integer) (INT64)'],
          [3, 'field "at": expected a zoned timestamp (TIMESTAMP)']
        ]
      )
      const back = recordsOf(yield* readAll(Parquet.source({ path: target })))
      assert.strictEqual(back.length, 2)
      assert.deepStrictEqual(comparable(back[0]!), {
        n: 1.5,
        s: "a",
        b: true,
        big: 1n,
        at: `${at.micros}/true`,
        bytes: new Uint8Array([1, 2]),
        obj: { k: [1, "x"] },
        empty: null
      })
      assert.strictEqual(back[1]?.big, 2n ** 62n)
    })
  )

  it.effect(
    "replace is atomic: untouched until finish; a failed run leaves no temp file and the target unchanged",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        const target = path.join(dir, "snap.parquet")
        fs.writeFileSync(target, "old")
        const sink = Parquet.sink({ path: target, rowGroupSize: 10 })
        assert.strictEqual(sink.disposition.type, "replace")
        const failed = yield* Effect.exit(
          Effect.scoped(
            Effect.gen(function* () {
              const writer = yield* sink.open(openContext())
              yield* writer.write(
                { stream: "default", records: Array.from({ length: 25 }, (_, i) => ({ i })) },
                writeContext(0)
              )
              assert.strictEqual(listDir(dir).length, 2)
              return yield* Effect.fail("boom")
            })
          )
        )
        assert.isTrue(Exit.isFailure(failed))
        assert.deepStrictEqual(listDir(dir), ["snap.parquet"])
        assert.strictEqual(fs.readFileSync(target, "utf8"), "old")
        yield* writeAll(sink, [[{ i: 1 }, { i: 2 }]])
        assert.deepStrictEqual(recordsOf(yield* readAll(Parquet.source({ path: target }))), [{ i: 1 }, { i: 2 }])
        assert.deepStrictEqual(listDir(dir), ["snap.parquet"])
      })
  )

  it.effect("a run with no records writes an empty file when the schema is given, and fails without one", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const target = path.join(dir, "empty.parquet")
      yield* writeAll(Parquet.sink({ path: target, schema: { id: "INT64" } }), [])
      assert.deepStrictEqual(yield* readAll(Parquet.source({ path: target })), [])
      const error = yield* Effect.flip(writeAll(Parquet.sink({ path: path.join(dir, "none.parquet") }), []))
      assert.include(error.message, "schema")
      assert.deepStrictEqual(listDir(dir), ["empty.parquet"])
    })
  )

  it.effect("a missing file fails with NotFound; a file that is not Parquet fails to decode", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const missing = yield* Effect.flip(readAll(Parquet.source({ path: path.join(dir, "missing.parquet") })))
      assert.strictEqual(missing.reason._tag, "NotFound")
      const garbage = path.join(dir, "garbage.parquet")
      fs.writeFileSync(garbage, "this is not parquet at all")
      const bad = yield* Effect.flip(readAll(Parquet.source({ path: garbage })))
      assert.strictEqual(bad.reason._tag, "Unknown")
      assert.include(bad.message, "could not be decoded as Parquet")
    })
  )

  it("a bad option fails fast with a ConfigError naming the field", () => {
    for (const [make, field] of [
      [() => Parquet.sink({ path: "x.parquet", disposition: "append" as never }), "disposition"],
      [() => Parquet.sink({ path: "x.parquet", schema: { id: "INT128" as never } }), "schema.id"],
      [() => Parquet.sink({ path: "x.parquet", rowGroupSize: 0 }), "rowGroupSize"],
      [() => Parquet.source({ path: "x.parquet", columns: [] }), "columns"]
    ] as const) {
      try {
        make()
        assert.fail("expected a ConfigError")
      } catch (error) {
        assert.instanceOf(error, ConfigError)
        assert.strictEqual((error as ConfigError).path, field)
      }
    }
  })
})
