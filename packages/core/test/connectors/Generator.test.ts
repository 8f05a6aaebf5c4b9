import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { ConfigError } from "../../src/Config.ts"
import * as Generator from "../../src/connectors/generator/Generator.ts"
import * as Timestamp from "../../src/Timestamp.ts"
import { readAll, readContext, recordsOf } from "./utils.ts"

const configErrorPath = (f: () => unknown): string => {
  try {
    f()
  } catch (error) {
    assert.instanceOf(error, ConfigError)
    return (error as ConfigError).path
  }
  return assert.fail("expected a ConfigError")
}

describe("Generator.source", () => {
  it.effect("generates count records in batches, checkpointed by offset", () =>
    Effect.gen(function* () {
      const batches = yield* readAll(Generator.source({ count: 2500, batchSize: 1000 }))
      assert.deepStrictEqual(
        batches.map((b) => [b.records.length, b.checkpoint]),
        [
          [1000, 1000],
          [1000, 2000],
          [500, 2500]
        ]
      )
      const records = recordsOf(batches)
      assert.deepStrictEqual(
        records.map((r) => r.id),
        Array.from({ length: 2500 }, (_, i) => i + 1)
      )
      const first = records[0]!
      assert.deepStrictEqual(Object.keys(first), [...Generator.fields])
      assert.isTrue(Timestamp.isTimestamp(first.createdAt))
      assert.isTrue(first.createdAt.zoned)
      assert.match(first.email, /^[a-z]+\.[a-z]+\.1@example\.com$/)
      assert.isTrue(Number.isInteger(Math.round(first.amount * 100)))
      for (let i = 1; i < records.length; i++) {
        assert.isTrue(Timestamp.compare(records[i - 1]!.createdAt, records[i]!.createdAt) < 0)
      }
    })
  )

  it.effect("the same seed gives the same data; another seed gives other data", () =>
    Effect.gen(function* () {
      const a = recordsOf(yield* readAll(Generator.source({ count: 300, seed: 7 })))
      const b = recordsOf(yield* readAll(Generator.source({ count: 300, seed: 7 })))
      const c = recordsOf(yield* readAll(Generator.source({ count: 300, seed: 8 })))
      const text = (rows: ReadonlyArray<Generator.Row>) => JSON.stringify(rows)
      assert.strictEqual(text(a), text(b))
      assert.notStrictEqual(text(a), text(c))
    })
  )

  it.effect("resuming from a checkpoint gives exactly the rest", () =>
    Effect.gen(function* () {
      const source = Generator.source({ count: 1234, seed: 3, batchSize: 100 })
      const all = recordsOf(yield* readAll(source))
      for (const from of [0, 1, 100, 777, 1233, 1234]) {
        const rest = recordsOf(yield* readAll(source, from))
        assert.strictEqual(JSON.stringify(rest), JSON.stringify(all.slice(from)))
      }
    })
  )

  it.effect("is lazy: the first two batches of 5,000,000 or of Infinity come back at once", () =>
    Effect.gen(function* () {
      for (const count of [5_000_000, Number.POSITIVE_INFINITY]) {
        const started = Date.now()
        const source = Generator.source({ count, batchSize: 1000 })
        const batches = yield* Stream.runCollect(source.read(undefined, readContext()).pipe(Stream.take(2)))
        assert.deepStrictEqual(
          batches.map((b) => b.checkpoint),
          [1000, 2000]
        )
        assert.isBelow(Date.now() - started, 2000)
      }
      // an unbounded source resumes far out just as fast
      const far = yield* Stream.runCollect(
        Generator.source({ count: Number.POSITIVE_INFINITY, batchSize: 2 })
          .read(10_000_000_000, readContext())
          .pipe(Stream.take(1))
      )
      assert.strictEqual(far[0]?.records[0]?.id, 10_000_000_001)
    })
  )

  it.effect("keeps only the selected fields", () =>
    Effect.gen(function* () {
      const records = recordsOf(yield* readAll(Generator.source({ count: 3, fields: ["id", "createdAt"] })))
      assert.deepStrictEqual(Object.keys(records[0]!), ["id", "createdAt"])
    })
  )

  it.effect("estimates rows when the count is finite", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* Generator.source({ count: 100 }).estimate!(40), { rows: 60, to: 100 })
      assert.deepStrictEqual(yield* Generator.source({ count: Number.POSITIVE_INFINITY }).estimate!(40), {})
    })
  )

  it("a bad option fails fast with a ConfigError naming the field", () => {
    assert.strictEqual(
      configErrorPath(() => Generator.source({ count: -1 })),
      "count"
    )
    assert.strictEqual(
      configErrorPath(() => Generator.source({ count: 1.5 })),
      "count"
    )
    assert.strictEqual(
      configErrorPath(() => Generator.source({ count: 1, fields: ["nope"] as never })),
      "fields.0"
    )
    assert.strictEqual(
      configErrorPath(() => Generator.source({ count: 1, startAt: "yesterday" })),
      "startAt"
    )
    assert.strictEqual(
      configErrorPath(() => Generator.source({ count: 1, colour: "red" } as never)),
      "colour"
    )
  })
})
