// The generated fused loop (map- and filter-like steps) and the closure chain it replaces must agree exactly:
// outputs, rejections, the step a reason names, and dedupe's batch and run scopes.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fc from "fast-check"
import * as Transformer from "../src/internal/transformer.ts"
import * as Transform from "../src/Transform.ts"

type Row = { readonly id: number; readonly n: number }

const transform = Transform.identity<Row>().pipe(
  Transform.validate(Schema.Struct({ id: Schema.Int, n: Schema.Number })),
  Transform.map((r) => {
    if (r.n % 7 === 3) throw new Transform.RecordRejected({ reason: "n ends badly" })
    return { ...r, doubled: r.n * 2 }
  }),
  Transform.filter((r) => r.n % 5 !== 0),
  Transform.dedupe("n"),
  Transform.dedupe((r) => r.id % 11, { window: 4 }),
  Transform.rename({ doubled: "twice" }),
  Transform.drop(["id"])
)

const run = (fused: boolean, batches: ReadonlyArray<ReadonlyArray<unknown>>) => {
  const compiled = Transformer.compile(transform, (e) => e, { fused })
  return batches.map((batch) => Effect.runSync(compiled.process(batch)))
}

describe("fused transform loop", () => {
  it("agrees with the closure chain on random batches, bad records included", () => {
    const record = fc.oneof(
      fc.record({ id: fc.integer({ min: 0, max: 40 }), n: fc.integer({ min: 0, max: 30 }) }),
      fc.record({ id: fc.string(), n: fc.integer() }),
      fc.constant(null)
    )
    fc.assert(
      fc.property(fc.array(fc.array(record, { maxLength: 30 }), { maxLength: 6 }), (batches) => {
        expect(run(true, batches)).toEqual(run(false, batches))
      }),
      { numRuns: 300 }
    )
  })

  it("names the step that rejected a record", () => {
    const [out] = run(true, [
      [
        { id: 1, n: 3 },
        { id: "x", n: 1 },
        { id: 2, n: 4 }
      ]
    ])
    expect(out!.rejected.map((r) => r.reason.split(":")[0])).toEqual(["map", "validate"])
    expect(out!.records).toEqual([{ n: 4, twice: 8 }])
  })
})
