import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Stream } from "effect"
import { ConfigError } from "../../src/Config.ts"
import * as Memory from "../../src/connectors/memory/Memory.ts"
import { StateError } from "../../src/StateStore.ts"
import { openContext, readAll, readContext, recordsOf, writeContext } from "./utils.ts"

const range = (n: number) => Array.from({ length: n }, (_, i) => ({ id: i }))

describe("Memory.source", () => {
  it.effect("reads an array in batches, each checkpointed by the offset after it", () =>
    Effect.gen(function* () {
      const source = Memory.source(range(25), { batchSize: 10 })
      const batches = yield* readAll(source)
      assert.deepStrictEqual(
        batches.map((b) => [b.records.length, b.checkpoint]),
        [
          [10, 10],
          [10, 20],
          [5, 25]
        ]
      )
      assert.deepStrictEqual(recordsOf(batches), range(25))
      assert.strictEqual(batches[0]?.stream, "default")
    })
  )

  it.effect("uses the runner's batch size hint when no batchSize is given", () =>
    Effect.gen(function* () {
      const batches = yield* readAll(Memory.source(range(7)), undefined, 3)
      assert.deepStrictEqual(
        batches.map((b) => b.records.length),
        [3, 3, 1]
      )
    })
  )

  it.effect("resuming skips exactly the delivered records (array and re-iterable)", () =>
    Effect.gen(function* () {
      const iterable = {
        *[Symbol.iterator]() {
          for (let i = 0; i < 25; i++) yield { id: i }
        }
      }
      for (const source of [Memory.source(range(25), { batchSize: 10 }), Memory.source(iterable, { batchSize: 10 })]) {
        for (const from of [0, 7, 10, 24, 25, 30]) {
          const rest = recordsOf(yield* readAll(source, from))
          assert.deepStrictEqual(rest, range(25).slice(from))
        }
      }
    })
  )

  it.effect("is lazy: two batches of a 5,000,000-record generator come back at once", () =>
    Effect.gen(function* () {
      let pulled = 0
      function* huge() {
        for (let i = 0; i < 5_000_000; i++) {
          pulled++
          yield { id: i }
        }
      }
      const started = Date.now()
      const source = Memory.source(huge(), { batchSize: 1000 })
      const batches = yield* Stream.runCollect(source.read(undefined, readContext()).pipe(Stream.take(2)))
      assert.strictEqual(batches.length, 2)
      assert.deepStrictEqual(batches[1]?.checkpoint, 2000)
      assert.isAtMost(pulled, 3000)
      assert.isBelow(Date.now() - started, 2000)
    })
  )

  it.effect("a one-shot iterator read a second time fails instead of returning nothing", () =>
    Effect.gen(function* () {
      const source = Memory.source(range(3).values())
      assert.strictEqual(recordsOf(yield* readAll(source)).length, 3)
      const error = yield* Effect.flip(readAll(source))
      assert.strictEqual(error._tag, "ConnectorError")
      assert.include(error.message, "one-shot")
    })
  )

  it.effect("stops at a bounded backfill's end", () =>
    Effect.gen(function* () {
      const source = Memory.source(range(50), { batchSize: 10 })
      const batches = yield* Stream.runCollect(source.read(5, { runId: "t", batchRows: 10, end: 25 }))
      assert.deepStrictEqual(
        batches.map((b) => b.checkpoint),
        [15, 25]
      )
    })
  )

  it.effect("estimates rows for an array", () =>
    Effect.gen(function* () {
      const source = Memory.source(range(40))
      assert.deepStrictEqual(yield* source.estimate!(15), { rows: 25, to: 40 })
    })
  )

  it("a bad option fails fast with a ConfigError naming the field", () => {
    try {
      Memory.source([], { batchSize: 0 })
      assert.fail("expected a ConfigError")
    } catch (error) {
      assert.instanceOf(error, ConfigError)
      assert.strictEqual((error as ConfigError).path, "batchSize")
    }
    try {
      Memory.sink({ transactionl: true } as never)
      assert.fail("expected a ConfigError")
    } catch (error) {
      assert.instanceOf(error, ConfigError)
      assert.strictEqual((error as ConfigError).path, "transactionl")
    }
  })
})

