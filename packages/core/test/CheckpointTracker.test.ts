import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { make } from "../src/internal/checkpointTracker.ts"

describe("CheckpointTracker", () => {
  it("releases checkpoints in order as the watermark passes them", () => {
    const t = make()
    assert.strictEqual(t.watermark(), 0)
    assert.isUndefined(t.complete(1, { value: "c1" }))
    assert.strictEqual(t.watermark(), 0)
    assert.isUndefined(t.complete(2, undefined))
    // 0 finishes: the watermark passes 0, 1 and 2; the newest checkpoint among them is c1.
    assert.deepStrictEqual(t.complete(0, { value: "c0" }), { value: "c1" })
    assert.strictEqual(t.watermark(), 3)
    assert.isUndefined(t.complete(4, { value: "c4" }))
    assert.deepStrictEqual(t.complete(3, undefined), { value: "c4" })
    assert.strictEqual(t.watermark(), 5)
  })

  it("keeps falsy checkpoint values", () => {
    const t = make()
    assert.deepStrictEqual(t.complete(0, { value: null }), { value: null })
    assert.deepStrictEqual(t.complete(1, { value: 0 }), { value: 0 })
    assert.isUndefined(t.complete(2, undefined))
  })

  it("property: releases are increasing and happen exactly when every earlier batch is done", () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }).chain((hasCheckpoint) =>
          fc.tuple(
            fc.constant(hasCheckpoint),
            fc.shuffledSubarray(
              hasCheckpoint.map((_, i) => i),
              { minLength: hasCheckpoint.length, maxLength: hasCheckpoint.length }
            )
          )
        ),
        ([hasCheckpoint, order]) => {
          const n = hasCheckpoint.length
          const t = make()
          const done = new Array<boolean>(n).fill(false)
          const released: Array<number> = []
          let prefix = 0
          for (const seq of order) {
            const before = prefix
            done[seq] = true
            while (prefix < n && done[prefix]) prefix++
            const result = t.complete(seq, hasCheckpoint[seq] ? { value: seq } : undefined)
            assert.strictEqual(t.watermark(), prefix)
            // The newest checkpoint in the batches the watermark just passed, if any.
            let expected: number | undefined
            for (let k = before; k < prefix; k++) if (hasCheckpoint[k]) expected = k
            if (expected === undefined) {
              assert.isUndefined(result)
            } else {
              assert.deepStrictEqual(result, { value: expected })
              // Every batch up to and including the released one is done.
              for (let k = 0; k <= expected; k++) assert.isTrue(done[k])
              released.push(expected)
            }
          }
          assert.strictEqual(t.watermark(), n)
          for (let i = 1; i < released.length; i++) assert.isAbove(released[i]!, released[i - 1]!)
          // Nothing is held back at the end: the last checkpoint was released.
          const last = hasCheckpoint.lastIndexOf(true)
          if (last >= 0) assert.strictEqual(released[released.length - 1], last)
          else assert.deepStrictEqual(released, [])
          // Every checkpoint is either released or superseded by a later one released at the same moment.
          for (let k = 0; k < n; k++) {
            if (hasCheckpoint[k]) assert.isTrue(released.some((r) => r >= k))
          }
        }
      ),
      { numRuns: 1000 }
    )
  })

  it("property: in-order completion releases every checkpoint at its own batch", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 50 }), (hasCheckpoint) => {
        const t = make()
        hasCheckpoint.forEach((has, seq) => {
          const result = t.complete(seq, has ? { value: seq } : undefined)
          if (has) assert.deepStrictEqual(result, { value: seq })
          else assert.isUndefined(result)
        })
      }),
      { numRuns: 300 }
    )
  })
})
