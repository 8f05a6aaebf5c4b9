// The LOAD DATA text of the sink, with no server: the escapes, NULL, hex bytes and BIT, the statement's spelled-out
// format, and text that parses back to exactly the values it was encoded from (the INSERT fallback), for any
// string.
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as LoadData from "../src/internal/loadData.ts"
import type * as MysqlCodec from "../src/MysqlCodec.ts"

const columns: ReadonlyArray<MysqlCodec.TargetColumn> = [
  { name: "id", dataType: "bigint" },
  { name: "t", dataType: "longtext" },
  { name: "b", dataType: "longblob" },
  { name: "bits", dataType: "bit" },
  { name: "j", dataType: "json" }
]

describe("LoadData", () => {
  it("escapes what the format escapes, writes NULL as \\N, bytes as hex and BIT as an integer", () => {
    const out = LoadData.encodeRecords(columns, [
      {
        id: 1n,
        t: "a\tb\nc\rd\\e\u0000f\u001ag \\N",
        b: new Uint8Array([0, 9, 10, 92, 255]),
        bits: 5n,
        j: { k: "v\t" }
      },
      { id: 2n, t: null, b: null, bits: null, j: null }
    ])
    assert.deepStrictEqual(out.rejected, [])
    assert.strictEqual(out.rows, 2)
    assert.strictEqual(
      out.chunk.toString("utf8"),
      '1\ta\\tb\\nc\\rd\\\\e\\0f\\Zg \\\\N\t00090a5cff\t5\t{"k":"v\\\\t"}\n2\t\\N\t\\N\t\\N\t\\N\n'
    )
  })

  it("refuses a record whose value does not fit its column, by index, naming the column", () => {
    const out = LoadData.encodeRecords(columns, [{ id: "x" }, { id: 3n }])
    assert.strictEqual(out.rows, 1)
    assert.strictEqual(out.rejected[0]?.index, 0)
    assert.include(out.rejected[0]?.reason, '"id"')
  })

  it("spells the format out, with the character set, and converts bytes and bits through variables", () => {
    const q = LoadData.statement({ database: "d", table: "t" }, columns)
    assert.strictEqual(
      q.text,
      "load data local infile ? into table `d`.`t` character set utf8mb4 fields terminated by '\\t' escaped by '\\\\' lines terminated by '\\n' (`id`, `t`, @`dm_2`, @`dm_3`, `j`) set `b` = unhex(@`dm_2`), `bits` = cast(@`dm_3` as unsigned)"
    )
    assert.deepStrictEqual(q.values, [LoadData.FILE_NAME])
  })

  it("text parses back to the values it was encoded from, split anywhere between chunks", () => {
    const cols: ReadonlyArray<MysqlCodec.TargetColumn> = [
      { name: "t", dataType: "longtext" },
      { name: "b", dataType: "longblob" }
    ]
    // utf8mb4 text: any code point but lone surrogates, which no MySQL text column holds.
    const text = fc.option(fc.string({ unit: "grapheme" }), { nil: null })
    const bytes = fc.option(fc.uint8Array(), { nil: null })
    fc.assert(
      fc.property(fc.array(fc.record({ t: text, b: bytes })), fc.nat(), (records, at) => {
        const out = LoadData.encodeRecords(cols, records)
        const cut = out.chunk.length === 0 ? 0 : at % out.chunk.length
        const rows = LoadData.parse(cols, [out.chunk.subarray(0, cut), out.chunk.subarray(cut)])
        assert.strictEqual(rows.length, records.length)
        rows.forEach((row, i) => {
          assert.strictEqual(row[0], records[i]!.t)
          const b = records[i]!.b
          assert.deepStrictEqual(row[1] === null ? null : new Uint8Array(row[1] as Buffer), b)
        })
      })
    )
  })
})
