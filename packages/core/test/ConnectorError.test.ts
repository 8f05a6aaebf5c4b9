import { ConnectorError as CE, RetryPolicy } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Schema } from "effect"

describe("ConnectorError", () => {
  const cases: ReadonlyArray<readonly [CE.Reason, boolean]> = [
    [new CE.ConnectionError({}), true],
    [new CE.AuthenticationError({}), false],
    [new CE.RateLimited({}), true],
    [new CE.Timeout({}), true],
    [new CE.Contention({}), true],
    [new CE.InvalidRecord({ index: 3 }), false],
    [new CE.NotFound({}), false],
    [new CE.Unknown({}), false],
    [new CE.Unknown({ transient: false }), false],
    [new CE.Unknown({ transient: true }), true]
  ]

  it("retryable comes from the reason", () => {
    for (const [reason, retryable] of cases) {
      const error = CE.make("pg", "read", reason)
      assert.strictEqual(reason.retryable, retryable, reason._tag)
      assert.strictEqual(error.retryable, retryable, reason._tag)
      assert.strictEqual(RetryPolicy.isRetryable(error), retryable, reason._tag)
    }
  })

  it("a message never decides: the same text with another reason is not retryable", () => {
    const a = CE.make("pg", "read", new CE.Timeout({ detail: "connection reset" }))
    const b = CE.make("pg", "read", new CE.AuthenticationError({ detail: "connection reset" }))
    assert.isTrue(a.retryable)
    assert.isFalse(b.retryable)
  })

  it("retryAfterMs only from RateLimited", () => {
    assert.strictEqual(CE.make("rest", "read", new CE.RateLimited({ retryAfterMs: 2000 })).retryAfterMs, 2000)
    assert.isUndefined(CE.make("rest", "read", new CE.RateLimited({})).retryAfterMs)
    assert.isUndefined(CE.make("rest", "read", new CE.Timeout({})).retryAfterMs)
    assert.strictEqual(
      RetryPolicy.retryAfterOf(CE.make("rest", "read", new CE.RateLimited({ retryAfterMs: 1500 }))),
      1500
    )
  })

  it("message names connector, operation, reason and detail", () => {
    const error = CE.make("orders-api", "write", new CE.RateLimited({ detail: "HTTP 429", retryAfterMs: 10 }))
    assert.strictEqual(error.message, "orders-api write failed (RateLimited): HTTP 429")
    assert.strictEqual(CE.make("pg", "check", new CE.NotFound({})).message, "pg check failed (NotFound)")
  })

  it("_tag, instanceof and the guard", () => {
    const error = new CE.ConnectorError({ connector: "csv", operation: "open", reason: new CE.NotFound({}) })
    assert.strictEqual(error._tag, "ConnectorError")
    assert.strictEqual(error.reason._tag, "NotFound")
    assert.instanceOf(error, Error)
    assert.isTrue(CE.isConnectorError(error))
    assert.isFalse(CE.isConnectorError(new Error("x")))
    assert.isFalse(CE.isConnectorError({ _tag: "ConnectorError" }))
  })

  it("is a yieldable error caught by tag", () =>
    Effect.gen(function* () {
      const program = Effect.gen(function* () {
        return yield* CE.make("pg", "read", new CE.Contention({}))
      })
      const caught = yield* program.pipe(
        Effect.catchTag("ConnectorError", (e) => Effect.succeed(`${e.reason._tag}:${e.retryable}`))
      )
      assert.strictEqual(caught, "Contention:true")
      const exit = yield* Effect.exit(program)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.isTrue(Cause.hasFails(exit.cause))
    }).pipe(Effect.runSync))

  it("serialises to JSON with its tag and reason", () => {
    const error = CE.make("rest", "read", new CE.RateLimited({ detail: "slow down", retryAfterMs: 250 }))
    const json = JSON.parse(JSON.stringify(error))
    assert.strictEqual(json._tag, "ConnectorError")
    assert.strictEqual(json.connector, "rest")
    assert.strictEqual(json.operation, "read")
    assert.deepStrictEqual(json.reason, { _tag: "RateLimited", detail: "slow down", retryAfterMs: 250 })
  })

  it("round-trips through its schema (as run history stores it)", () => {
    const codec = Schema.toCodecJson(CE.ConnectorError)
    const error = CE.make("kafka", "commit", new CE.InvalidRecord({ detail: "bad key", index: 7 }))
    const wire = Schema.encodeSync(codec)(error)
    const text = JSON.stringify(wire)
    const back = Schema.decodeUnknownSync(codec)(JSON.parse(text))
    assert.instanceOf(back, CE.ConnectorError)
    assert.instanceOf(back.reason, CE.InvalidRecord)
    assert.strictEqual(back.reason._tag, "InvalidRecord")
    assert.strictEqual(back.message, error.message)
    assert.isFalse(back.retryable)
    if (back.reason._tag === "InvalidRecord") assert.strictEqual(back.reason.index, 7)

    const transient = Schema.decodeUnknownSync(codec)(
      JSON.parse(JSON.stringify(Schema.encodeSync(codec)(CE.make("x", "read", new CE.Unknown({ transient: true })))))
    )
    assert.isTrue(transient.retryable)
  })

  it("keeps the native cause without putting it in the message", () => {
    const native = new Error("password=hunter2 rejected")
    const error = CE.make("pg", "open", new CE.AuthenticationError({ detail: "credentials refused", cause: native }))
    assert.strictEqual(error.reason.cause, native)
    assert.notInclude(error.message, "hunter2")
  })

  it("the Reason schema decodes every reason by tag", () => {
    for (const [reason] of cases) {
      const encoded = Schema.encodeSync(Schema.toCodecJson(CE.Reason))(reason)
      const decoded = Schema.decodeUnknownSync(Schema.toCodecJson(CE.Reason))(encoded)
      assert.strictEqual(decoded._tag, reason._tag)
      assert.strictEqual(decoded.retryable, reason.retryable, reason._tag)
    }
  })

  it("the constructor validates fields", () => {
    assert.throws(() => new CE.InvalidRecord({ index: 1.5 }))
    assert.throws(() => new CE.RateLimited({ retryAfterMs: "soon" as unknown as number }))
  })

  describe("findRule", () => {
    type Rule = { readonly code: string } | { readonly pattern: RegExp }
    type Native = { readonly code?: unknown; readonly message?: unknown }
    const rules: ReadonlyArray<Rule> = [{ pattern: /reset/ }, { code: "ECONNRESET" }, { code: "57P01" }]
    const find = (cause: unknown) =>
      CE.findRule<Rule, Native>(cause, rules, {
        byMessage: (rule) => "pattern" in rule,
        matches: (rule, e) =>
          "code" in rule ? e.code === rule.code : typeof e.message === "string" && rule.pattern.test(e.message)
      })

    it("tries codes on every wrapped error before any message", () => {
      const inner = Object.assign(new Error("terminating connection"), { code: "57P01" })
      const outer = new Error("connection reset by peer", { cause: inner })
      assert.deepStrictEqual(find(outer)?.rule, { code: "57P01" })
      assert.strictEqual(find(outer)?.native, inner)
      assert.deepStrictEqual(find(new Error("socket reset"))?.rule, { pattern: /reset/ })
    })

    it("looks into AggregateError members and the cause chain, four levels deep, cycles included", () => {
      const member = { code: "ECONNRESET" }
      assert.strictEqual(find(new AggregateError([new Error("a"), member], "all failed"))?.native, member)
      let deep: { code?: string; cause?: unknown } = { code: "ECONNRESET" }
      for (let i = 0; i < 4; i++) deep = { cause: deep }
      assert.isDefined(find(deep), "four levels")
      assert.isUndefined(find({ cause: deep }), "not five")
      const cyclic: { cause?: unknown; message: string } = { message: "nothing" }
      cyclic.cause = cyclic
      assert.isUndefined(find(cyclic))
      assert.isUndefined(find("ECONNRESET"), "not an object")
    })
  })
})
