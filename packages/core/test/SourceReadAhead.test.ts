// The ordered read-ahead behind chunked snapshots, with no server: chunks are Effects that wait on gates the test
// opens, so overlap, order and the bound on chunks in flight are shown by the order of events, never by timing.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Stream } from "effect"
import * as Source from "../src/Source.ts"

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

describe("Source.readAhead", () => {
  it.effect(
    "reads up to `concurrency` chunks at once and emits them in chunk order, whatever order they finish in",
    () =>
      Effect.gen(function* () {
        const gates = range(8).map(() => Deferred.makeUnsafe<void>())
        const threeRunning = Deferred.makeUnsafe<void>()
        const started: Array<number> = []
        const stream = Source.readAhead(range(8), 3, (chunk) =>
          Effect.gen(function* () {
            started.push(chunk)
            if (started.length === 3) Deferred.doneUnsafe(threeRunning, Exit.void)
            yield* Deferred.await(gates[chunk]!)
            return [`${chunk}a`, `${chunk}b`]
          })
        )
        const fiber = yield* Effect.forkChild(Stream.runCollect(stream), { startImmediately: true })
        // Three chunks are being read at once, before any of them has finished.
        yield* Deferred.await(threeRunning)
        assert.deepStrictEqual(started, [0, 1, 2])
        // They finish in reverse order; later chunks finish in any order too.
        for (const chunk of [2, 1, 0, 5, 4, 3, 7, 6]) yield* Deferred.succeed(gates[chunk]!, undefined)
        const out = yield* Fiber.join(fiber)
        assert.deepStrictEqual(
          out,
          range(8).flatMap((c) => [`${c}a`, `${c}b`])
        )
        assert.deepStrictEqual([...started].sort(), range(8))
      })
  )

  it.effect("never holds more than `concurrency` chunks: a chunk starts only once an earlier one is emitted", () =>
    Effect.gen(function* () {
      const started: Array<number> = []
      const seen: Array<{ readonly chunk: number; readonly started: number }> = []
      const stream = Source.readAhead(range(10), 3, (chunk) =>
        Effect.sync(() => {
          started.push(chunk)
          return range(4).map(() => chunk)
        })
      )
      // The consumer yields after every record, giving chunk readers every chance to run ahead.
      const out = yield* Stream.runCollect(
        Stream.tap(stream, (chunk) =>
          Effect.sync(() => seen.push({ chunk, started: started.length })).pipe(Effect.andThen(Effect.yieldNow))
        )
      )
      assert.strictEqual(out.length, 40)
      assert.deepStrictEqual(
        out,
        range(10).flatMap((c) => range(4).map(() => c))
      )
      // While chunk c is emitted, chunks 0..c-1 are done and at most c .. c+2 have started.
      for (const { chunk, started: count } of seen) assert.isAtMost(count, chunk + 3, `while chunk ${chunk} is emitted`)
      // And read-ahead happened: some chunk was emitted while later ones had already been read.
      assert.isTrue(seen.some(({ chunk, started: count }) => count > chunk + 1))
    })
  )

  it.effect("a failing chunk fails the stream and leaves no chunk running", () =>
    Effect.gen(function* () {
      const running = new Set<number>()
      const stream = Source.readAhead(range(6), 3, (chunk) =>
        Effect.gen(function* () {
          running.add(chunk)
          if (chunk === 1) return yield* Effect.fail(`chunk ${chunk} failed`)
          if (chunk >= 2) yield* Effect.never
          return [chunk]
        }).pipe(Effect.ensuring(Effect.sync(() => running.delete(chunk))))
      )
      const error = yield* Effect.flip(Stream.runCollect(stream))
      assert.strictEqual(error, "chunk 1 failed")
      assert.deepStrictEqual([...running], [])
    })
  )

  it.effect("no chunks: an empty stream", () =>
    Effect.gen(function* () {
      const out = yield* Stream.runCollect(Source.readAhead([], 3, () => Effect.succeed([1])))
      assert.deepStrictEqual(out, [])
    })
  )
})
