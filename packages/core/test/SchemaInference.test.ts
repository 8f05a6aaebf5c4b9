import { assert, describe, it } from "@effect/vitest"
import Ajv2020 from "ajv/dist/2020.js"
import { Exit, Result, Schema } from "effect"
import * as fc from "fast-check"
import * as SI from "../src/SchemaInference.ts"
import * as Timestamp from "../src/Timestamp.ts"

// ---------------------------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------------------------

const key = fc.constantFrom("a", "b", "c", "id", "name", "amount", "tags")

const timestamp = fc
  .bigInt({ min: -(2n ** 58n), max: 2n ** 58n })
  .chain((micros) => fc.boolean().map((zoned) => Timestamp.fromEpochMicros(micros, { zoned })))
const date = fc.date({ noInvalidDate: true, min: new Date(-8.64e14), max: new Date(8.64e14) })
const isoString = fc.oneof(
  timestamp.map((t) => t.toISOString()),
  fc.constantFrom("2026-01-02", "1999-12-31", "2024-02-29", "2026-01-02 03:04:05+02")
)

// Any scalar a record may hold, including the ones inference types specially.
const scalar = fc.oneof(
  fc.string({ maxLength: 6 }),
  isoString,
  fc.integer(),
  fc.bigInt(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  timestamp,
  date,
  fc.uint8Array({ maxLength: 6 })
)

// "Wild" values: any mix of types at any path (inference must still accept every record).
const { value: wildValue } = fc.letrec<{ value: unknown; object: Record<string, unknown>; array: Array<unknown> }>(
  (tie) => ({
    value: fc.oneof({ depthSize: "small", maxDepth: 3 }, scalar, scalar, tie("object"), tie("array")),
    object: fc.dictionary(key, tie("value"), { maxKeys: 4 }),
    array: fc.array(tie("value"), { maxLength: 3 })
  })
)
const wildRecord = fc.dictionary(key, wildValue, { maxKeys: 5 })
const wildRecords = fc.array(wildRecord, { minLength: 1, maxLength: 8 })

// Shaped values: one kind per path (numbers mix ints, bigints and doubles; Timestamps and Dates mix),
// with random nulls and missing fields, so that merges mostly succeed and widen.
type Shape =
  | { readonly k: "string" | "integer" | "number" | "boolean" | "timestamp" | "binary" }
  | { readonly k: "object"; readonly fields: Record<string, Shape> }
  | { readonly k: "array"; readonly item: Shape }

const { shape } = fc.letrec<{ shape: Shape; object: Shape; array: Shape }>((tie) => ({
  shape: fc.oneof(
    { depthSize: "small", maxDepth: 3 },
    fc.constantFrom("string", "integer", "number", "boolean", "timestamp", "binary").map((k) => ({ k }) as Shape),
    tie("object"),
    tie("array")
  ),
  object: fc.dictionary(key, tie("shape"), { maxKeys: 4 }).map((fields) => ({ k: "object", fields }) as Shape),
  array: tie("shape").map((item) => ({ k: "array", item }) as Shape)
}))
const recordShape = fc.dictionary(key, shape, { minKeys: 1, maxKeys: 5 })

const shapedValue = (s: Shape): fc.Arbitrary<unknown> => {
  const v = ((): fc.Arbitrary<unknown> => {
    switch (s.k) {
      case "string":
        return fc.string({ maxLength: 6 })
      case "integer":
        return fc.oneof(fc.integer(), fc.bigInt())
      case "number":
        return fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.bigInt())
      case "boolean":
        return fc.boolean()
      case "timestamp":
        return fc.oneof(timestamp, date)
      case "binary":
        return fc.uint8Array({ maxLength: 6 })
      case "object":
        return objectOf(s.fields)
      case "array":
        return fc.array(shapedValue(s.item), { maxLength: 3 })
    }
  })()
  return fc.option(v, { freq: 6, nil: null })
}
const objectOf = (fields: Record<string, Shape>) =>
  fc
    .tuple(...Object.entries(fields).map(([k, s]) => fc.tuple(fc.constant(k), shapedValue(s), fc.boolean())))
    .map((entries) => Object.fromEntries(entries.filter(([, , present]) => present).map(([k, v]) => [k, v])))
