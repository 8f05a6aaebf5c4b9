/**
 * How the REST connector classifies failures into `ConnectorError` reasons, in two ordered tables: one for HTTP
 * statuses and one for socket and undici error codes. Retryable: 408, 429, 502, 503, 504, timeouts and resets;
 * never another 4xx. `Retry-After` (seconds or an HTTP-date) becomes `retryAfterMs`, which the runner honours.
 * A write whose outcome cannot be known (it timed out after the request was sent, without an `Idempotency-Key`)
 * fails with the `DeliveryUnknown` cause rather than be retried into a duplicate. Details name the method, the
 * URL's path and the status; never a query string, a header or a body, so no secret or record value leaks.
 *
 * @since 0.1.0
 */
import { ConnectorError } from "@data-mcp/core"
import { Schema } from "effect"

/**
 * A write may or may not have been applied: the request was sent but no answer came (a timeout, a reset, a 502
 * or 504), and it carried no `Idempotency-Key`, so repeating it could write the records twice. Core's
 * `ConnectorError` has no such reason, so a sink fails with reason `Unknown` (not retryable) whose `cause` is
 * this error; `isDeliveryUnknown` recognises it.
 *
 * @category errors
 * @since 0.1.0
 */
export class DeliveryUnknown extends Schema.TaggedError<DeliveryUnknown>("@data-mcp/connector-rest/DeliveryUnknown")(
  "DeliveryUnknown",
  {
    /** `POST /orders`: the method and the URL's path. */
    request: Schema.String,
    /** How many records the request carried. */
    records: Schema.Int,
    /** What happened to the request (`Timeout`, `ConnectionError`, `HTTP 504`). */
    outcome: Schema.String
  }
) {
  /** Never retried: a retry could duplicate the write. */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `${this.request}: delivery of ${this.records} record(s) unknown after ${this.outcome}; not retried because the request had no Idempotency-Key (enable idempotencyKey if the API supports it)`
  }
}

/**
 * Whether a sink error is a `DeliveryUnknown` (directly or as the cause of a `ConnectorError`).
 *
 * @category guards
 * @since 0.1.0
 */
export const isDeliveryUnknown = (u: unknown): boolean =>
  u instanceof DeliveryUnknown ||
  (ConnectorError.isConnectorError(u) && u.reason._tag === "Unknown" && u.reason.cause instanceof DeliveryUnknown)

/**
 * The wait a `Retry-After` header asks for, in ms: delta-seconds or an HTTP-date (relative to `now`); `undefined`
 * when absent or unreadable. A date in the past is 0.
 *
 * **Example** (Both forms)
 *
 * ```ts
 * import { RestError } from "@data-mcp/connector-rest"
 *
 * RestError.retryAfterMs("2") // 2000
 * RestError.retryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", Date.parse("2015-10-21T07:27:58Z")) // 2000
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const retryAfterMs = (
  header: string | ReadonlyArray<string> | undefined,
  now = Date.now()
): number | undefined => {
  const value = (Array.isArray(header) ? header[0] : header) as string | undefined
  if (value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/**
 * The reason for an HTTP status that is not a success, in this order: 401/403 authentication; 404 not found;
 * 408 timeout; 429 rate limited; 502 connection error; 503 rate limited; 504 timeout; any other status (other
 * 4xx, 500, …) `Unknown`, not retryable.
 *
 * @category error handling
 * @since 0.1.0
 */
export const classifyStatus = (
  status: number,
  request: string,
  retryAfter?: number | undefined
): ConnectorError.Reason => {
  const detail = `${request} returned HTTP ${status}`
  const wait = retryAfter === undefined ? {} : { retryAfterMs: retryAfter }
  switch (status) {
    case 401:
    case 403:
      return new ConnectorError.AuthenticationError({ detail: `${detail}: check the credentials and their scopes` })
    case 404:
      return new ConnectorError.NotFound({ detail: `${detail}: check baseUrl and path` })
    case 408:
      return new ConnectorError.Timeout({ detail })
    case 429:
      return new ConnectorError.RateLimited({ detail, ...wait })
    case 502:
      return new ConnectorError.ConnectionError({ detail })
    case 503:
      return new ConnectorError.RateLimited({ detail, ...wait })
    case 504:
      return new ConnectorError.Timeout({ detail })
    default:
      return new ConnectorError.Unknown({ detail })
  }
}

const TIMEOUT_CODES = new Set([
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "ETIMEDOUT"
])
const CONNECTION_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED"
])
/** Codes that mean the request never left this process: retrying cannot duplicate a write. */
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "UND_ERR_CONNECT_TIMEOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"])

const codeOf = (cause: unknown): string | undefined => {
  for (let e = cause, depth = 0; typeof e === "object" && e !== null && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === "string") return code
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * Whether a failed request certainly never reached the server (refused or timed out while connecting).
 *
 * @category guards
 * @since 0.1.0
 */
export const notSent = (cause: unknown): boolean => NOT_SENT_CODES.has(codeOf(cause) ?? "")

/**
 * The reason for an error thrown while sending a request or reading its response, by code: timeouts, resets
 * and refused connections are retryable; an address refused by the SSRF guard and an unknown host are not.
 *
 * @category error handling
 * @since 0.1.0
 */
export const classify = (cause: unknown, request: string): ConnectorError.Reason => {
  const code = codeOf(cause)
  if (code === "DATA_MCP_SSRF_REFUSED") {
    const detail = (cause as { detail?: string }).detail ?? "a private address"
    return new ConnectorError.Unknown({
      detail: `${request}: refused to connect: ${detail} (set allowPrivateNetworks or allowHosts to allow it)`,
      cause
    })
  }
  if (code !== undefined && TIMEOUT_CODES.has(code))
    return new ConnectorError.Timeout({ detail: `${request}: ${code}`, cause })
  if (code !== undefined && CONNECTION_CODES.has(code))
    return new ConnectorError.ConnectionError({ detail: `${request}: ${code}`, cause })
  if (code === "ENOTFOUND") return new ConnectorError.Unknown({ detail: `${request}: host not found`, cause })
  return new ConnectorError.Unknown({ detail: `${request}: ${code ?? "request failed"}`, cause })
}

/**
 * A `ConnectorError` of the `rest` connector (or a named instance) from a reason.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  connector: string,
  operation: string,
  reason: ConnectorError.Reason
): ConnectorError.ConnectorError => ConnectorError.make(connector, operation, reason)
