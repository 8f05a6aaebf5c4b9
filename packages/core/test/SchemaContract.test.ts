import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import * as fc from "fast-check"
import * as SchemaContract from "../src/SchemaContract.ts"
import * as SI from "../src/SchemaInference.ts"

const at = new Date("2026-01-02T03:04:05.000Z")
const make = (contract?: SchemaContract.Contract, options?: SchemaContract.MakeOptions) =>
  SchemaContract.make(contract, { now: () => at, ...options })

// A stream whose shape changes mid-run: batch 2 adds `email`, drops `phone`, and widens `amount` to decimal.
const batch1 = [
  { id: 1, amount: 10, phone: "p1" },
  { id: 2, amount: 20, phone: "p2" }
]
const batch2 = [
  { id: 3, amount: 30, phone: "p3" },
  { id: 4, amount: 1.5, email: "a@example.com" },
  { id: 5, amount: 50, phone: null }
]

describe("SchemaContract", () => {
  it.effect("accepts the first batch as version 1", () =>
    Effect.gen(function* () {
      const enforcer = make({ tables: "freeze", columns: "freeze", dataType: "freeze" })
      const r = yield* enforcer.apply("orders", batch1)
      assert.deepStrictEqual(r.records, batch1)
      assert.strictEqual(r.snapshot?.version, 1)
      assert.strictEqual(r.snapshot?.at, at.toISOString())
      assert.deepStrictEqual(
        r.snapshot?.diff.added.map((a) => `${a.path}:${a.type}`),
        ["id:integer", "amount:integer", "phone:string"]
      )
      // the same shape again: nothing changes
      const again = yield* enforcer.apply("orders", batch1)
      assert.isUndefined(again.snapshot)
      assert.strictEqual(enforcer.snapshots().length, 1)
    })
  )

  it.effect("evolve: accepts the new field and widening, and yields version 2 with a diff", () =>
    Effect.gen(function* () {
      const enforcer = make({ columns: "evolve", dataType: "evolve" })
      yield* enforcer.apply("orders", batch1)
      const r = yield* enforcer.apply("orders", batch2)
      assert.deepStrictEqual(r.records, batch2)
      assert.deepStrictEqual([r.discarded, r.trimmed], [[], []])
      const snapshot = r.snapshot
      assert.isDefined(snapshot)
      if (snapshot === undefined) return
      assert.strictEqual(snapshot.version, 2)
      assert.strictEqual(snapshot.stream, "orders")
      assert.deepStrictEqual(snapshot.diff, {
        added: [{ path: "email", type: "string" }],
        removed: [],
        widened: [{ path: "amount", from: "integer", to: "decimal" }],
        incompatible: [],
        nullable: [{ path: "phone" }],
        optional: [{ path: "phone" }]
      })
      // the new schema accepts every record so far
      const decode = Schema.decodeUnknownExit(SI.toEffectSchema(snapshot.schema))
      for (const rec of [...batch1, ...batch2]) assert.isTrue(Exit.isSuccess(decode(rec)))
      assert.deepStrictEqual(
        enforcer.snapshots().map((s) => s.version),
        [1, 2]
      )
      assert.strictEqual(enforcer.current("orders"), snapshot)
    })
  )

  it.effect("the default contract evolves columns but freezes types", () =>
    Effect.gen(function* () {
      const enforcer = make()
      assert.deepStrictEqual(enforcer.contract, { tables: "evolve", columns: "evolve", dataType: "freeze" })
      yield* enforcer.apply("orders", batch1)
      const ok = yield* enforcer.apply("orders", [{ id: 3, amount: 3, email: "x" }])
      assert.strictEqual(ok.snapshot?.version, 2)
      const err = yield* Effect.flip(enforcer.apply("orders", [{ id: 4, amount: 0.5 }]))
      assert.strictEqual(err._tag, "SchemaViolation")
      assert.deepStrictEqual(err.violations, ["dataType: freeze"])
    })
  )

  it.effect("freeze: fails with a readable diff of added, removed and widened fields, and changes nothing", () =>
    Effect.gen(function* () {
      const enforcer = make({ columns: "freeze", dataType: "freeze" })
      yield* enforcer.apply("orders", batch1)
      const batch = [
        { id: 3, amount: 1.5, email: "a@example.com" },
        { id: "x", amount: 2, email: "b@example.com" }
      ]
      const err = yield* Effect.flip(enforcer.apply("orders", batch))
      assert.instanceOf(err, SchemaContract.SchemaViolation)
      assert.isFalse(err.retryable)
      assert.strictEqual(err.stream, "orders")
      assert.deepStrictEqual(err.violations, ["columns: freeze", "dataType: freeze"])
      assert.strictEqual(
        err.message,
        [
          'Schema contract refused a batch of stream "orders" (columns: freeze, dataType: freeze):',
          "+ added: email (string)",
          "- removed: phone (string)",
          "~ widened: amount integer → decimal",
          "! incompatible: id integer → string (no lossless widening)"
        ].join("\n")
      )
      // values never appear in the message
      assert.notInclude(err.message, "example.com")
      // the error serialises with its diff
      const encoded = Schema.encodeSync(SchemaContract.SchemaViolation)(err)
      assert.deepStrictEqual(encoded.diff.added, [{ path: "email", type: "string" }])
      // nothing changed: the old shape still passes without a new version
      assert.strictEqual(enforcer.snapshots().length, 1)
      assert.isUndefined((yield* enforcer.apply("orders", batch1)).snapshot)
    })
  )

  it.effect("evolve fails on a type change with no lossless widening, unless widenTo is text", () =>
    Effect.gen(function* () {
      const strict = make({ dataType: "evolve" })
      yield* strict.apply("s", [{ code: 1 }])
      const err = yield* Effect.flip(strict.apply("s", [{ code: "A1" }]))
      assert.deepStrictEqual(err.violations, ["dataType: evolve (no lossless widening)"])
      assert.include(err.message, "! incompatible: code integer → string")

      const text = make({ dataType: "evolve", widenTo: "text" })
      yield* text.apply("s", [{ code: 1 }])
      const r = yield* text.apply("s", [{ code: 2 }, { code: "A1" }, { code: 3n }])
      assert.deepStrictEqual(r.records, [{ code: "2" }, { code: "A1" }, { code: "3" }])
      assert.deepStrictEqual(r.snapshot?.diff.widened, [{ path: "code", from: "integer", to: "string" }])
    })
  )

  it.effect("discardRow: drops rows with reasons that name fields, never values", () =>
    Effect.gen(function* () {
      const enforcer = make({ columns: "discardRow", dataType: "discardRow" })
      yield* enforcer.apply("orders", batch1)
      const r = yield* enforcer.apply("orders", [
        { id: 3, amount: 30, phone: "p3" },
        { id: 4, amount: 40, email: "secret@example.com" },
        { id: 5, amount: "n/a", phone: "p5" },
        { id: 6, amount: 1.5, phone: "p6" },
        "not a record"
      ])
      assert.deepStrictEqual(r.records, [{ id: 3, amount: 30, phone: "p3" }])
      assert.deepStrictEqual(
        r.discarded.map((d) => d.reasons),
        [
          ["record is not an object"],
          ['new field "email" (columns: discardRow)'],
          ['field "amount" changed integer → string with no lossless widening (dataType: discardRow)'],
          ['field "amount" would widen integer → decimal (dataType: discardRow)']
        ]
      )
      for (const d of r.discarded) assert.notMatch(d.reasons.join(" "), /secret|n\/a|1\.5/)
      assert.isUndefined(r.snapshot)
    })
  )

  it.effect("discardValue: drops the offending values and keeps the rows", () =>
    Effect.gen(function* () {
      const enforcer = make({ columns: "discardValue", dataType: "discardValue" })
      yield* enforcer.apply("orders", [{ id: 1, amount: 10, address: { city: "A" }, tags: [1] }])
      const r = yield* enforcer.apply("orders", [
        { id: 2, amount: 20, email: "e", address: { city: "B", zip: "Z" }, tags: [2] },
        { id: 3, amount: 1.5, address: { city: "C" }, tags: [3, "x"] },
        { id: 4, amount: 40, address: { city: "D" }, tags: [] }
      ])
      assert.deepStrictEqual(r.records, [
        { id: 2, amount: 20, address: { city: "B" }, tags: [2] },
        { id: 3, address: { city: "C" } },
        { id: 4, amount: 40, address: { city: "D" }, tags: [] }
      ])
      assert.deepStrictEqual(r.trimmed, [
        {
          index: 0,
          fields: ["email", "address.zip"],
          reasons: ['new field "email" (columns: discardValue)', 'new field "address.zip" (columns: discardValue)']
        },
        {
          index: 1,
          fields: ["amount", "tags"],
          reasons: [
            'field "amount" would widen integer → decimal (dataType: discardValue)',
            'field "tags[]" changed integer → string with no lossless widening (dataType: discardValue)'
          ]
        }
      ])
      assert.deepStrictEqual(r.discarded, [])
      // dropped values made those fields optional: a new version, with no new field or type
      assert.strictEqual(r.snapshot?.version, 2)
      assert.deepStrictEqual(r.snapshot?.diff.optional, [{ path: "amount" }, { path: "tags" }])
      assert.deepStrictEqual([r.snapshot?.diff.added, r.snapshot?.diff.widened], [[], []])
    })
  )

  describe("tables", () => {
    it.effect("follows the mode for a stream that appears after others", () =>
      Effect.gen(function* () {
        const evolve = make({ tables: "evolve" })
        yield* evolve.apply("a", [{ x: 1 }])
        assert.strictEqual((yield* evolve.apply("b", [{ y: 1 }])).snapshot?.version, 1)

        const freeze = make({ tables: "freeze" })
        yield* freeze.apply("a", [{ x: 1 }])
        const err = yield* Effect.flip(freeze.apply("b", [{ y: 1 }]))
        assert.include(err.message, 'stream "b"')
        assert.include(err.message, "+ added: y (integer)")
        assert.deepStrictEqual(err.violations, ["tables: freeze (new stream)"])

        for (const mode of ["discardRow", "discardValue"] as const) {
          const e = make({ tables: mode })
          yield* e.apply("a", [{ x: 1 }])
          const r = yield* e.apply("b", [{ y: 1 }, { y: 2 }])
          assert.deepStrictEqual(r.records, [])
          assert.deepStrictEqual(
            r.discarded.map((d) => d.reasons),
            [[`new stream "b" (tables: ${mode})`], [`new stream "b" (tables: ${mode})`]]
          )
          assert.isUndefined(e.current("b"))
        }
      })
    )

    it.effect("starts from stored snapshots", () =>
      Effect.gen(function* () {
        const first = make()
        const s1 = (yield* first.apply("a", [{ x: 1 }])).snapshot
        assert.isDefined(s1)
        if (s1 === undefined) return
        const next = make({ tables: "freeze", columns: "freeze" }, { initial: new Map([["a", s1]]) })
        assert.isUndefined((yield* next.apply("a", [{ x: 2 }])).snapshot)
        yield* Effect.flip(next.apply("b", [{ y: 1 }]))
        yield* Effect.flip(next.apply("a", [{ x: 3, z: 1 }]))
        assert.deepStrictEqual(next.snapshots(), [s1])
      })
    )
  })

  it.effect("a field seen only as null takes the type of its first value, even under freeze", () =>
    Effect.gen(function* () {
      const enforcer = make({ dataType: "freeze" })
      yield* enforcer.apply("s", [{ x: null }])
      const r = yield* enforcer.apply("s", [{ x: 5 }])
      assert.deepStrictEqual(r.snapshot?.diff.widened, [{ path: "x", from: "unknown", to: "integer" }])
      assert.strictEqual(r.snapshot?.schema.type === "object" && r.snapshot.schema.fields.x?.type, "integer")
    })
  )

  it("property: under evolve, the latest schema accepts every record kept so far", () => {
    const value = fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.bigInt(), fc.boolean(), fc.constant(null))
    const record = fc.dictionary(fc.constantFrom("a", "b", "c"), value, { maxKeys: 3 })
    const batches = fc.array(fc.array(record, { maxLength: 5 }), { minLength: 1, maxLength: 5 })
    fc.assert(
      fc.property(batches, (bs) => {
        const enforcer = make({ columns: "evolve", dataType: "evolve" })
        const kept: Array<unknown> = []
        for (const b of bs) {
          const exit = Effect.runSyncExit(enforcer.apply("s", b))
          if (Exit.isFailure(exit)) return // a boolean and a number met: refused as a whole
          kept.push(...exit.value.records)
        }
        const current = enforcer.current("s")
        if (current === undefined) return
        const decode = Schema.decodeUnknownExit(SI.toEffectSchema(current.schema))
        for (const r of kept) assert.isTrue(Exit.isSuccess(decode(r)))
        const versions = enforcer.snapshots().map((s) => s.version)
        assert.deepStrictEqual(
          versions,
          versions.map((_, i) => i + 1)
        )
      }),
      { numRuns: 200 }
    )
  })
})
