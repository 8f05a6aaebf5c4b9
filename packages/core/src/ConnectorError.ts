/**
 * `ConnectorError` is the one error every source and sink fails with. It names the connector and the
 * operation, and carries a `reason` that tells the causes worth telling apart: a lost connection, bad
 * credentials, throttling, a timeout, contention, a bad record. Whether the runner retries is decided by
 * `retryable`, which comes from the reason — never from a message string. Each connector maps its driver's
 * native errors to a reason in one `classify` function and keeps the native error as `cause`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

const reasonFields = {
  /** What happened, in words that say what to fix. Never holds a secret or a record value. */
  detail: Schema.optionalKey(Schema.String),
  /** The native error, kept for logs and debugging. */
  cause: Schema.optionalKey(Schema.Defect())
}

/**
 * The connection failed or was reset (retryable).
 *
 * @category reasons
 * @since 0.1.0
 */
export class ConnectionError extends Schema.TaggedClass<ConnectionError>("@data-mcp/core/ConnectionError")(
  "ConnectionError",
  reasonFields
) {
  get retryable(): boolean {
    return true
  }
}

/**
 * The credentials were refused (not retryable).
 *
 * @category reasons
 * @since 0.1.0
 */
export class AuthenticationError extends Schema.TaggedClass<AuthenticationError>("@data-mcp/core/AuthenticationError")(
  "AuthenticationError",
  reasonFields
) {
  get retryable(): boolean {
    return false
  }
}

/**
 * The service throttled the call (HTTP 429/503, throttling exceptions); retried after `retryAfterMs` when the
 * service said how long to wait.
 *
 * @category reasons
 * @since 0.1.0
 */
export class RateLimited extends Schema.TaggedClass<RateLimited>("@data-mcp/core/RateLimited")("RateLimited", {
  ...reasonFields,
  retryAfterMs: Schema.optionalKey(Schema.Number)
}) {
  get retryable(): boolean {
    return true
  }
}

/**
 * The operation timed out (retryable).
 *
 * @category reasons
 * @since 0.1.0
 */
export class Timeout extends Schema.TaggedClass<Timeout>("@data-mcp/core/Timeout")("Timeout", reasonFields) {
  get retryable(): boolean {
    return true
  }
}

/**
 * A deadlock, serialization failure, lock timeout or consumer-group rebalance (retryable).
 *
 * @category reasons
 * @since 0.1.0
 */
export class Contention extends Schema.TaggedClass<Contention>("@data-mcp/core/Contention")(
  "Contention",
  reasonFields
) {
  get retryable(): boolean {
    return true
  }
}

/**
 * One record cannot be written or read (a constraint violation, a value out of range). The runner turns it
 * into a dead letter rather than failing the run.
 *
 * @category reasons
 * @since 0.1.0
 */
export class InvalidRecord extends Schema.TaggedClass<InvalidRecord>("@data-mcp/core/InvalidRecord")("InvalidRecord", {
  ...reasonFields,
  index: Schema.optionalKey(Schema.Int)
}) {
  get retryable(): boolean {
    return false
  }
}

/**
 * The target (table, bucket, topic, file) does not exist (not retryable).
 *
 * @category reasons
 * @since 0.1.0
 */
export class NotFound extends Schema.TaggedClass<NotFound>("@data-mcp/core/NotFound")("NotFound", reasonFields) {
  get retryable(): boolean {
    return false
  }
}

/**
 * Anything else. Not retryable unless the connector says so.
 *
 * @category reasons
 * @since 0.1.0
 */
export class Unknown extends Schema.TaggedClass<Unknown>("@data-mcp/core/Unknown")("Unknown", {
  ...reasonFields,
  transient: Schema.optionalKey(Schema.Boolean)
}) {
  get retryable(): boolean {
    return this.transient === true
  }
}

/**
 * Every reason a connector can fail for.
 *
 * @category models
 * @since 0.1.0
 */
export type Reason =
  | ConnectionError
  | AuthenticationError
  | RateLimited
  | Timeout
  | Contention
  | InvalidRecord
  | NotFound
  | Unknown