const shapedRecords = (s: Record<string, Shape>) => fc.array(objectOf(s), { minLength: 1, maxLength: 6 })
// Two or three datasets drawn from one shape.
const shapedPair = recordShape.chain((s) => fc.tuple(shapedRecords(s), shapedRecords(s)))
const shapedTriple = recordShape.chain((s) => fc.tuple(shapedRecords(s), shapedRecords(s), shapedRecords(s)))
const anyRecords = fc.oneof(wildRecords, recordShape.chain(shapedRecords))

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

const accepts = (schema: SI.Type, record: unknown): boolean =>
  Exit.isSuccess(Schema.decodeUnknownExit(SI.toEffectSchema(schema))(record))

const acceptsAll = (schema: SI.Type, records: ReadonlyArray<unknown>): boolean =>
  records.every((r) => accepts(schema, r))

// The JSON form documented in `toJsonSchema`.
const toJson = (u: unknown): unknown => {
  if (typeof u === "bigint") return Number.isSafeInteger(Number(u)) ? Number(u) : u.toString()
  if (Timestamp.isTimestamp(u)) return u.toISOString()
  if (u instanceof Date) return u.toISOString()
  if (u instanceof Uint8Array) return Buffer.from(u).toString("base64")
  if (Array.isArray(u)) return u.map(toJson)
  if (u !== null && typeof u === "object") return Object.fromEntries(Object.entries(u).map(([k, v]) => [k, toJson(v)]))
  return u
}

const ajv = new Ajv2020.default({ strict: true, allErrors: false })

// Every path of a schema with its type (`[]` for items).
const paths = (t: SI.Type, path = "", out = new Map<string, SI.Type>()): Map<string, SI.Type> => {
  out.set(path, t)
  if (t.type === "object") for (const [k, f] of Object.entries(t.fields)) paths(f, `${path}.${k}`, out)
  if (t.type === "array") paths(t.items, `${path}[]`, out)
  return out
}

const sameResult = (x: Result.Result<SI.Type, SI.Incompatible>, y: Result.Result<SI.Type, SI.Incompatible>) =>
  Result.isSuccess(x) && Result.isSuccess(y)
    ? SI.equals(x.success, y.success)
    : Result.isFailure(x) === Result.isFailure(y)

const mergeAll = (ts: ReadonlyArray<SI.Type>, options?: SI.MergeOptions) =>
  ts
    .slice(1)
    .reduce<Result.Result<SI.Type, SI.Incompatible>>(
      (acc, t) => (Result.isSuccess(acc) ? SI.merge(acc.success, t, options) : acc),
      Result.succeed(ts[0]!)
    )

const RUNS = { numRuns: 200 }

// ---------------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------------

