import { RateLimiter } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"

/** Takes `n` tokens and returns the clock time at which the take completed. */
const takeAt = (limiter: RateLimiter.RateLimiter, n?: number) =>
  Effect.andThen(limiter.take(n), Clock.currentTimeMillis)

/** Forks a take at once (so reservations are made in call order) and returns its fiber. */
const forkTake = (limiter: RateLimiter.RateLimiter, n?: number) =>
  Effect.forkChild(takeAt(limiter, n), { startImmediately: true })

describe("RateLimiter", () => {
  it("make validates the rate", () => {
    assert.throws(() => RateLimiter.make({ perSecond: 0 }), RangeError)
    assert.throws(() => RateLimiter.make({ perSecond: -1 }), RangeError)
    assert.throws(() => RateLimiter.make({ perSecond: Number.NaN }), RangeError)
    assert.throws(() => RateLimiter.make({ perSecond: 10, burst: 0 }), RangeError)
    assert.throws(() => RateLimiter.make({ perSecond: 10, burst: Number.NaN }), RangeError)
    assert.deepStrictEqual(RateLimiter.make({ perSecond: 5 }).rate, { perSecond: 5 })
  })

  it.effect("the burst passes immediately, then each call waits 1/perSecond more", () =>
    Effect.gen(function* () {
      const limiter = RateLimiter.make({ perSecond: 10, burst: 5 })
      const fibers = []
      for (let i = 0; i < 8; i++) fibers.push(yield* forkTake(limiter))
      yield* TestClock.adjust("10 seconds")
      const times = yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(times, [0, 0, 0, 0, 0, 100, 200, 300])
    })
  )

  it.effect("the default burst is one second's worth", () =>
    Effect.gen(function* () {
      const limiter = RateLimiter.make({ perSecond: 4 })
      const fibers = []
      for (let i = 0; i < 6; i++) fibers.push(yield* forkTake(limiter))
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* Effect.forEach(fibers, Fiber.join), [0, 0, 0, 0, 250, 500])
    })
  )

  it.effect("taking n tokens waits n/perSecond once the bucket is empty", () =>
    Effect.gen(function* () {
      const limiter = RateLimiter.make({ perSecond: 100, burst: 10 })
      assert.strictEqual(yield* takeAt(limiter, 10), 0)
      const fiber = yield* forkTake(limiter, 50)
      yield* TestClock.adjust(499)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* Fiber.join(fiber), 500)
    })
  )

  it.effect("a take larger than the burst waits for the difference", () =>
    Effect.gen(function* () {
      const limiter = RateLimiter.make({ perSecond: 10, burst: 5 })
      const fiber = yield* forkTake(limiter, 25)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* Fiber.join(fiber), 2000)
    })
  )

  it.effect("tokens refill over time, up to the burst", () =>
    Effect.gen(function* () {
      const limiter = RateLimiter.make({ perSecond: 10, burst: 5 })
      yield* limiter.take(5)
      // Half a second refills 5 tokens: five calls pass without waiting, the sixth waits 100 ms.
      yield* TestClock.adjust(500)
      const fibers = []
      for (let i = 0; i < 6; i++) fibers.push(yield* forkTake(limiter))
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* Effect.forEach(fibers, Fiber.join), [500, 500, 500, 500, 500, 600])
    })
  )

  it.effect("a long idle time banks no more than the burst", () =>
    Effect.gen(function* () {
      const limiter = RateLimiter.make({ perSecond: 10, burst: 3 })
      yield* limiter.take(1)
      yield* TestClock.adjust("1 hour")
      const start = yield* Clock.currentTimeMillis
      const fibers = []
      for (let i = 0; i < 5; i++) fibers.push(yield* forkTake(limiter))
      yield* TestClock.adjust("10 seconds")
      const times = (yield* Effect.forEach(fibers, Fiber.join)).map((t) => t - start)
      assert.deepStrictEqual(times, [0, 0, 0, 100, 200])
    })
  )

  it.effect("partial refill: a wait counts the tokens already refilled", () =>
    Effect.gen(function* () {
      const limiter = RateLimiter.make({ perSecond: 10, burst: 1 })
      yield* limiter.take()
      yield* TestClock.adjust(30)
      const fiber = yield* forkTake(limiter)
      yield* TestClock.adjust(69)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* Fiber.join(fiber), 100)
    })
  )

  it.effect("fairness: reservations are served in call order, whatever their sizes", () =>
    Effect.gen(function* () {
      const limiter = RateLimiter.make({ perSecond: 10, burst: 10 })
      yield* limiter.take(10)
      const big = yield* forkTake(limiter, 20)
      const small1 = yield* forkTake(limiter, 1)
      const small2 = yield* forkTake(limiter, 1)
      yield* TestClock.adjust("1 minute")
      // The small ones queue behind the big one instead of overtaking it.
      assert.strictEqual(yield* Fiber.join(big), 2000)
      assert.strictEqual(yield* Fiber.join(small1), 2100)
      assert.strictEqual(yield* Fiber.join(small2), 2200)
    })
  )

  it.effect("the long-run rate is perSecond: 100 calls after the burst take about 100/perSecond seconds", () =>
    Effect.gen(function* () {
      const limiter = RateLimiter.make({ perSecond: 20, burst: 5 })
      const fibers = []
      for (let i = 0; i < 105; i++) fibers.push(yield* forkTake(limiter))
      yield* TestClock.adjust("1 hour")
      const times = yield* Effect.forEach(fibers, Fiber.join)
      assert.strictEqual(times[4], 0)
      assert.strictEqual(times[104], 5000)
      for (let i = 1; i < times.length; i++) assert.isAtLeast(times[i]!, times[i - 1]!)
      // Over any window of 1 s, at most burst + perSecond calls complete.
      for (let i = 0; i < times.length; i++) {
        const inWindow = times.filter((t) => t >= times[i]! && t < times[i]! + 1000).length
        assert.isAtMost(inWindow, 25)
      }
    })
  )

  it.effect("a non-integer rate rounds each wait up to the millisecond", () =>
    Effect.gen(function* () {
      const limiter = RateLimiter.make({ perSecond: 3, burst: 1 })
      yield* limiter.take()
      const fiber = yield* forkTake(limiter)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* Fiber.join(fiber), 334)
    })
  )

  it.effect("take(0) never waits", () =>
    Effect.gen(function* () {
      const limiter = RateLimiter.make({ perSecond: 1, burst: 1 })
      yield* limiter.take()
      assert.strictEqual(yield* takeAt(limiter, 0), 0)
    })
  )

  it.effect("an invalid token count is refused and leaves the bucket intact", () =>
    Effect.gen(function* () {
      const limiter = RateLimiter.make({ perSecond: 10, burst: 2 })
      for (const n of [Number.NaN, -5, Number.POSITIVE_INFINITY]) {
        const exit = yield* Effect.exit(limiter.take(n))
        assert.strictEqual(exit._tag, "Failure", String(n))
      }
      const fibers = []
      for (let i = 0; i < 3; i++) fibers.push(yield* forkTake(limiter))
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* Effect.forEach(fibers, Fiber.join), [0, 0, 100])
    })
  )
})