/**
 * The schema of `Reason`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Reason = Schema.Union([
  ConnectionError,
  AuthenticationError,
  RateLimited,
  Timeout,
  Contention,
  InvalidRecord,
  NotFound,
  Unknown
])

/**
 * A source or sink failed. `retryable` comes from the reason.
 *
 * **Example** (Failing a read with a retryable reason)
 *
 * ```ts
 * import { ConnectorError } from "@data-mcp/core"
 *
 * const error = new ConnectorError.ConnectorError({
 *   connector: "rest",
 *   operation: "read",
 *   reason: new ConnectorError.RateLimited({ retryAfterMs: 2000 })
 * })
 * error.retryable // true
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ConnectorError extends Schema.TaggedError<ConnectorError>("@data-mcp/core/ConnectorError")(
  "ConnectorError",
  {
    /** The connector kind or instance name (`postgres`, `csv`, `orders-api`). */
    connector: Schema.String,
    /** The operation that failed (`read`, `write`, `commit`, `check`, `discover`, `open`). */
    operation: Schema.String,
    reason: Reason
  }
) {
  /** Whether retrying the same operation may succeed. */
  get retryable(): boolean {
    return this.reason.retryable
  }

  /** How long the service asked us to wait before retrying, if it said. */
  get retryAfterMs(): number | undefined {
    return this.reason._tag === "RateLimited" ? this.reason.retryAfterMs : undefined
  }

  override get message(): string {
    const detail = this.reason.detail === undefined ? "" : `: ${this.reason.detail}`
    return `${this.connector} ${this.operation} failed (${this.reason._tag})${detail}`
  }
}

/**
 * Whether a value is a `ConnectorError`.
 *
 * @category guards
 * @since 0.1.0
 */
export const isConnectorError = (u: unknown): u is ConnectorError => u instanceof ConnectorError

/**
 * Makes a `ConnectorError` in one call.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (connector: string, operation: string, reason: Reason): ConnectorError =>
  new ConnectorError({ connector, operation, reason })

/**
 * Finds the first rule of a connector's error table that matches a driver error or an error it wraps (the errors
 * of an `AggregateError`, then the `cause` chain, four levels deep). Rules for which `byMessage` is true are tried
 * only after every other rule failed on every wrapped error: a code is more specific than a message.
 *
 * **Example** (A two-row table)
 *
 * ```ts
 * import { ConnectorError } from "@data-mcp/core"
 *
 * const rules = [{ code: "ECONNRESET" }, { pattern: /timeout/ }]
 * ConnectorError.findRule(new Error("x", { cause: { code: "ECONNRESET" } }), rules, {
 *   byMessage: (rule) => "pattern" in rule,
 *   matches: (rule, error: { code?: unknown; message?: unknown }) =>
 *     "code" in rule ? error.code === rule.code : typeof error.message === "string" && rule.pattern.test(error.message)
 * })
 * // { rule: { code: "ECONNRESET" }, native: { code: "ECONNRESET" } }
 * ```
 *
 * @category classification
 * @since 0.1.0
 */
export const findRule = <R, N extends object = Record<string, unknown>>(
  cause: unknown,
  rules: ReadonlyArray<R>,
  options: { readonly byMessage: (rule: R) => boolean; readonly matches: (rule: R, error: N) => boolean }
): { readonly rule: R; readonly native: N } | undefined => {
  const all: Array<N> = []
  const visit = (u: unknown, depth: number) => {
    if (typeof u !== "object" || u === null || depth > 4 || all.includes(u as N)) return
    all.push(u as N)
    const wrapper = u as { readonly errors?: unknown; readonly cause?: unknown }
    if (Array.isArray(wrapper.errors)) for (const e of wrapper.errors) visit(e, depth + 1)
    visit(wrapper.cause, depth + 1)
  }
  visit(cause, 0)
  for (const messages of [false, true]) {
    for (const native of all) {
      for (const rule of rules) {
        if (options.byMessage(rule) !== messages) continue
        if (options.matches(rule, native)) return { rule, native }
      }
    }
  }
  return undefined
}
