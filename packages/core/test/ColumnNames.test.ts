import { createHash } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import * as fc from "fast-check"
import * as ColumnNames from "../src/ColumnNames.ts"

const sha8 = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 8)

describe("ColumnNames", () => {
  describe("normalize", () => {
    it("snake_cases names", () => {
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["id", "id"],
        ["customerId", "customer_id"],
        ["customerID", "customer_id"],
        ["HTTPServerName", "http_server_name"],
        ["Order Date", "order_date"],
        ["order-date", "order_date"],
        ["  price ($) ", "price"],
        ["a.b.c", "a_b_c"],
        ["Crème brûlée", "creme_brulee"],
        ["version2Name", "version2_name"],
        ["2nd Address-Line", "_2nd_address_line"],
        ["_id", "_id"],
        ["__meta", "_meta"],
        ["address__city", "address__city"],
        ["Address__zipCode", "address__zip_code"],
        ["already_snake", "already_snake"]
      ]
      for (const [input, expected] of cases) assert.strictEqual(ColumnNames.normalize(input), expected, input)
    })

    it("names an empty result by its hash", () => {
      assert.strictEqual(ColumnNames.normalize("!!!"), `_${sha8("!!!")}`)
      assert.notStrictEqual(ColumnNames.normalize("???"), ColumnNames.normalize("!!!"))
    })

    it("cuts long names with a stable hash suffix", () => {
      const long = `customer_${"very_".repeat(20)}long_name`
      const n = ColumnNames.normalize(long)
      assert.isAtMost(n.length, 63)
      assert.isAbove(n.length, 55)
      assert.isTrue(n.endsWith(`_${sha8(long)}`))
      assert.isTrue(n.startsWith("customer_very_"))
      assert.strictEqual(ColumnNames.normalize(long), n)
      assert.isAtMost(ColumnNames.normalize(long, { maxLength: 30 }).length, 30)
      // names that share a long prefix stay apart
      assert.notStrictEqual(ColumnNames.normalize(`${long}_a`), ColumnNames.normalize(`${long}_b`))
    })

    it("property: valid, within the limit, idempotent on its output and stable", () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 120, unit: "grapheme" }), fc.integer({ min: 10, max: 128 }), (name, max) => {
          const n = ColumnNames.normalize(name, { maxLength: max })
          assert.match(n, /^[a-z_][a-z0-9_]*$/)
          assert.isAtMost(n.length, max)
          assert.strictEqual(ColumnNames.normalize(name, { maxLength: max }), n)
          if (n.length < max) assert.strictEqual(ColumnNames.normalize(n, { maxLength: max }), n)
        }),
        { numRuns: 300 }
      )
    })
  })

  describe("mapping", () => {
    it.effect("maps names to columns", () =>
      Effect.gen(function* () {
        const m = yield* ColumnNames.mapping(["id", "customerId", "Order Date"])
        assert.deepStrictEqual(
          [...m],
          [
            ["id", "id"],
            ["customerId", "customer_id"],
            ["Order Date", "order_date"]
          ]
        )
      })
    )

    it.effect("reports collisions with every name involved", () =>
      Effect.gen(function* () {
        const err = yield* Effect.flip(
          ColumnNames.mapping(["customerId", "customer_id", "Customer ID", "email", "E-mail", "e_mail"])
        )
        assert.strictEqual(err._tag, "ColumnCollision")
        assert.isFalse(err.retryable)
        assert.deepStrictEqual(err.collisions, [
          { column: "customer_id", names: ["customerId", "customer_id", "Customer ID"] },
          { column: "e_mail", names: ["E-mail", "e_mail"] }
        ])
        assert.strictEqual(
          err.message,
          [
            "Field names collide as column names; rename or drop all but one of each:",
            '  customer_id ← "customerId", "customer_id", "Customer ID"',
            '  e_mail ← "E-mail", "e_mail"'
          ].join("\n")
        )
      })
    )

    it.effect("keeps an existing mapping and checks new names against it", () =>
      Effect.gen(function* () {
        const existing = new Map([["Email", "email_address"]])
        const m = yield* ColumnNames.mapping(["Email", "name"], { existing })
        assert.strictEqual(m.get("Email"), "email_address")
        const err = yield* Effect.flip(ColumnNames.mapping(["emailAddress"], { existing }))
        assert.deepStrictEqual(err.collisions, [{ column: "email_address", names: ["Email", "emailAddress"] }])
      })
    )
  })

  describe("flatten", () => {
    const record = { id: 1, address: { city: "Oslo", geo: { lat: 59.9, lon: 10.7 } }, tags: ["a"], none: null }

    it("flattens down to the depth and keeps deeper values as JSON", () => {
      assert.deepStrictEqual(ColumnNames.flatten(record, 0), Result.succeed(record))
      assert.deepStrictEqual(
        ColumnNames.flatten(record, 1),
        Result.succeed({
          id: 1,
          address__city: "Oslo",
          address__geo: { lat: 59.9, lon: 10.7 },
          tags: ["a"],
          none: null
        })
      )
      assert.deepStrictEqual(
        ColumnNames.flatten(record, 5),
        Result.succeed({
          id: 1,
          address__city: "Oslo",
          address__geo__lat: 59.9,
          address__geo__lon: 10.7,
          tags: ["a"],
          none: null
        })
      )
      assert.deepStrictEqual(ColumnNames.flatten({ empty: {} }, 2), Result.succeed({ empty: {} }))
    })

    it("is not applied under the default json nesting", () => {
      assert.strictEqual(ColumnNames.defaultNesting, "json")
      assert.deepStrictEqual(ColumnNames.nest(record), Result.succeed(record))
      assert.deepStrictEqual(ColumnNames.nest(record, { flatten: 1 }), ColumnNames.flatten(record, 1))
    })

    it("fails on a flattened name that already exists", () => {
      const r = ColumnNames.flatten({ a__b: 1, a: { b: 2 } }, 1)
      assert.isTrue(Result.isFailure(r))
      if (Result.isFailure(r))
        assert.deepStrictEqual(r.failure.collisions, [{ column: "a__b", names: ["a__b", "a.b"] }])
    })

    it("property: keeps every leaf value, under its path", () => {
      const { tree } = fc.letrec<{ tree: unknown; node: Record<string, unknown> }>((tie) => ({
        tree: fc.oneof({ maxDepth: 4 }, fc.integer(), fc.string(), fc.constant(null), tie("node")),
        node: fc.dictionary(fc.constantFrom("a", "b", "c"), tie("tree"), { minKeys: 1, maxKeys: 3 })
      }))
      fc.assert(
        fc.property(fc.dictionary(fc.constantFrom("x", "y"), tree), fc.integer({ min: 0, max: 5 }), (rec, depth) => {
          const r = ColumnNames.flatten(rec, depth)
          assert.isTrue(Result.isSuccess(r))
          if (Result.isFailure(r)) return
          for (const [k, v] of Object.entries(r.success)) {
            let cur: unknown = rec
            const parts = k.split("__")
            assert.isAtMost(parts.length - 1, depth)
            for (const p of parts) cur = (cur as Record<string, unknown>)[p]
            assert.deepStrictEqual(v, cur)
          }
        }),
        { numRuns: 200 }
      )
    })
  })
})
