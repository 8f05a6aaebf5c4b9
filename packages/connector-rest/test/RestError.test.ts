import { RestError } from "@data-mcp/connector-rest"
import { ConnectorError } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"

// Every row of the classification tables, with no server: statuses, socket and undici codes, Retry-After.

describe("RestError", () => {
  it("classifies every status: retryable are 408, 429, 502, 503, 504 only", () => {
    const rows: ReadonlyArray<readonly [number, string, boolean]> = [
      [400, "Unknown", false],
      [401, "AuthenticationError", false],
      [403, "AuthenticationError", false],
      [404, "NotFound", false],
      [405, "Unknown", false],
      [408, "Timeout", true],
      [409, "Unknown", false],
      [422, "Unknown", false],
      [429, "RateLimited", true],
      [500, "Unknown", false],
      [501, "Unknown", false],
      [502, "ConnectionError", true],
      [503, "RateLimited", true],
      [504, "Timeout", true]
    ]
    for (const [status, tag, retryable] of rows) {
      const reason = RestError.classifyStatus(status, "GET /x")
      assert.strictEqual(reason._tag, tag, `HTTP ${status}`)
      assert.strictEqual(reason.retryable, retryable, `HTTP ${status}`)
      assert.include(reason.detail, `GET /x returned HTTP ${status}`)
    }
    const limited = RestError.classifyStatus(429, "GET /x", 1500)
    const error = ConnectorError.make("rest", "read", limited)
    assert.strictEqual(error.retryAfterMs, 1500)
  })

  it("classifies socket and undici errors by code", () => {
    const rows: ReadonlyArray<readonly [string, string, boolean]> = [
      ["UND_ERR_CONNECT_TIMEOUT", "Timeout", true],
      ["UND_ERR_HEADERS_TIMEOUT", "Timeout", true],
      ["UND_ERR_BODY_TIMEOUT", "Timeout", true],
      ["ETIMEDOUT", "Timeout", true],
      ["ECONNRESET", "ConnectionError", true],
      ["ECONNREFUSED", "ConnectionError", true],
      ["EPIPE", "ConnectionError", true],
      ["UND_ERR_SOCKET", "ConnectionError", true],
      ["EAI_AGAIN", "ConnectionError", true],
      ["ENOTFOUND", "Unknown", false],
      ["DATA_MCP_SSRF_REFUSED", "Unknown", false],
      ["SOMETHING_ELSE", "Unknown", false]
    ]
    for (const [code, tag, retryable] of rows) {
      const reason = RestError.classify(Object.assign(new Error("boom"), { code }), "POST /y")
      assert.strictEqual(reason._tag, tag, code)
      assert.strictEqual(reason.retryable, retryable, code)
    }
    // a code nested in `cause` (undici wraps socket errors) is found
    const nested = Object.assign(new Error("fetch failed"), {
      cause: Object.assign(new Error("x"), { code: "ECONNRESET" })
    })
    assert.strictEqual(RestError.classify(nested, "GET /z")._tag, "ConnectionError")
    assert.isTrue(RestError.notSent({ code: "ECONNREFUSED" }))
    assert.isFalse(RestError.notSent({ code: "ECONNRESET" }))
  })

  it("reads Retry-After as seconds or an HTTP-date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z")
    assert.strictEqual(RestError.retryAfterMs("3", now), 3000)
    assert.strictEqual(RestError.retryAfterMs(" 0 ", now), 0)
    assert.strictEqual(RestError.retryAfterMs("Thu, 01 Jan 2026 00:00:05 GMT", now), 5000)
    assert.strictEqual(RestError.retryAfterMs("Wed, 31 Dec 2025 23:59:00 GMT", now), 0)
    assert.strictEqual(RestError.retryAfterMs(["7"], now), 7000)
    assert.isUndefined(RestError.retryAfterMs(undefined, now))
    assert.isUndefined(RestError.retryAfterMs("soon", now))
  })

  it("DeliveryUnknown is not retryable and is recognised under a ConnectorError", () => {
    const cause = new RestError.DeliveryUnknown({ request: "POST /o", records: 3, outcome: "Timeout" })
    assert.isFalse(cause.retryable)
    assert.include(cause.message, "Idempotency-Key")
    const error = ConnectorError.make("rest", "write", new ConnectorError.Unknown({ detail: "x", cause }))
    assert.isTrue(RestError.isDeliveryUnknown(error))
    assert.isFalse(error.retryable)
    assert.isFalse(RestError.isDeliveryUnknown(ConnectorError.make("rest", "write", new ConnectorError.Unknown({}))))
  })
})
