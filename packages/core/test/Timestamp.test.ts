import { Timestamp } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Exit, Schema } from "effect"
import * as fc from "fast-check"

const T = Timestamp

// Epoch micros computed independently of the module under test (Date.UTC maps years 0-99 to 19xx, so avoid it).
const utcMicros = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, micro = 0): bigint => {
  const date = new Date(0)
  date.setUTCFullYear(y, mo - 1, d)
  date.setUTCHours(h, mi, s, 0)
  return BigInt(date.getTime()) * 1000n + BigInt(micro)
}

describe("Timestamp", () => {
  describe("microseconds", () => {
    it("keeps all six fractional digits", () => {
      const t = T.fromISOString("2026-01-02T03:04:05.123456Z")
      assert.strictEqual(t.micros, 1767323045123456n)
      assert.strictEqual(t.micros, utcMicros(2026, 1, 2, 3, 4, 5, 123456))
      assert.isTrue(t.zoned)
      assert.strictEqual(t.toISOString(), "2026-01-02T03:04:05.123456Z")
      assert.strictEqual(JSON.stringify({ t }), '{"t":"2026-01-02T03:04:05.123456Z"}')
      assert.strictEqual(String(t), "2026-01-02T03:04:05.123456Z")
    })

    it("pads short fractions and prints six digits", () => {
      assert.strictEqual(T.fromISOString("2026-01-02T03:04:05.5Z").micros, utcMicros(2026, 1, 2, 3, 4, 5, 500000))
      assert.strictEqual(T.fromISOString("2026-01-02T03:04:05.000001Z").micros, utcMicros(2026, 1, 2, 3, 4, 5, 1))
      assert.strictEqual(T.fromISOString("2026-01-02T03:04:05Z").toISOString(), "2026-01-02T03:04:05.000000Z")
      assert.strictEqual(T.fromEpochMicros(7).toISOString(), "1970-01-01T00:00:00.000007Z")
    })

    it("accepts more than six digits only when the tail is zero", () => {
      assert.strictEqual(
        T.fromISOString("2026-01-02T03:04:05.123456000Z").micros,
        utcMicros(2026, 1, 2, 3, 4, 5, 123456)
      )
      assert.isUndefined(T.parse("2026-01-02T03:04:05.1234567Z"))
      assert.isUndefined(T.parse("2026-01-02T03:04:05.123456001Z"))
      assert.throws(() => T.fromISOString("2026-01-02T03:04:05.1234567Z"), RangeError)
    })
  })

  describe("zones", () => {
    it("normalises offsets to UTC", () => {
      const utc = T.fromISOString("2026-01-02T03:04:05.123456Z")
      for (const s of [
        "2026-01-02T05:04:05.123456+02:00",
        "2026-01-02T05:04:05.123456+0200",
        "2026-01-01T21:34:05.123456-05:30",
        "2026-01-02T03:04:05.123456+00:00",
        "2026-01-02T03:04:05.123456z"
      ]) {
        const t = T.fromISOString(s)
        assert.strictEqual(t.micros, utc.micros, s)
        assert.isTrue(t.zoned, s)
        assert.strictEqual(t.toISOString(), "2026-01-02T03:04:05.123456Z", s)
      }
    })

    it("reads SQL text forms (space separator, hour-only offset as PostgreSQL prints it)", () => {
      const utc = T.fromISOString("2026-01-02T03:04:05.123456Z")
      assert.strictEqual(T.fromISOString("2026-01-02 03:04:05.123456+00").micros, utc.micros)
      assert.strictEqual(T.fromISOString("2026-01-02 08:04:05.123456+05").micros, utc.micros)
      assert.strictEqual(T.fromISOString("2026-01-01 23:04:05.123456-04").micros, utc.micros)
    })

    it("an offset crossing midnight and a year boundary moves the date", () => {
      const t = T.fromISOString("2026-01-01T01:00:00+03:00")
      assert.strictEqual(t.toISOString(), "2025-12-31T22:00:00.000000Z")
    })

    it("never shifts a value without a zone and prints it without Z", () => {
      const t = T.fromISOString("2026-01-02T03:04:05.123456")
      assert.isFalse(t.zoned)
      assert.strictEqual(t.micros, utcMicros(2026, 1, 2, 3, 4, 5, 123456))
      assert.strictEqual(t.toISOString(), "2026-01-02T03:04:05.123456")
      assert.strictEqual(T.fromISOString("2026-07-01 12:00:00").toISOString(), "2026-07-01T12:00:00.000000")
      const back = T.fromISOString(t.toISOString())
      assert.isFalse(back.zoned)
      assert.strictEqual(back.micros, t.micros)
      assert.strictEqual(T.fromEpochMicros(0, { zoned: false }).toISOString(), "1970-01-01T00:00:00.000000")
    })

    it("refuses offsets with impossible minutes", () => {
      assert.isUndefined(T.parse("2026-01-02T03:04:05+02:60"))
      assert.isUndefined(T.parse("2026-01-02T03:04:05+24:00"))
    })
  })

  describe("invalid input", () => {
    it("refuses impossible dates and times", () => {
      for (const s of [
        "2026-02-30T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-02T24:00:00Z",
        "2026-01-02T10:60:00Z",
        "2026-01-02T10:00:60Z",
        "2026-01-02",
        "",
        "not a timestamp",
        "2026-01-02T03:04:05.Z",
        "2026-1-2T03:04:05Z"
      ]) {
        assert.isUndefined(T.parse(s), s)
        assert.throws(() => T.fromISOString(s), RangeError)
      }
    })

    it("accepts leap days of leap years", () => {
      assert.strictEqual(T.fromISOString("2024-02-29T00:00:00Z").micros, utcMicros(2024, 2, 29))
      assert.strictEqual(T.fromISOString("2000-02-29T00:00:00Z").micros, utcMicros(2000, 2, 29))
    })

    it("the error message does not echo a long input", () => {
      const long = `2026-01-02T03:04:05Z${"x".repeat(200)}`
      let message = ""
      try {
        T.fromISOString(long)
      } catch (e) {
        assert.instanceOf(e, RangeError)
        message = e.message
      }
      assert.include(message, "Not an ISO 8601 timestamp")
      assert.notInclude(message, "x".repeat(30))
    })
  })

  describe("years and epochs", () => {
    it("keeps years 0-99 (Date.UTC would map them to 19xx)", () => {
      const y1 = T.fromISOString("0001-01-01T00:00:00Z")
      assert.strictEqual(y1.micros, -62135596800000000n)
      assert.strictEqual(y1.toISOString(), "0001-01-01T00:00:00.000000Z")
      const y99 = T.fromISOString("0099-12-31T23:59:59.999999Z")
      assert.strictEqual(y99.micros, utcMicros(99, 12, 31, 23, 59, 59, 999999))
      assert.strictEqual(y99.toISOString(), "0099-12-31T23:59:59.999999Z")
      const y50 = T.fromISOString("0050-06-01T12:00:00.5")
      assert.strictEqual(y50.toISOString(), "0050-06-01T12:00:00.500000")
      assert.strictEqual(y50.toDate().getUTCFullYear(), 50)
    })

    it("year 0 is a leap year (proleptic Gregorian), unlike 1900", () => {
      const t = T.fromISOString("0000-02-29T00:00:00Z")
      assert.strictEqual(t.micros, utcMicros(0, 2, 29))
      assert.strictEqual(t.toISOString(), "0000-02-29T00:00:00.000000Z")
    })

    it("handles epochs before 1970", () => {
      const t = T.fromISOString("1969-12-31T23:59:59.999999Z")
      assert.strictEqual(t.micros, -1n)
      assert.strictEqual(T.fromEpochMicros(-1n).toISOString(), "1969-12-31T23:59:59.999999Z")
      assert.strictEqual(T.fromEpochMicros(-1_000_001n).toISOString(), "1969-12-31T23:59:58.999999Z")
      assert.strictEqual(T.fromISOString("1900-01-01T00:00:00.000001Z").micros, -2208988800000000n + 1n)
    })

    it("round-trips years outside 0000-9999", () => {
      for (const s of [
        "-000001-01-01T00:00:00.000001Z",
        "+010000-01-01T00:00:00.000000Z",
        "-271820-01-01T00:00:00.000000"
      ]) {
        const t = T.fromISOString(s)
        assert.strictEqual(t.toISOString(), s, s)
      }
      assert.strictEqual(T.fromISOString("-000001-12-31T23:59:59.999999Z").micros, utcMicros(0, 1, 1) - 1n)
    })
  })

  describe("conversions", () => {
    it("toDate truncates to the millisecond (towards the past)", () => {
      assert.strictEqual(
        T.fromISOString("2026-01-02T03:04:05.123999Z").toDate().toISOString(),
        "2026-01-02T03:04:05.123Z"
      )
      assert.strictEqual(T.fromEpochMicros(1999n).toDate().getTime(), 1)
      assert.strictEqual(T.fromEpochMicros(-1n).toDate().getTime(), -1)
      assert.strictEqual(T.fromEpochMicros(-1000n).toDate().getTime(), -1)
      assert.strictEqual(T.fromEpochMicros(-1001n).toDate().getTime(), -2)
    })

    it("fromDate keeps the milliseconds and is zoned", () => {
      const t = T.fromDate(new Date("2026-01-02T03:04:05.123Z"))
      assert.strictEqual(t.micros, 1767323045123000n)
      assert.isTrue(t.zoned)
    })

    it("fromEpochMicros accepts numbers and bigints", () => {
      assert.strictEqual(T.fromEpochMicros(5).micros, 5n)
      assert.isFalse(T.fromEpochMicros(5n, { zoned: false }).zoned)
    })

    it("compare orders by micros; isTimestamp guards", () => {
      const a = T.fromEpochMicros(-1n)
      const b = T.fromEpochMicros(0n)
      assert.strictEqual(T.compare(a, b), -1)
      assert.strictEqual(T.compare(b, a), 1)
      assert.strictEqual(T.compare(a, T.fromEpochMicros(-1n)), 0)
      assert.isTrue(T.isTimestamp(a))
      assert.isFalse(T.isTimestamp("1970-01-01T00:00:00Z"))
      assert.isFalse(T.isTimestamp(new Date()))
    })
  })

  describe("TimestampFromString", () => {
    it("decodes and encodes losslessly", () => {
      const t = Schema.decodeUnknownSync(T.TimestampFromString)("2026-01-02T03:04:05.123456+01:00")
      assert.isTrue(T.isTimestamp(t))
      assert.strictEqual(t.micros, utcMicros(2026, 1, 2, 2, 4, 5, 123456))
      assert.strictEqual(Schema.encodeSync(T.TimestampFromString)(t), "2026-01-02T02:04:05.123456Z")
      const wall = Schema.decodeUnknownSync(T.TimestampFromString)("2026-01-02 03:04:05.000001")
      assert.isFalse(wall.zoned)
      assert.strictEqual(Schema.encodeSync(T.TimestampFromString)(wall), "2026-01-02T03:04:05.000001")
    })

    it("works inside a struct (a checkpoint)", () => {
      const Cp = Schema.Struct({ at: T.TimestampFromString })
      const decoded = Schema.decodeUnknownSync(Cp)({ at: "1969-12-31T23:59:59.999999Z" })
      assert.strictEqual(decoded.at.micros, -1n)
      assert.deepStrictEqual(Schema.encodeSync(Cp)(decoded), { at: "1969-12-31T23:59:59.999999Z" })
    })

    it("fails on garbage and on non-strings", () => {
      for (const bad of ["garbage", "2026-02-30T00:00:00Z", "2026-01-02T03:04:05.1234567Z", 42, null, undefined]) {
        const exit = Schema.decodeUnknownExit(T.TimestampFromString)(bad)
        assert.isTrue(Exit.isFailure(exit), String(bad))
      }
    })

    it("TimestampSchema accepts only Timestamp instances", () => {
      assert.isTrue(Schema.is(T.TimestampSchema)(T.fromEpochMicros(0)))
      assert.isFalse(Schema.is(T.TimestampSchema)("1970-01-01T00:00:00Z"))
      assert.isFalse(Schema.is(T.TimestampSchema)({ micros: 0n, zoned: true }))
    })
  })

  describe("properties", () => {
    // Dates reach ±8.64e15 ms; stay a little inside so sub-millisecond digits keep a valid Date.
    const LIMIT = 8_639_000_000_000_000_000n
    it("fromISOString(t.toISOString()) equals t", () => {
      fc.assert(
        fc.property(fc.bigInt({ min: -LIMIT, max: LIMIT }), fc.boolean(), (micros, zoned) => {
          const t = T.fromEpochMicros(micros, { zoned })
          const back = T.fromISOString(t.toISOString())
          assert.strictEqual(back.micros, micros)
          assert.strictEqual(back.zoned, zoned)
        }),
        { numRuns: 2000 }
      )
    })

    it("in the common range, the ISO form is the Date's ISO form plus three digits", () => {
      fc.assert(
        fc.property(fc.bigInt({ min: -62135596800000000n, max: 253402300799999999n }), (micros) => {
          const t = T.fromEpochMicros(micros)
          const iso = t.toISOString()
          assert.strictEqual(iso.length, 27)
          assert.strictEqual(`${iso.slice(0, 23)}Z`, t.toDate().toISOString())
        }),
        { numRuns: 1000 }
      )
    })

    it("an offset shifts by exactly its minutes", () => {
      fc.assert(
        fc.property(
          fc.bigInt({ min: -62135596800000000n / 2n, max: 253402300799999999n / 2n }),
          fc.integer({ min: -14 * 60, max: 14 * 60 }),
          (micros, offset) => {
            const wall = T.fromEpochMicros(micros, { zoned: false }).toISOString()
            const abs = Math.abs(offset)
            const zone = `${offset < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`
            const t = T.fromISOString(`${wall}${zone}`)
            assert.isTrue(t.zoned)
            assert.strictEqual(t.micros, micros - BigInt(offset) * 60_000_000n)
          }
        ),
        { numRuns: 500 }
      )
    })
  })

  it("keeps a decoder's printed text under its own key, invisible to JSON, keys and deep equality", () => {
    const mine = Symbol("mine")
    const theirs = Symbol("theirs")
    const printed = new Timestamp.Timestamp(1_700_000_000_000_001n, true, {
      key: mine,
      text: "2023-11-14 22:13:20.000001+00"
    })
    const plain = Timestamp.fromEpochMicros(1_700_000_000_000_001n)
    assert.strictEqual(printed.printedAs(mine), "2023-11-14 22:13:20.000001+00")
    assert.isUndefined(printed.printedAs(theirs), "another decoder's key finds nothing")
    assert.isUndefined(plain.printedAs(mine))
    assert.deepStrictEqual(printed, plain)
    assert.deepStrictEqual(Object.keys(printed), ["micros", "zoned"])
    assert.strictEqual(JSON.stringify({ t: printed }), JSON.stringify({ t: plain }))
  })
})