describe("SchemaInference", () => {
  describe("inferSchema", () => {
    it("maps JavaScript values to types", () => {
      const s = SI.inferSchema([
        {
          i: 1,
          big: 2n ** 70n,
          n: 1.5,
          unsafe: 2 ** 60,
          b: true,
          s: "x",
          ts: Timestamp.fromEpochMicros(1n),
          d: new Date(0),
          bin: new Uint8Array([1]),
          nil: null,
          obj: { x: 1 },
          arr: [1, 2n],
          empty: [],
          map: new Map()
        }
      ])
      assert.deepStrictEqual(
        SI.equals(
          s,
          SI.object({
            i: SI.primitive("integer"),
            big: SI.primitive("integer"),
            n: SI.primitive("number"),
            unsafe: SI.primitive("number"),
            b: SI.primitive("boolean"),
            s: SI.primitive("string"),
            ts: SI.primitive("timestamp"),
            d: SI.primitive("timestamp"),
            bin: SI.primitive("binary"),
            nil: SI.primitive("unknown", true),
            obj: SI.object({ x: SI.primitive("integer") }),
            arr: SI.array(SI.primitive("integer")),
            empty: SI.array(SI.primitive("unknown")),
            map: SI.primitive("json")
          })
        ),
        true
      )
    })

    it("marks missing fields optional and nulls nullable", () => {
      const s = SI.inferSchema([
        { id: 1, name: "a" },
        { id: 2, name: null, extra: true },
        { id: 3, extra: undefined }
      ])
      assert.isTrue(
        SI.equals(
          s,
          SI.object({
            id: SI.primitive("integer"),
            name: { ...SI.primitive("string", true), optional: true },
            extra: { ...SI.primitive("boolean"), optional: true }
          })
        )
      )
    })

    it("detects timestamps and dates in strings only when asked", () => {
      const rows = [{ at: "2026-01-02T03:04:05.123456Z", day: "2026-01-02", bad: "2026-02-30" }]
      const plain = SI.inferSchema(rows)
      assert.isTrue(SI.equals(plain, SI.inferSchema([{ at: "x", day: "y", bad: "z" }])))
      const detected = SI.inferSchema(rows, { detectTimestamps: true })
      assert.isTrue(
        SI.equals(
          detected,
          SI.object({ at: SI.primitive("timestamp"), day: SI.primitive("date"), bad: SI.primitive("string") })
        )
      )
      // a date and a timestamp meet at timestamp
      const mixed = SI.inferSchema([{ at: "2026-01-02" }, { at: "2026-01-02 10:00:00" }], { detectTimestamps: true })
      assert.isTrue(SI.equals(mixed, SI.object({ at: SI.primitive("timestamp") })))
    })

    it("types integer and number together as decimal, never as a double", () => {
      assert.isTrue(SI.equals(SI.inferSchema([{ x: 1 }, { x: 0.5 }]), SI.object({ x: SI.primitive("decimal") })))
      assert.isTrue(
        SI.equals(SI.inferSchema([{ x: 2n ** 64n }, { x: 0.5 }]), SI.object({ x: SI.primitive("decimal") }))
      )
    })

    it("types a field with no lossless common type as json", () => {
      assert.isTrue(SI.equals(SI.inferSchema([{ x: 1 }, { x: "a" }]), SI.object({ x: SI.primitive("json") })))
      assert.isTrue(SI.equals(SI.inferSchema([{ x: [1, "a"] }]), SI.object({ x: SI.array(SI.primitive("json")) })))
    })

    it("samples only the first records", () => {
      const s = SI.inferSchema([{ a: 1 }, { a: 2 }, { b: 1 }], { sample: 2 })
      assert.isTrue(SI.equals(s, SI.object({ a: SI.primitive("integer") })))
    })

    it("property: never rejects a record it was inferred from", () => {
      fc.assert(
        fc.property(anyRecords, fc.boolean(), (records, detectTimestamps) => {
          const schema = SI.inferSchema(records, { sample: records.length, detectTimestamps })
          const decode = Schema.decodeUnknownExit(SI.toEffectSchema(schema))
          for (const r of records) {
            const exit = decode(r)
            if (Exit.isFailure(exit)) throw new Error(`rejected ${String(exit.cause)}`)
          }
        }),
        RUNS
      )
    })

    it("property: the JSON Schema accepts the JSON form of every record", () => {
      fc.assert(
        fc.property(anyRecords, fc.boolean(), (records, detectTimestamps) => {
          const schema = SI.inferSchema(records, { sample: records.length, detectTimestamps })
          const validate = ajv.compile(SI.toJsonSchema(schema))
          for (const r of records) {
            const json = JSON.parse(JSON.stringify(toJson(r)))
            if (!validate(json)) throw new Error(ajv.errorsText(validate.errors))
          }
        }),
        RUNS
      )
    })

    it("property: inferring the concatenation is merging the inferences, when they merge", () => {
      fc.assert(
        fc.property(fc.oneof(shapedPair, fc.tuple(wildRecords, wildRecords)), ([xs, ys]) => {
          const m = SI.merge(SI.inferSchema(xs), SI.inferSchema(ys))
          if (Result.isSuccess(m)) assert.isTrue(SI.equals(m.success, SI.inferSchema([...xs, ...ys])))
        }),
        RUNS
      )
    })
  })

  describe("merge", () => {
    const i = SI.primitive("integer")
    const ok = (r: Result.Result<SI.Type, SI.Incompatible>): SI.Type => {
      if (Result.isFailure(r)) throw new Error(`incompatible at ${r.failure.path.join(".")}`)
      return r.success
    }

    it("follows the widening lattice", () => {
      const p = SI.primitive
      assert.strictEqual(ok(SI.merge(i, p("number"))).type, "decimal")
      assert.strictEqual(ok(SI.merge(p("decimal"), i)).type, "decimal")
      assert.strictEqual(ok(SI.merge(p("date"), p("timestamp"))).type, "timestamp")
      assert.deepStrictEqual(ok(SI.merge(p("unknown", true), i)), p("integer", true))
      assert.isTrue(Result.isFailure(SI.merge(i, p("string"))))
      assert.isTrue(Result.isFailure(SI.merge(p("json"), SI.object({}))))
      assert.strictEqual(ok(SI.merge(i, p("string"), { widenTo: "text" })).type, "string")
      assert.strictEqual(ok(SI.merge(p("timestamp"), p("boolean"), { widenTo: "text" })).type, "string")
      assert.isTrue(Result.isFailure(SI.merge(SI.array(i), p("string"), { widenTo: "text" })))
    })

    it("reports the path of an incompatible pair", () => {
      const r = SI.merge(SI.inferSchema([{ a: { b: [1] } }]), SI.inferSchema([{ a: { b: ["x"] } }]))
      assert.isTrue(Result.isFailure(r))
      if (Result.isFailure(r)) {
        assert.deepStrictEqual(r.failure, {
          _tag: "Incompatible",
          path: ["a", "b", "[]"],
          from: "integer",
          to: "string"
        })
      }
    })

    it("property: commutative", () => {
      fc.assert(
        fc.property(fc.oneof(shapedPair, fc.tuple(wildRecords, wildRecords)), fc.boolean(), ([xs, ys], text) => {
          const [a, b] = [SI.inferSchema(xs), SI.inferSchema(ys)]
          const options = text ? { widenTo: "text" as const } : {}
          assert.isTrue(sameResult(SI.merge(a, b, options), SI.merge(b, a, options)))
        }),
        RUNS
      )
    })

    it("property: associative", () => {
      fc.assert(
        fc.property(
          fc.oneof(shapedTriple, fc.tuple(wildRecords, wildRecords, wildRecords)),
          fc.boolean(),
          (rs, text) => {
            const [a, b, c] = rs.map((r) => SI.inferSchema(r)) as [SI.Type, SI.Type, SI.Type]
            const options = text ? { widenTo: "text" as const } : {}
            const bc = SI.merge(b, c, options)
            const left = mergeAll([a, b, c], options)
            const right = Result.isSuccess(bc) ? SI.merge(a, bc.success, options) : bc
            assert.isTrue(sameResult(left, right))
          }
        ),
        RUNS
      )
    })

    it("property: widens losslessly only", () => {
      let merged = 0
      fc.assert(
        fc.property(shapedPair, ([xs, ys]) => {
          const [a, b] = [SI.inferSchema(xs), SI.inferSchema(ys)]
          const r = SI.merge(a, b)
          if (Result.isFailure(r)) return
          merged++
          const m = r.success
          // accepts everything either side accepted
          assert.isTrue(acceptsAll(m, xs) && acceptsAll(m, ys))
          // an upper bound of both, idempotent
          assert.isTrue(sameResult(SI.merge(a, m), Result.succeed(m)))
          assert.isTrue(sameResult(SI.merge(m, b), Result.succeed(m)))
          assert.isTrue(sameResult(SI.merge(a, a), Result.succeed(a)))
          const pm = paths(m)
          for (const side of [a, b]) {
            for (const [p, t] of paths(side)) {
              const w = pm.get(p)
              assert.isDefined(w, p)
              if (w === undefined) continue
              // nullability and optionality are only added
              if (t.nullable) assert.isTrue(w.nullable, `${p} lost nullable`)
              if ("optional" in t && t.optional) assert.isTrue("optional" in w && w.optional, `${p} lost optional`)
              // an integer never becomes a double
              if (t.type === "integer") assert.include(["integer", "decimal"], w.type, p)
              if (t.type === "date") assert.include(["date", "timestamp"], w.type, p)
              if (t.type !== "unknown" && t.type !== w.type) {
                assert.include(["decimal", "timestamp"], w.type, `${p}: ${t.type} → ${w.type}`)
              }
            }
          }
        }),
        RUNS
      )
      assert.isAbove(merged, RUNS.numRuns / 2)
    })

    it("property: with widenTo text, the merged schema is still an upper bound", () => {
      fc.assert(
        fc.property(fc.tuple(wildRecords, wildRecords), ([xs, ys]) => {
          const [a, b] = [SI.inferSchema(xs), SI.inferSchema(ys)]
          const r = SI.merge(a, b, { widenTo: "text" })
          if (Result.isFailure(r)) return
          assert.isTrue(sameResult(SI.merge(a, r.success, { widenTo: "text" }), r))
          const strict = SI.merge(a, b)
          // text only where strict merging fails
          if (Result.isSuccess(strict)) assert.isTrue(SI.equals(strict.success, r.success))
        }),
        RUNS
      )
    })
  })

  describe("toJsonSchema", () => {
    it("describes types, nullability and optional fields", () => {
      const s = SI.inferSchema([
        { id: 1n, name: null },
        { id: 2, name: "a", bin: new Uint8Array([255]) }
      ])
      assert.deepStrictEqual(SI.toJsonSchema(s), {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        type: "object",
        properties: {
          id: { anyOf: [{ type: "integer" }, { type: "string", pattern: "^-?[0-9]+$" }] },
          name: { type: ["string", "null"] },
          bin: { type: "string", contentEncoding: "base64", pattern: "^[A-Za-z0-9+/]*={0,2}$" }
        },
        required: ["id", "name"],
        additionalProperties: false
      })
      const validate = ajv.compile(SI.toJsonSchema(s))
      assert.isTrue(validate({ id: "123456789012345678901234567890", name: null }))
      assert.isFalse(validate({ id: 1.5, name: null }))
      assert.isFalse(validate({ id: 1, name: 1 }))
      assert.isFalse(validate({ name: "a" }))
    })
  })

  describe("toEffectSchema", () => {
    it("rejects values of another type", () => {
      const s = SI.inferSchema([{ id: 1, at: Timestamp.fromEpochMicros(0n), tags: ["a"] }])
      assert.isTrue(accepts(s, { id: 2n, at: new Date(), tags: [] }))
      assert.isFalse(accepts(s, { id: 1.5, at: new Date(), tags: [] }))
      assert.isFalse(accepts(s, { id: 1, at: "yesterday", tags: [] }))
      assert.isFalse(accepts(s, { id: 1, at: new Date(), tags: [1] }))
      assert.isFalse(accepts(s, { at: new Date(), tags: [] }))
    })

    it("accepts numbers, bigints and decimal strings as decimals", () => {
      const s = SI.object({ d: SI.primitive("decimal") })
      for (const d of [1, 1.5, 2n ** 80n, "12.3400", "-1e5"]) assert.isTrue(accepts(s, { d }), String(d))
      assert.isFalse(accepts(s, { d: "12,34" }))
    })
  })

  describe("diff", () => {
    it("lists added, removed, widened and nullable fields", () => {
      const before = SI.inferSchema([{ id: 1, amount: 1, phone: "x", name: "a", at: "2026-01-01" }], {
        detectTimestamps: true
      })
      const after = SI.inferSchema([{ id: "x", amount: 1.5, email: "e", name: null, at: "2026-01-01T00:00:00Z" }], {
        detectTimestamps: true
      })
      const d = SI.diff(before, after)
      assert.deepStrictEqual(d, {
        added: [{ path: "email", type: "string" }],
        removed: [{ path: "phone", type: "string" }],
        widened: [
          { path: "amount", from: "integer", to: "decimal" },
          { path: "at", from: "date", to: "timestamp" }
        ],
        incompatible: [{ path: "id", from: "integer", to: "string" }],
        nullable: [{ path: "name" }],
        optional: []
      })
      assert.strictEqual(
        SI.formatDiff(d),
        [
          "+ added: email (string)",
          "- removed: phone (string)",
          "~ widened: amount integer → decimal",
          "~ widened: at date → timestamp",
          "! incompatible: id integer → string (no lossless widening)",
          "~ nullable: name"
        ].join("\n")
      )
      assert.isTrue(SI.isEmptyDiff(SI.diff(before, before)))
      assert.strictEqual(SI.formatDiff(SI.emptyDiff), "(no changes)")
    })

    it("walks nested objects and array items", () => {
      const d = SI.diff(
        SI.inferSchema([{ a: { b: [{ c: 1 }] } }]),
        SI.inferSchema([{ a: { b: [{ c: 1.5, e: true }] } }])
      )
      assert.deepStrictEqual(d.added, [{ path: "a.b[].e", type: "boolean" }])
      assert.deepStrictEqual(d.widened, [{ path: "a.b[].c", from: "integer", to: "decimal" }])
    })

    it("property: a merged schema only adds, widens or relaxes", () => {
      fc.assert(
        fc.property(shapedPair, ([xs, ys]) => {
          const a = SI.inferSchema(xs)
          const r = SI.merge(a, SI.inferSchema(ys))
          if (Result.isFailure(r)) return
          const d = SI.diff(a, r.success)
          assert.deepStrictEqual([d.removed, d.incompatible], [[], []])
          // and the input is accepted by the merged schema as it is: nothing to add, widen or relax
          assert.isTrue(SI.isEmptyDiff({ ...SI.diff(r.success, a), removed: [] }))
        }),
        RUNS
      )
    })
  })
})
