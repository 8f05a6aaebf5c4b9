import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Schema } from "effect"
import * as fc from "fast-check"
import * as Config from "../src/Config.ts"
import * as Incremental from "../src/Incremental.ts"

const base = { cursor: "updated_at", tieBreaker: "id" }

/** The ConfigError `make` throws for `options`. */
const errorOf = (options: unknown): Config.ConfigError => {
  try {
    Incremental.make(options as Incremental.IncrementalOptions)
  } catch (e) {
    assert.instanceOf(e, Config.ConfigError)
    return e as Config.ConfigError
  }
  return assert.fail("expected a ConfigError")
}

describe("Incremental.make", () => {
  it("fills the defaults and reads durations as milliseconds or duration text", () => {
    const plain = Incremental.make(base)
    assert.deepStrictEqual(
      { ...plain },
      {
        _tag: "Incremental",
        cursor: "updated_at",
        tieBreaker: "id",
        initial: undefined,
        end: undefined,
        lag: undefined,
        lookback: undefined,
        onNull: "skip",
        order: "asc"
      }
    )
    const full = Incremental.make({
      ...base,
      initial: "2026-01-01 00:00:00+00",
      end: "2026-02-01 00:00:00+00",
      lag: "5 minutes",
      lookback: 1500,
      onNull: "skip",
      order: "desc"
    })
    assert.strictEqual(Duration.toMillis(full.lag!), 300_000)
    assert.strictEqual(Duration.toMillis(full.lookback!), 1500)
    assert.strictEqual(full.order, "desc")
    assert.strictEqual(Duration.toMillis(Incremental.make({ ...base, lag: 0 }).lag!), 0)
    assert.isTrue(Incremental.isIncremental(full))
    assert.isFalse(Incremental.isIncremental({ cursor: "x" }))
  })

  it("refuses bad options with a ConfigError naming the field", () => {
    const cases: ReadonlyArray<readonly [unknown, string, RegExp]> = [
      [{ ...base, lag: -1 }, "lag", /greater than or equal to 0/],
      [{ ...base, lag: "-5 minutes" }, "lag", /duration of at least 0/],
      [{ ...base, lag: "soon" }, "lag", /duration/],
      [{ ...base, lookback: Number.NaN }, "lookback", /./],
      [{ ...base, onNull: "include-last" }, "onNull", /skip|include-first/],
      [{ ...base, order: "random" }, "order", /asc|desc/],
      [{ ...base, cursor: "" }, "cursor", /./],
      [{ tieBreaker: "id" }, "cursor", /Missing/],
      [{ ...base, tieBreaker: "updated_at" }, "tieBreaker", /other than the cursor/],
      [{ ...base, initial: "2026-02-01", end: "2026-01-01" }, "end", /not before initial/],
      [{ ...base, initial: 5, onNull: "include-first" }, "onNull", /cannot start at initial/],
      [{ ...base, initial: { at: 1 } }, "initial", /./],
      [{ ...base, colums: ["x"] }, "colums", /./]
    ]
    for (const [options, path, detail] of cases) {
      const error = errorOf(options)
      assert.strictEqual(error.path, path, JSON.stringify(options))
      assert.match(error.detail, detail, JSON.stringify(options))
      assert.isFalse(error.retryable)
      assert.include(error.message, "Invalid incremental config")
    }
  })

  it.effect("decode fails with the same ConfigError as an Effect", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Incremental.decode({ ...base, lag: -10 }))
      assert.strictEqual(error._tag, "ConfigError")
      assert.strictEqual(error.path, "lag")
      const ok = yield* Incremental.decode({ ...base, onNull: "include-first" })
      assert.strictEqual(ok.onNull, "include-first")
    })
  )
})

describe("Incremental.Position", () => {
  it("is a JSON codec for the (cursor, tieBreaker) tuple, with a null cursor for the null section", () => {
    const decode = Schema.decodeUnknownSync(Incremental.Position)
    const p = { cursor: "2026-01-02 03:04:05.000006+00", tieBreaker: "9007199254740993" }
    assert.deepStrictEqual(decode(JSON.parse(JSON.stringify(p))), p)
    assert.deepStrictEqual(decode({ cursor: null, tieBreaker: 7 }), { cursor: null, tieBreaker: 7 })
    assert.deepStrictEqual(Schema.encodeSync(Incremental.Position)({ cursor: 1, tieBreaker: "a" }), {
      cursor: 1,
      tieBreaker: "a"
    })
    assert.throws(() => decode({ cursor: "x" }))
    assert.throws(() => decode({ cursor: "x", tieBreaker: null }))
    assert.throws(() => decode({ cursor: Number.POSITIVE_INFINITY, tieBreaker: 1 }))
  })
})

