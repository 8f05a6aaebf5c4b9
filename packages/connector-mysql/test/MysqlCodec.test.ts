import { Timestamp } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import * as MysqlCodec from "../src/MysqlCodec.ts"

const col = (dataType: string, extra: Partial<MysqlCodec.TargetColumn> = {}): MysqlCodec.TargetColumn => ({
  name: "c",
  dataType,
  ...extra
})

const refuses = (f: () => unknown, fragment: string) => {
  try {
    f()
    assert.fail("expected a CodecError")
  } catch (e) {
    assert.instanceOf(e, MysqlCodec.CodecError)
    assert.include((e as Error).message, fragment)
  }
}

describe("MysqlCodec", () => {
  it("reads every date-time text to the microsecond (by position, and through the pattern)", () => {
    for (const [text, iso] of [
      ["2026-01-02 03:04:05", "2026-01-02T03:04:05.000000"],
      ["2026-01-02 03:04:05.1", "2026-01-02T03:04:05.100000"],
      ["2026-01-02 03:04:05.000007", "2026-01-02T03:04:05.000007"],
      ["2026-01-02T03:04:05.12345", "2026-01-02T03:04:05.123450"],
      ["1000-01-01 00:00:00.000001", "1000-01-01T00:00:00.000001"],
      ["9999-12-31 23:59:59.999999", "9999-12-31T23:59:59.999999"]
    ] as const)
      assert.strictEqual((MysqlCodec.decodeText("datetime", "c", text) as Timestamp.Timestamp).toISOString(), iso)
    for (const text of ["0000-00-00 00:00:00", "2026-13-01 00:00:00", "2026-1-01 00:00:00", "2026-01-01 00:00:0x"])
      refuses(() => MysqlCodec.decodeText("datetime", "c", text), "DATETIME")
  })

  it("decodes the server's text losslessly", () => {
    assert.strictEqual(MysqlCodec.decodeText("bigint", "c", "18446744073709551615"), 18446744073709551615n)
    assert.strictEqual(
      MysqlCodec.decodeText("decimal", "c", "12345678901234567890.0123456789"),
      "12345678901234567890.0123456789"
    )
    const dt = MysqlCodec.decodeText("datetime", "c", "2026-01-02 03:04:05.123456") as Timestamp.Timestamp
    assert.strictEqual(dt.toISOString(), "2026-01-02T03:04:05.123456")
    assert.isFalse(dt.zoned)
    const ts = MysqlCodec.decodeText("timestamp", "c", "0099-01-02 03:04:05") as Timestamp.Timestamp
    assert.strictEqual(ts.toISOString(), "0099-01-02T03:04:05.000000Z")
    assert.deepStrictEqual(MysqlCodec.decodeText("json", "c", '{"a":[1,2]}'), { a: [1, 2] })
    assert.deepStrictEqual(
      MysqlCodec.decodeText("json", "c", '{"b":"12345678901234567890","n":-12345678901234567890}'),
      {
        b: "12345678901234567890",
        n: -12345678901234567890n
      }
    )
    assert.strictEqual(MysqlCodec.bitsOf(new Uint8Array([0x02, 0xaa])), 682n)
  })

  it("tells kinds apart from the result metadata", () => {
    assert.strictEqual(MysqlCodec.kindOf({ name: "b", columnType: 252, characterSet: 63 }), "binary")
    assert.strictEqual(MysqlCodec.kindOf({ name: "t", columnType: 252, characterSet: 45 }), "string")
    assert.strictEqual(
      MysqlCodec.kindOf({ name: "j", columnType: 252, characterSet: 45, extendedFormat: "json" }),
      "json"
    )
    assert.strictEqual(MysqlCodec.kindOf({ name: "j", columnType: 245, characterSet: 63 }), "json")
    assert.strictEqual(MysqlCodec.kindOf({ name: "n", columnType: 8 }), "bigint")
    assert.strictEqual(MysqlCodec.kindOf({ name: "n", columnType: 246 }), "decimal")
  })

  it("encodes values exactly and refuses those that do not fit, naming the column only", () => {
    const t = Timestamp.fromEpochMicros(1_767_323_045_123_456n)
    assert.strictEqual(MysqlCodec.encodeValue(col("timestamp"), t), "2026-01-02 03:04:05.123456")
    assert.strictEqual(
      MysqlCodec.encodeValue(col("datetime"), Timestamp.fromEpochMicros(-1n, { zoned: false })),
      "1969-12-31 23:59:59.999999"
    )
    assert.strictEqual(
      MysqlCodec.encodeValue(col("bigint", { unsigned: true }), "18446744073709551615"),
      18446744073709551615n
    )
    assert.strictEqual(MysqlCodec.encodeValue(col("decimal"), "-1.50"), "-1.50")
    assert.strictEqual(
      MysqlCodec.encodeValue(col("json"), { a: 9007199254740993n, b: 1n }),
      '{"a":9007199254740993,"b":1}'
    )
    assert.isTrue(Buffer.isBuffer(MysqlCodec.encodeValue(col("blob"), new Uint8Array([1, 2]))))
    assert.strictEqual(MysqlCodec.encodeValue(col("int"), null), null)
    refuses(() => MysqlCodec.encodeValue(col("decimal"), "secret value"), 'column "c"')
    refuses(() => MysqlCodec.encodeValue(col("tinyint"), 300), "out of the range")
    refuses(() => MysqlCodec.encodeValue(col("timestamp"), Timestamp.fromEpochMicros(0n)), "TIMESTAMP's range")
    refuses(() => MysqlCodec.encodeValue(col("varchar", { maxLength: 2 }), "abc"), "longer than")
    try {
      MysqlCodec.encodeValue(col("decimal"), "secret value")
    } catch (e) {
      assert.notInclude((e as Error).message, "secret")
    }
  })
})
