import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Mapping from "../src/Mapping.ts"
import * as Timestamp from "../src/Timestamp.ts"

describe("Mapping", () => {
  it.effect("preview shows each record before and after, or why it was rejected", () =>
    Effect.gen(function* () {
      const steps = yield* Mapping.decode([
        { rename: { customer_email: "email" } },
        { cast: { amount: "decimal", qty: "integer", ordered_at: "timestamp" } },
        { default: { country: "DE" } },
        { drop: ["note"] },
        { derive: { total: "double(record.amount) * double(record.qty)" } }
      ])
      const rows = yield* Mapping.preview(steps, [
        { customer_email: "a@example.com", amount: "2.50", qty: "4", ordered_at: "2024-01-01T00:00:00Z", note: "x" },
        { customer_email: "b@example.com", amount: "1", qty: "two", ordered_at: "2024-01-01T00:00:00Z" },
        { customer_email: "c@example.com", amount: "3", qty: 1, ordered_at: "2024-01-01T00:00:00Z", country: "FR" }
      ])
      assert.strictEqual(rows.length, 3)
      const [first, second, third] = rows
      assert.strictEqual(first?._tag, "Mapped")
      if (first?._tag === "Mapped") {
        assert.deepStrictEqual(first.after, {
          email: "a@example.com",
          amount: "2.50",
          qty: 4,
          ordered_at: Timestamp.fromISOString("2024-01-01T00:00:00Z"),
          country: "DE",
          total: 10
        })
        assert.deepStrictEqual(first.before, {
          customer_email: "a@example.com",
          amount: "2.50",
          qty: "4",
          ordered_at: "2024-01-01T00:00:00Z",
          note: "x"
        })
      }
      assert.deepStrictEqual(second, {
        _tag: "Rejected",
        index: 1,
        before: { customer_email: "b@example.com", amount: "1", qty: "two", ordered_at: "2024-01-01T00:00:00Z" },
        reason: 'mapping[1].cast: field "qty" cannot be cast to integer'
      })
      assert.strictEqual(third?._tag === "Mapped" ? (third.after as { country: string }).country : "", "FR")
    })
  )

  it.effect("decode refuses unknown steps and bad bodies, naming the step", () =>
    Effect.gen(function* () {
      const unknown = yield* Effect.flip(Mapping.decode([{ filter: "true" }]))
      assert.strictEqual(unknown.reason, "UnknownStep")
      assert.include(unknown.message, 'mapping[0]: unknown mapping step "filter"')
      const bad = yield* Effect.flip(Mapping.decode([{ drop: ["a"] }, { cast: { a: "money" } }]))
      assert.strictEqual(bad.path, "mapping[1].cast.a")
      const expr = yield* Effect.flip(Mapping.toTransform([{ derive: { x: "record." } }]))
      assert.strictEqual(expr.reason, "InvalidExpression")
      assert.strictEqual(expr.path, "mapping[0].derive.x")
    })
  )

  it("castValue covers every target", () => {
    const ok = (value: unknown, target: Mapping.CastTarget) => Mapping.castValue(value, target)?.value
    assert.strictEqual(ok("42", "integer"), 42)
    assert.strictEqual(ok("9007199254740993", "integer"), 9007199254740993n)
    assert.isUndefined(Mapping.castValue("1.5", "integer"))
    assert.strictEqual(ok("1.5e2", "number"), 150)
    assert.strictEqual(ok("0012.50", "decimal"), "0012.50")
    assert.strictEqual(ok(12.5, "decimal"), "12.5")
    assert.isUndefined(Mapping.castValue("12,5", "decimal"))
    assert.strictEqual(ok("TRUE", "boolean"), true)
    assert.strictEqual(ok(0, "boolean"), false)
    assert.isUndefined(Mapping.castValue("yes", "boolean"))
    assert.strictEqual(ok(7n, "string"), "7")
    assert.strictEqual(ok({ a: 1 }, "string"), '{"a":1}')
    assert.strictEqual(
      (ok("2024-02-29T12:00:00.123456+01:00", "timestamp") as Timestamp.Timestamp).toISOString(),
      "2024-02-29T11:00:00.123456Z"
    )
    assert.isUndefined(Mapping.castValue("yesterday", "timestamp"))
    assert.strictEqual(ok("2024-02-29", "date"), "2024-02-29")
    assert.isUndefined(Mapping.castValue("2023-02-29", "date"))
    assert.deepStrictEqual(ok('{"a":[1]}', "json"), { a: [1] })
    assert.isUndefined(Mapping.castValue("{", "json"))
    assert.strictEqual(ok("", "integer"), null)
    assert.strictEqual(ok("", "string"), "")
    assert.strictEqual(ok(null, "number"), null)
  })
})
