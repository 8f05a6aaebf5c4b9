/**
 * Fault injection for tests: wrap a source or sink so that it fails on chosen calls, transiently (a retryable
 * `ConnectionError`) or fatally (a non-retryable `AuthenticationError`), before or after doing its work. The
 * counters live in the wrapper and span runs, so "fail the 3rd write" means the 3rd write this wrapper sees.
 * Like dlt's dummy destination and Redpanda's chaos output, but for any connector.
 *
 * @since 0.1.0
 */
import { Effect, Stream } from "effect"
import * as ConnectorError from "../ConnectorError.ts"
import type * as Sink from "../Sink.ts"
import type * as Source from "../Source.ts"

/**
 * When and how to fail.
 *
 * @category models
 * @since 0.1.0
 */
export interface Fault {
  /** Which calls fail (1-based): a number, a list, or a predicate. */
  readonly on: number | ReadonlyArray<number> | ((call: number) => boolean)
  /** `transient`: retryable `ConnectionError`; `fatal`: non-retryable `AuthenticationError`. */
  readonly kind: "transient" | "fatal"
  /** `before` the work (nothing happens) or `after` it (the work happened but the caller sees a failure). Default `before`. */
  readonly when?: "before" | "after" | undefined
  /** For transient faults: a `Retry-After` to report, in ms. */
  readonly retryAfterMs?: number | undefined
}

/**
 * A wrapper's call counter, for assertions.
 *
 * @category models
 * @since 0.1.0
 */
export interface Counter {
  /** Calls seen so far. */
  readonly calls: () => number
  /** Faults injected so far. */
  readonly faults: () => number
}

const matches = (fault: Fault, call: number): boolean =>
  typeof fault.on === "number"
    ? call === fault.on
    : typeof fault.on === "function"
      ? fault.on(call)
      : fault.on.includes(call)

/**
 * The error a fault raises.
 *
 * @category constructors
 * @since 0.1.0
 */
export const errorOf = (
  fault: Fault,
  connector: string,
  operation: string,
  call: number
): ConnectorError.ConnectorError =>
  ConnectorError.make(
    connector,
    operation,
    fault.kind === "transient"
      ? fault.retryAfterMs !== undefined
        ? new ConnectorError.RateLimited({ detail: `injected fault on call ${call}`, retryAfterMs: fault.retryAfterMs })
        : new ConnectorError.ConnectionError({ detail: `injected transient fault on call ${call}` })
      : new ConnectorError.AuthenticationError({ detail: `injected fatal fault on call ${call}` })
  )

/**
 * Wraps a source so that pulling its Nth batch (counted over every read of this wrapper) fails. With `after`,
 * the batch is delivered first and the read fails right after it.
 *
 * **Example** (A source whose third batch fails once, transiently)
 *
 * ```ts
 * import { Connectors } from "@data-mcp/core"
 * import { FaultInjection } from "@data-mcp/core/testing"
 *
 * const [flaky, counter] = FaultInjection.source(Connectors.Memory.source([1, 2, 3, 4], { batchSize: 1 }), {
 *   on: 3,
 *   kind: "transient"
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const source = <A, C>(inner: Source.Source<A, C>, fault: Fault): readonly [Source.Source<A, C>, Counter] => {
  let calls = 0
  let faults = 0
  const wrapped: Source.Source<A, C> = {
    ...inner,
    read: (from, context) =>
      inner.read(from, context).pipe(
        Stream.flatMap((batch) => {
          const call = ++calls
          if (!matches(fault, call)) return Stream.succeed(batch)
          faults++
          const error = Stream.fail(errorOf(fault, inner.name, "read", call))
          return fault.when === "after" ? Stream.concat(Stream.succeed(batch), error) : error
        })
      )
  }
  return [wrapped, { calls: () => calls, faults: () => faults }]
}

/**
 * Wraps a sink so that its Nth `write` (counted over every run using this wrapper) fails. With `after`, the
 * batch is written and then the write reports a failure — the case that makes a plain sink deliver twice.
 *
 * @category constructors
 * @since 0.1.0
 */
export const sink = <A>(inner: Sink.Sink<A>, fault: Fault): readonly [Sink.Sink<A>, Counter] => {
  let calls = 0
  let faults = 0
  const wrapped: Sink.Sink<A> = {
    ...inner,
    open: (context) =>
      Effect.map(inner.open(context), (writer) => ({
        ...writer,
        write: (batch, writeContext) =>
          Effect.suspend(() => {
            const call = ++calls
            if (!matches(fault, call)) return writer.write(batch, writeContext)
            faults++
            const error = Effect.fail(errorOf(fault, inner.name, "write", call))
            return fault.when === "after" ? Effect.andThen(writer.write(batch, writeContext), error) : error
          })
      }))
  }
  return [wrapped, { calls: () => calls, faults: () => faults }]
}

/**
 * Wraps a source so that every batch waits `delayMs` before it is delivered (a slow source).
 *
 * @category constructors
 * @since 0.1.0
 */
export const slowSource = <A, C>(inner: Source.Source<A, C>, delayMs: number): Source.Source<A, C> => ({
  ...inner,
  read: (from, context) => inner.read(from, context).pipe(Stream.tap(() => Effect.sleep(delayMs)))
})

/**
 * Wraps a sink so that every write waits `delayMs` first (a slow sink).
 *
 * @category constructors
 * @since 0.1.0
 */
export const slowSink = <A>(inner: Sink.Sink<A>, delayMs: number | (() => number)): Sink.Sink<A> => ({
  ...inner,
  open: (context) =>
    Effect.map(inner.open(context), (writer) => ({
      ...writer,
      write: (batch, writeContext) =>
        Effect.andThen(
          Effect.sleep(typeof delayMs === "number" ? delayMs : delayMs()),
          writer.write(batch, writeContext)
        )
    }))
})