describe("Incremental.compare", () => {
  it("orders by cursor, then tie-breaker; nulls first; desc reverses", () => {
    const at = (cursor: Incremental.Value | null, tieBreaker: Incremental.Value) => ({ cursor, tieBreaker })
    assert.strictEqual(Incremental.compare(at("2026-01-01 10:00:00+00", "9"), at("2026-01-01 10:00:00+00", "10")), -1)
    assert.strictEqual(Incremental.compare(at("2026-01-01 10:00:00+00", "10"), at("2026-01-01 10:00:00+00", "10")), 0)
    assert.strictEqual(Incremental.compare(at("2026-01-01 10:00:01+00", "1"), at("2026-01-01 10:00:00+00", "2")), 1)
    assert.strictEqual(Incremental.compare(at(null, "99"), at("0", "1")), -1)
    assert.strictEqual(Incremental.compare(at(null, "1"), at(null, "2")), -1)
    assert.strictEqual(Incremental.compare(at(1, 1), at(2, 0), { order: "desc" }), 1)
    assert.strictEqual(Incremental.compare(at(2, 0), at(2, 0), { order: "desc" }), 0)
  })

  it("compares decimal texts exactly, timestamps as instants, other texts by code units", () => {
    const v = Incremental.compareValues
    assert.strictEqual(v("9", "10"), -1, "numbers, not text")
    assert.strictEqual(v("9223372036854775807", "9223372036854775806"), 1, "beyond 2^53")
    assert.strictEqual(v("-2.50", "-2.5"), 0)
    assert.strictEqual(v("-0.001", "0"), -1)
    assert.strictEqual(v("0.1000000000000000000001", "0.1"), 1, "no rounding")
    assert.strictEqual(v(10, "9"), 1)
    assert.strictEqual(v(1.5, "1.50"), 0)
    assert.strictEqual(v(2, 10), -1)
    // 10:00 at +05:00 is 05:00 UTC, before 06:00 UTC.
    assert.strictEqual(v("2026-01-01 10:00:00+05", "2026-01-01 06:00:00+00"), -1)
    assert.strictEqual(v("2026-01-01T06:00:00.000001Z", "2026-01-01 06:00:00+00"), 1)
    assert.strictEqual(v("b", "a"), 1)
    assert.strictEqual(v("B", "a"), -1, "code units, like the C collation")
    assert.strictEqual(v(null, null), 0)
  })

  it("property: compare is a total order over positions of one kind; isAfter agrees with it", () => {
    const position = fc.record({
      cursor: fc.option(
        fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }).map((n) => String(n)),
        { nil: null }
      ),
      tieBreaker: fc.integer({ min: -50, max: 50 }).map((n) => String(n))
    })
    fc.assert(
      fc.property(fc.array(position, { minLength: 3, maxLength: 30 }), (positions) => {
        const sorted = [...positions].sort((a, b) => Incremental.compare(a, b))
        const asBigInt = (c: Incremental.Value | null) => (c === null ? null : BigInt(c))
        for (let i = 1; i < sorted.length; i++) {
          const [prev, next] = [sorted[i - 1]!, sorted[i]!]
          assert.isFalse(Incremental.isAfter(prev, next), "no earlier position is after a later one")
          assert.strictEqual(Incremental.isAfter(next, prev), Incremental.compare(next, prev) !== 0)
          const [pc, nc] = [asBigInt(prev.cursor), asBigInt(next.cursor)]
          assert.isTrue(pc === null || (nc !== null && pc <= nc), "cursors ascend as integers, nulls first")
        }
        const desc = [...positions].sort((a, b) => Incremental.compare(a, b, { order: "desc" }))
        const key = (p: Incremental.Position) => `${p.cursor}/${p.tieBreaker}`
        assert.deepStrictEqual(desc.map(key), [...sorted].reverse().map(key))
        assert.isTrue(
          positions.every((p) => Incremental.isAfter(p, undefined)),
          "everything is after no checkpoint"
        )
      })
    )
  })
})
