/**
 * A token bucket that paces calls to one connector instance: it holds up to `burst` tokens and refills at
 * `perSecond`. Taking more tokens than are there waits (it never fails), so a sink or source shares its rate
 * across every run that uses the same instance. Time comes from Effect's `Clock`, so tests drive it with
 * `TestClock`. (Hand-written: a bucket is a dozen lines, and effect's persistence-backed `RateLimiter` needs
 * a store service this in-process case does not.)
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"

/**
 * The rate: `perSecond` tokens refilled each second, at most `burst` (default: one second's worth) banked.
 *
 * @category models
 * @since 0.1.0
 */
export interface Rate {
  readonly perSecond: number
  readonly burst?: number | undefined
}

/**
 * A token bucket.
 *
 * @category models
 * @since 0.1.0
 */
export interface RateLimiter {
  readonly rate: Rate
  /** Takes `n` tokens (default 1), waiting until they are available. `n` must be finite and >= 0 (else a defect). */
  readonly take: (n?: number) => Effect.Effect<void>
}

/**
 * Makes a token bucket, full at first.
 *
 * **Example** (At most 100 records a second)
 *
 * ```ts
 * import { RateLimiter } from "@data-mcp/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const limiter = RateLimiter.make({ perSecond: 100 })
 *   yield* limiter.take(50)
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (rate: Rate): RateLimiter => {
  if (!(rate.perSecond > 0)) throw new RangeError("RateLimiter perSecond must be > 0")
  const burst = rate.burst ?? rate.perSecond
  if (!(burst > 0)) throw new RangeError("RateLimiter burst must be > 0")
  let tokens = burst
  let last: number | undefined
  return {
    rate,
    take: (n = 1) =>
      // A NaN or infinite count would poison the shared bucket for every later caller: refuse it as a defect.
      !(n >= 0 && Number.isFinite(n))
        ? Effect.die(new RangeError(`RateLimiter.take needs a finite number of tokens >= 0, got ${n}`))
        : Effect.flatMap(Clock.currentTimeMillis, (now) => {
            tokens = Math.min(burst, tokens + ((now - (last ?? now)) / 1000) * rate.perSecond)
            last = now
            tokens -= n // a reservation: later callers queue behind this one
            return tokens >= 0 ? Effect.void : Effect.sleep(Math.ceil((-tokens / rate.perSecond) * 1000))
          })
  }
}