describe("Memory.sink", () => {
  it.effect("collects records across runs; non-transactional capabilities", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<{ id: number }>()
      assert.deepStrictEqual(collector.sink.capabilities, {
        transactional: false,
        idempotent: false,
        maxConcurrentWrites: 1
      })
      assert.strictEqual(collector.sink.disposition.type, "append")
      for (const run of ["a", "b"]) {
        yield* Effect.scoped(
          Effect.gen(function* () {
            const writer = yield* collector.sink.open(openContext({ runId: run }))
            assert.isUndefined(writer.loadCheckpoint)
            yield* writer.write({ stream: "default", records: range(3) }, writeContext(0, 3))
          })
        )
      }
      assert.strictEqual(collector.records().length, 6)
      assert.strictEqual(collector.batches(), 2)
      assert.deepStrictEqual(
        collector.writes().map((w) => w.runId),
        ["a", "b"]
      )
      assert.isTrue(Option.isNone(collector.checkpoint("pipeline/key")))
    })
  )

  it.effect("transactional: records and checkpoint commit together; loadCheckpoint returns it", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<{ id: number }>({ transactional: true })
      assert.isTrue(collector.sink.capabilities.transactional)
      const loaded = yield* Effect.scoped(
        Effect.gen(function* () {
          const writer = yield* collector.sink.open(openContext({ token: 1 }))
          assert.isTrue(Option.isNone(yield* writer.loadCheckpoint!))
          yield* writer.write({ stream: "default", records: range(2) }, writeContext(0, 2))
          yield* writer.write({ stream: "default", records: range(1) }, writeContext(1))
          return yield* writer.loadCheckpoint!
        })
      )
      assert.deepStrictEqual(loaded, Option.some(2))
      assert.strictEqual(collector.records().length, 3)
      assert.deepStrictEqual(collector.checkpoint("pipeline/key"), Option.some(2))
      assert.deepStrictEqual([...collector.checkpoints().entries()], [["pipeline/key", 2]])
    })
  )

  it.effect("transactional: a lower token is fenced (StateError Fenced) and writes nothing", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<{ id: number }>({ transactional: true })
      const exit = yield* Effect.exit(
        Effect.scoped(
          Effect.gen(function* () {
            const stale = yield* collector.sink.open(openContext({ token: 1, runId: "old" }))
            const fresh = yield* collector.sink.open(openContext({ token: 2, runId: "new" }))
            yield* fresh.write({ stream: "default", records: range(2) }, writeContext(0, 2))
            yield* stale.write({ stream: "default", records: range(5) }, writeContext(0, 5))
          })
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
      assert.instanceOf(error?._tag === "Fail" ? error.error : undefined, StateError)
      assert.strictEqual(error?._tag === "Fail" ? (error.error as StateError).reason : undefined, "Fenced")
      assert.strictEqual(collector.records().length, 2)
      assert.deepStrictEqual(collector.checkpoint("pipeline/key"), Option.some(2))
      // opening with a token below the highest seen is refused too
      const reopened = yield* Effect.flip(Effect.scoped(collector.sink.open(openContext({ token: 1 }))))
      assert.strictEqual((reopened as StateError).reason, "Fenced")
      // other state keys are independent
      yield* Effect.scoped(collector.sink.open(openContext({ token: 1, stateKey: "other" })))
    })
  )

  it.effect("exactly once across a crashed run and a re-run resumed from the sink's checkpoint", () =>
    Effect.gen(function* () {
      const source = Memory.source(range(95), { batchSize: 10 })
      const collector = Memory.sink<{ id: number }>({ transactional: true })
      const run = (token: number, crashAfter: number) =>
        Effect.scoped(
          Effect.gen(function* () {
            const writer = yield* collector.sink.open(openContext({ token }))
            const from = Option.getOrUndefined(yield* writer.loadCheckpoint!) as number | undefined
            const batches = yield* readAll(source, from)
            for (const [seq, batch] of batches.slice(0, crashAfter).entries()) {
              yield* writer.write(batch, writeContext(seq, batch.checkpoint))
            }
          })
        )
      yield* run(1, 4)
      assert.strictEqual(collector.records().length, 40)
      yield* run(2, 100)
      assert.deepStrictEqual(
        collector.records().map((r) => r.id),
        range(95).map((r) => r.id)
      )
    })
  )
})
