import { ConnectorError, RetryPolicy } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Random } from "effect"
import { TestClock } from "effect/testing"

interface Failure {
  readonly retryable: boolean
  readonly retryAfterMs?: number
  readonly n: number
}

/** An effect that fails with `fail(attempt)` until it returns undefined; records when each attempt started. */
const flaky = (fail: (attempt: number) => Failure | undefined) => {
  const startedAt: Array<number> = []
  const effect = Effect.gen(function* () {
    startedAt.push(yield* Clock.currentTimeMillis)
    const error = fail(startedAt.length)
    if (error !== undefined) return yield* Effect.fail(error)
    return startedAt.length
  })
  return { effect, startedAt }
}

/** Runs the retry in a fiber and moves the TestClock far enough for every wait. */
const drive = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    yield* TestClock.adjust("1 day")
    return yield* Fiber.await(fiber)
  })

const diffs = (times: ReadonlyArray<number>) => times.slice(1).map((t, i) => t - times[i]!)

describe("RetryPolicy", () => {
  describe("make", () => {
    it("fills in the defaults", () => {
      assert.deepStrictEqual(RetryPolicy.make(), RetryPolicy.defaultPolicy)
      assert.deepStrictEqual(RetryPolicy.make({ maxAttempts: 3, initialDelayMs: 50 }), {
        ...RetryPolicy.defaultPolicy,
        maxAttempts: 3,
        initialDelayMs: 50
      })
      assert.strictEqual(RetryPolicy.none.maxAttempts, 1)
    })

    it("rejects bad values", () => {
      const bad: ReadonlyArray<Partial<RetryPolicy.RetryPolicy>> = [
        { maxAttempts: 0 },
        { maxAttempts: 1.5 },
        { maxAttempts: Number.NaN },
        { maxAttempts: -1 },
        { initialDelayMs: -1 },
        { initialDelayMs: Number.NaN },
        { maxDelayMs: -1 },
        { factor: 0.5 },
        { factor: Number.NaN },
        { maxElapsedMs: -1 },
        { maxElapsedMs: Number.NaN }
      ]
      for (const options of bad)
        assert.throws(() => RetryPolicy.make(options), RangeError, undefined, JSON.stringify(options))
    })

    it("accepts edge values", () => {
      assert.strictEqual(RetryPolicy.make({ maxAttempts: 1 }).maxAttempts, 1)
      assert.strictEqual(RetryPolicy.make({ initialDelayMs: 0, factor: 1, maxElapsedMs: 0 }).initialDelayMs, 0)
    })
  })

  it("boundOf grows by factor and is capped by maxDelayMs", () => {
    const policy = RetryPolicy.make({ initialDelayMs: 100, factor: 3, maxDelayMs: 2000 })
    assert.deepStrictEqual(
      [1, 2, 3, 4, 5].map((n) => RetryPolicy.boundOf(policy, n)),
      [100, 300, 900, 2000, 2000]
    )
  })

  it("isRetryable and retryAfterOf read the error", () => {
    assert.isTrue(RetryPolicy.isRetryable({ retryable: true }))
    assert.isFalse(RetryPolicy.isRetryable({ retryable: "yes" }))
    assert.isFalse(RetryPolicy.isRetryable(new Error("x")))
    assert.isFalse(RetryPolicy.isRetryable(null))
    assert.isFalse(RetryPolicy.isRetryable("retryable"))
    assert.strictEqual(RetryPolicy.retryAfterOf({ retryAfterMs: 5 }), 5)
    assert.strictEqual(RetryPolicy.retryAfterOf({ retryAfterMs: 0 }), 0)
    assert.isUndefined(RetryPolicy.retryAfterOf({ retryAfterMs: -5 }))
    assert.isUndefined(RetryPolicy.retryAfterOf({ retryAfterMs: Number.NaN }))
    assert.isUndefined(RetryPolicy.retryAfterOf({ retryAfterMs: Number.POSITIVE_INFINITY }))
    assert.isUndefined(RetryPolicy.retryAfterOf({ retryAfterMs: "5" }))
    assert.isUndefined(RetryPolicy.retryAfterOf(undefined))
  })

  describe("retry", () => {
    it.effect("succeeds at once without waiting", () =>
      Effect.gen(function* () {
        const f = flaky(() => undefined)
        const exit = yield* drive(RetryPolicy.retry(f.effect, RetryPolicy.defaultPolicy))
        assert.deepStrictEqual(exit, Exit.succeed(1))
        assert.deepStrictEqual(f.startedAt, [0])
      })
    )

    it.effect("retries retryable errors until success", () =>
      Effect.gen(function* () {
        const f = flaky((n) => (n < 3 ? { retryable: true, n } : undefined))
        const exit = yield* drive(RetryPolicy.retry(f.effect, RetryPolicy.make({ maxAttempts: 5 })))
        assert.deepStrictEqual(exit, Exit.succeed(3))
        assert.strictEqual(f.startedAt.length, 3)
      })
    )

    it.effect("never retries a non-retryable error", () =>
      Effect.gen(function* () {
        const retries: Array<number> = []
        const f = flaky((n) => (n === 1 ? { retryable: true, n } : { retryable: false, n }))
        const exit = yield* drive(
          RetryPolicy.retry(f.effect, RetryPolicy.make({ maxAttempts: 10 }), (info) =>
            Effect.sync(() => retries.push(info.attempt))
          )
        )
        assert.deepStrictEqual(exit, Exit.fail({ retryable: false, n: 2 }))
        assert.strictEqual(f.startedAt.length, 2)
        assert.deepStrictEqual(retries, [1])
      })
    )

    it.effect("never retries a ConnectorError whose reason is fatal, retries a transient one", () =>
      Effect.gen(function* () {
        let calls = 0
        const auth = Effect.suspend(() => {
          calls++
          return Effect.fail(ConnectorError.make("pg", "read", new ConnectorError.AuthenticationError({})))
        })
        const exit = yield* drive(RetryPolicy.retry(auth, RetryPolicy.make({ maxAttempts: 5 })))
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual(calls, 1)

        calls = 0
        const reset = Effect.suspend(() => {
          calls++
          return calls < 3
            ? Effect.fail(ConnectorError.make("pg", "read", new ConnectorError.ConnectionError({})))
            : Effect.succeed("ok")
        })
        assert.deepStrictEqual(
          yield* drive(RetryPolicy.retry(reset, RetryPolicy.make({ maxAttempts: 5 }))),
          Exit.succeed("ok")
        )
        assert.strictEqual(calls, 3)
      })
    )

    it.effect("a defect is not retried", () =>
      Effect.gen(function* () {
        let calls = 0
        const dies = Effect.suspend(() => {
          calls++
          return Effect.die(new Error("bug"))
        })
        const exit = yield* drive(RetryPolicy.retry(dies, RetryPolicy.make({ maxAttempts: 5 })))
        assert.isTrue(Exit.isFailure(exit))
        assert.strictEqual(calls, 1)
      })
    )

    it.effect("stops at maxAttempts with the last error", () =>
      Effect.gen(function* () {
        const f = flaky((n) => ({ retryable: true, n }))
        const exit = yield* drive(RetryPolicy.retry(f.effect, RetryPolicy.make({ maxAttempts: 4 })))
        assert.deepStrictEqual(exit, Exit.fail({ retryable: true, n: 4 }))
        assert.strictEqual(f.startedAt.length, 4)
        const once = flaky((n) => ({ retryable: true, n }))
        yield* drive(RetryPolicy.retry(once.effect, RetryPolicy.none))
        assert.strictEqual(once.startedAt.length, 1)
      })
    )

    it.effect("waits on the clock: nothing happens before the delay has passed", () =>
      Effect.gen(function* () {
        const f = flaky((n) => (n === 1 ? { retryable: true, n, retryAfterMs: 1000 } : undefined))
        const fiber = yield* Effect.forkChild(RetryPolicy.retry(f.effect, RetryPolicy.defaultPolicy))
        yield* TestClock.adjust(999)
        assert.strictEqual(f.startedAt.length, 1)
        yield* TestClock.adjust(1)
        assert.strictEqual(yield* Fiber.join(fiber), 2)
        assert.deepStrictEqual(f.startedAt, [0, 1000])
      })
    )

    it.effect("onRetry sees attempts 1..n with the delay actually slept and the error", () =>
      Effect.gen(function* () {
        const infos: Array<RetryPolicy.RetryInfo> = []
        const f = flaky((n) => (n <= 5 ? { retryable: true, n } : undefined))
        const exit = yield* drive(
          RetryPolicy.retry(f.effect, RetryPolicy.make({ maxAttempts: 10, initialDelayMs: 100 }), (info) =>
            Effect.sync(() => infos.push(info))
          )
        )
        assert.deepStrictEqual(exit, Exit.succeed(6))
        assert.deepStrictEqual(
          infos.map((i) => i.attempt),
          [1, 2, 3, 4, 5]
        )
        assert.deepStrictEqual(
          infos.map((i) => (i.error as Failure).n),
          [1, 2, 3, 4, 5]
        )
        assert.deepStrictEqual(
          diffs(f.startedAt),
          infos.map((i) => i.delayMs)
        )
      })
    )

    it.effect("full jitter: every delay lies in [0, min(maxDelay, initial*factor^(n-1))] and the range is used", () =>
      Effect.gen(function* () {
        const policy = RetryPolicy.make({
          maxAttempts: 9,
          initialDelayMs: 100,
          factor: 2,
          maxDelayMs: 5000,
          maxElapsedMs: 10 * 60_000
        })
        const byAttempt = new Map<number, Array<number>>()
        for (let seed = 0; seed < 200; seed++) {
          const f = flaky((n) => ({ retryable: true, n }))
          const infos: Array<RetryPolicy.RetryInfo> = []
          yield* drive(
            RetryPolicy.retry(f.effect, policy, (info) => Effect.sync(() => infos.push(info))).pipe(
              Random.withSeed(`retry-${seed}`)
            )
          )
          assert.strictEqual(infos.length, 8)
          assert.deepStrictEqual(
            diffs(f.startedAt),
            infos.map((i) => i.delayMs)
          )
          for (const info of infos) {
            const bound = Math.min(5000, 100 * 2 ** (info.attempt - 1))
            assert.strictEqual(bound, RetryPolicy.boundOf(policy, info.attempt))
            assert.isTrue(Number.isInteger(info.delayMs))
            assert.isAtLeast(info.delayMs, 0)
            assert.isAtMost(info.delayMs, bound)
            byAttempt.set(info.attempt, [...(byAttempt.get(info.attempt) ?? []), info.delayMs])
          }
        }
        // Full jitter (not "equal jitter"): the draws spread over the whole range, from near 0 to near the bound.
        for (const [attempt, delays] of byAttempt) {
          const bound = RetryPolicy.boundOf(policy, attempt)
          assert.isBelow(Math.min(...delays), bound * 0.1, `attempt ${attempt}`)
          assert.isAbove(Math.max(...delays), bound * 0.9, `attempt ${attempt}`)
          const mean = delays.reduce((a, b) => a + b, 0) / delays.length
          assert.isAbove(mean, bound * 0.35, `attempt ${attempt}`)
          assert.isBelow(mean, bound * 0.65, `attempt ${attempt}`)
        }
      })
    )

    it.effect("the same seed gives the same delays", () =>
      Effect.gen(function* () {
        const delaysFor = (seed: string) =>
          Effect.gen(function* () {
            const infos: Array<number> = []
            const f = flaky((n) => ({ retryable: true, n }))
            yield* drive(
              RetryPolicy.retry(f.effect, RetryPolicy.make({ maxAttempts: 5 }), (i) =>
                Effect.sync(() => infos.push(i.delayMs))
              ).pipe(Random.withSeed(seed))
            )
            return infos
          })
        assert.deepStrictEqual(yield* delaysFor("a"), yield* delaysFor("a"))
        assert.notDeepEqual(yield* delaysFor("a"), yield* delaysFor("b"))
      })
    )

    it.effect("retryAfterMs on the error is honoured exactly, even above maxDelayMs", () =>
      Effect.gen(function* () {
        const waits = [1234, 0, 45_000]
        const f = flaky((n) => (n <= waits.length ? { retryable: true, n, retryAfterMs: waits[n - 1]! } : undefined))
        const infos: Array<number> = []
        const exit = yield* drive(
          RetryPolicy.retry(f.effect, RetryPolicy.make({ maxAttempts: 10, maxDelayMs: 2000 }), (i) =>
            Effect.sync(() => infos.push(i.delayMs))
          )
        )
        assert.deepStrictEqual(exit, Exit.succeed(4))
        assert.deepStrictEqual(infos, waits)
        assert.deepStrictEqual(diffs(f.startedAt), waits)
      })
    )

    it.effect("a ConnectorError's Retry-After is honoured", () =>
      Effect.gen(function* () {
        const startedAt: Array<number> = []
        const call = Effect.gen(function* () {
          startedAt.push(yield* Clock.currentTimeMillis)
          if (startedAt.length === 1) {
            return yield* ConnectorError.make("rest", "read", new ConnectorError.RateLimited({ retryAfterMs: 7000 }))
          }
          return "ok"
        })
        assert.deepStrictEqual(yield* drive(RetryPolicy.retry(call, RetryPolicy.defaultPolicy)), Exit.succeed("ok"))
        assert.deepStrictEqual(startedAt, [0, 7000])
      })
    )

    it.effect("an invalid retryAfterMs falls back to the jittered delay", () =>
      Effect.gen(function* () {
        const f = flaky((n) => (n === 1 ? { retryable: true, n, retryAfterMs: -10 } : undefined))
        const infos: Array<number> = []
        yield* drive(
          RetryPolicy.retry(f.effect, RetryPolicy.make({ initialDelayMs: 100 }), (i) =>
            Effect.sync(() => infos.push(i.delayMs))
          )
        )
        assert.strictEqual(infos.length, 1)
        assert.isAtLeast(infos[0]!, 0)
        assert.isAtMost(infos[0]!, 100)
      })
    )

    it.effect("the elapsed budget stops retrying: no retry starts after maxElapsedMs", () =>
      Effect.gen(function* () {
        const f = flaky((n) => ({ retryable: true, n, retryAfterMs: 300 }))
        const exit = yield* drive(
          RetryPolicy.retry(f.effect, RetryPolicy.make({ maxAttempts: 100, maxElapsedMs: 1000 }))
        )
        // 0, 300, 600, 900 — a fifth attempt would start at 1200 > 1000.
        assert.deepStrictEqual(f.startedAt, [0, 300, 600, 900])
        assert.deepStrictEqual(exit, Exit.fail({ retryable: true, n: 4, retryAfterMs: 300 }))
      })
    )

    it.effect("the elapsed budget holds for jittered delays too, whatever the seed", () =>
      Effect.gen(function* () {
        for (let seed = 0; seed < 50; seed++) {
          const f = flaky((n) => ({ retryable: true, n }))
          yield* drive(
            RetryPolicy.retry(
              f.effect,
              RetryPolicy.make({ maxAttempts: 1000, initialDelayMs: 50, maxDelayMs: 400, maxElapsedMs: 2000 })
            ).pipe(Random.withSeed(seed))
          )
          const elapsed = f.startedAt[f.startedAt.length - 1]! - f.startedAt[0]!
          assert.isAtMost(elapsed, 2000)
          assert.isAbove(f.startedAt.length, 4)
        }
      })
    )

    it.effect("a zero budget never retries", () =>
      Effect.gen(function* () {
        const f = flaky((n) => ({ retryable: true, n, retryAfterMs: 1 }))
        yield* drive(RetryPolicy.retry(f.effect, RetryPolicy.make({ maxElapsedMs: 0 })))
        assert.strictEqual(f.startedAt.length, 1)
      })
    )

    it.effect("interrupting the retry stops it during a wait", () =>
      Effect.gen(function* () {
        const f = flaky((n) => ({ retryable: true, n, retryAfterMs: 1000 }))
        const fiber = yield* Effect.forkChild(RetryPolicy.retry(f.effect, RetryPolicy.make({ maxAttempts: 10 })))
        yield* TestClock.adjust(1500)
        yield* Fiber.interrupt(fiber)
        yield* TestClock.adjust("1 hour")
        assert.strictEqual(f.startedAt.length, 2)
      })
    )
  })
})
