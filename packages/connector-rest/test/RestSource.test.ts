import { RestSource } from "@data-mcp/connector-rest"
import { Memory } from "@data-mcp/core"
import { FaultInjection } from "@data-mcp/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as TestApi from "./server.ts"
import { assertOnce, provide, run } from "./utils.ts"

const ids = (records: ReadonlyArray<unknown>) => records.map((r) => (r as { id: string }).id)

// Reads from a real loopback HTTP server through undici. The runner does the retries, so Retry-After is proved
// by the delay of its RetryScheduled events, and exactly-once by the record ids the sink received.

const sourceFor = (
  url: string,
  strategy: TestApi.Strategy,
  extra: Partial<Parameters<typeof RestSource.make>[0]> = {}
) =>
  RestSource.make({
    baseUrl: url,
    path: "/items",
    records: "data.items",
    pagination: TestApi.pagination(strategy, 100),
    allowPrivateNetworks: true,
    ...extra
  })

describe("RestSource over loopback", () => {
  const strategies: ReadonlyArray<TestApi.Strategy> = ["page", "pageTotal", "offset", "cursor", "nextUrl", "link"]
  for (const strategy of strategies) {
    it.live(`paginates by ${strategy}: all records once, resumable after a failure`, () =>
      provide(
        Effect.gen(function* () {
          const data = TestApi.records(1000)
          const server = yield* TestApi.serve(TestApi.api(() => data, strategy, 100))
          const source = sourceFor(server.url, strategy)
          const sink = Memory.sink<unknown>({ transactional: true })
          const [failing] = FaultInjection.source(source, { on: 4, kind: "fatal", when: "after" })
          const first = yield* run(failing, `p_${strategy.toLowerCase()}`, sink)
          assert.isTrue(Exit.isFailure(first.exit))
          const partial = sink.records().length
          assert.isAbove(partial, 0)
          assert.isBelow(partial, 1000)
          const second = yield* run(source, `p_${strategy.toLowerCase()}`, sink)
          assert.isTrue(Exit.isSuccess(second.exit))
          const summary = Exit.isSuccess(second.exit) ? second.exit.value : undefined
          assert.notStrictEqual(summary?.checkpointFrom, null, "the second run resumes from a checkpoint")
          assert.strictEqual(summary?.recordsRead, 1000 - partial)
          assertOnce(1000, sink.records())
          // a finished full read stays finished
          const requests = server.log.length
          const third = yield* run(source, `p_${strategy.toLowerCase()}`, sink)
          assert.strictEqual(Exit.isSuccess(third.exit) ? third.exit.value.recordsRead : -1, 0)
          assert.strictEqual(server.log.length, requests)
        })
      )
    )
  }

  it.live("reads a single unpaginated response", () =>
    provide(
      Effect.gen(function* () {
        const data = TestApi.records(42)
        const server = yield* TestApi.serve(TestApi.api(() => data, "none", 0))
        const { exit, records } = yield* run(sourceFor(server.url, "none"), "p_none")
        assert.isTrue(Exit.isSuccess(exit))
        assertOnce(42, records)
        assert.strictEqual(server.log.length, 1)
      })
    )
  )

  it.live("honours Retry-After in seconds and as an HTTP-date on 429 and 503", () =>
    provide(
      Effect.gen(function* () {
        const data = TestApi.records(500)
        const server = yield* TestApi.serve(
          TestApi.api(
            () => data,
            "offset",
            100,
            (_req, res, n) => {
              if (n === 2) {
                TestApi.sendJson(res, 429, { error: "slow down" }, { "retry-after": "1" })
                return true
              }
              if (n === 5) {
                const at = new Date(Math.ceil((Date.now() + 1500) / 1000) * 1000).toUTCString()
                TestApi.sendJson(res, 503, { error: "busy" }, { "retry-after": at })
                return true
              }
              return false
            }
          )
        )
        const { exit, records, events } = yield* run(sourceFor(server.url, "offset"), "p_retry_after")
        assert.isTrue(Exit.isSuccess(exit))
        assertOnce(500, records)
        const delays = events.flatMap((e) => (e._tag === "RetryScheduled" ? [e.delayMs] : []))
        assert.strictEqual(delays.length, 2)
        // the policy's own delays are at most 5 ms here: these come from the server
        assert.strictEqual(delays[0], 1000)
        assert.isAbove(delays[1]!, 400)
        assert.isAtMost(delays[1]!, 2500)
        // the throttled requests were repeated at the same offset
        assert.strictEqual(server.log[1]!.query.get("offset"), server.log[2]!.query.get("offset"))
      })
    )
  )

  it.live("retries 502, 503, 504, resets and timeouts; all records once", () =>
    provide(
      Effect.gen(function* () {
        const data = TestApi.records(700)
        const server = yield* TestApi.serve(
          TestApi.api(
            () => data,
            "cursor",
            100,
            (_req, res, n) => {
              if (n === 2) return TestApi.sendJson(res, 502, {})
              if (n === 4) return TestApi.sendJson(res, 503, {})
              if (n === 6) return TestApi.sendJson(res, 504, {})
              if (n === 8) return TestApi.reset(res)
              if (n === 10) return true // never answers: the request times out
              return false
            }
          )
        )
        const { exit, records, events } = yield* run(sourceFor(server.url, "cursor", { timeoutMs: 300 }), "p_transient")
        assert.isTrue(Exit.isSuccess(exit), String(Exit.isFailure(exit) ? exit.cause : ""))
        assertOnce(700, records)
        const retried = events.flatMap((e) => (e._tag === "RetryScheduled" ? [e.error] : []))
        assert.strictEqual(retried.length, 5)
        assert.match(retried[0]!, /ConnectionError.*HTTP 502/)
        assert.match(retried[1]!, /RateLimited.*HTTP 503/)
        assert.match(retried[2]!, /Timeout.*HTTP 504/)
        assert.match(retried[3]!, /ConnectionError/)
        assert.match(retried[4]!, /Timeout/)
      })
    )
  )

  it.live("never retries a 4xx other than 408 and 429", () =>
    provide(
      Effect.gen(function* () {
        for (const status of [400, 401, 403, 404, 422]) {
          const server = yield* TestApi.serve((_req, res) => TestApi.sendJson(res, status, { error: "no" }))
          const { exit, events } = yield* run(sourceFor(server.url, "offset"), `p_${status}`)
          assert.isTrue(Exit.isFailure(exit))
          assert.strictEqual(server.log.length, 1, `HTTP ${status} is not retried`)
          assert.isFalse(events.some((e) => e._tag === "RetryScheduled"))
        }
        const server = yield* TestApi.serve(
          TestApi.api(
            () => TestApi.records(10),
            "offset",
            100,
            (_req, res, n) => n === 1 && TestApi.sendJson(res, 408, {})
          )
        )
        const { exit } = yield* run(sourceFor(server.url, "offset"), "p_408")
        assert.isTrue(Exit.isSuccess(exit))
        assert.strictEqual(server.log.length, 2)
      })
    )
  )

  it.live("a malformed JSON page is retried; all records once", () =>
    provide(
      Effect.gen(function* () {
        const data = TestApi.records(400)
        const server = yield* TestApi.serve(
          TestApi.api(
            () => data,
            "page",
            100,
            (_req, res, n) => (n === 3 ? TestApi.sendRaw(res, 200, '{"data": {"items": [{"id"') : false)
          )
        )
        const { exit, records, events } = yield* run(sourceFor(server.url, "page"), "p_malformed")
        assert.isTrue(Exit.isSuccess(exit))
        assertOnce(400, records)
        const retried = events.flatMap((e) => (e._tag === "RetryScheduled" ? [e.error] : []))
        assert.strictEqual(retried.length, 1)
        assert.match(retried[0]!, /GET \/items: the response body is not valid JSON/)
      })
    )
  )

  it.live("a body that stays malformed, or has no records array, fails with a clear error", () =>
    provide(
      Effect.gen(function* () {
        const broken = yield* TestApi.serve((_req, res) => res.writeHead(200).end("<html>oops</html>"))
        const first = yield* run(sourceFor(broken.url, "page"), "p_broken")
        assert.isTrue(Exit.isFailure(first.exit))
        assert.include(String(Exit.isFailure(first.exit) ? first.exit.cause : ""), "not valid JSON")
        const shape = yield* TestApi.serve((_req, res) => TestApi.sendJson(res, 200, { data: { items: { id: 1 } } }))
        const second = yield* run(sourceFor(shape.url, "page"), "p_shape")
        assert.isTrue(Exit.isFailure(second.exit))
        assert.include(
          String(Exit.isFailure(second.exit) ? second.exit.cause : ""),
          'expected an array of records at "data.items", found object'
        )
        assert.strictEqual(shape.log.length, 1, "a wrong shape is not retried")
      })
    )
  )

  it.live("records that are not objects become dead letters; the others are written", () =>
    provide(
      Effect.gen(function* () {
        const server = yield* TestApi.serve((_req, res) =>
          TestApi.sendJson(res, 200, { data: { items: [{ id: "a" }, 42, null, { id: "b" }, ["x"]] } })
        )
        const { exit, records } = yield* run(sourceFor(server.url, "none"), "p_dead")
        assert.isTrue(Exit.isSuccess(exit))
        assert.deepStrictEqual(ids(records), ["a", "b"])
        assert.strictEqual(Exit.isSuccess(exit) ? exit.value.deadLetters : -1, 3)
      })
    )
  )

  it.live("refuses a response larger than maxResponseBytes", () =>
    provide(
      Effect.gen(function* () {
        const server = yield* TestApi.serve((_req, res) =>
          TestApi.sendJson(res, 200, { data: { items: TestApi.records(200) } })
        )
        const { exit } = yield* run(sourceFor(server.url, "none", { maxResponseBytes: 1024 }), "p_large")
        assert.isTrue(Exit.isFailure(exit))
        assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "over maxResponseBytes (1024)")
        // with a declared Content-Length the body is refused before it is read
        const body = JSON.stringify({ data: { items: TestApi.records(200) } })
        const declared = yield* TestApi.serve((_req, res) =>
          res
            .writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
            .end(body)
        )
        const second = yield* run(sourceFor(declared.url, "none", { maxResponseBytes: 1024 }), "p_large_declared")
        assert.include(
          String(Exit.isFailure(second.exit) ? second.exit.cause : ""),
          `response body of ${Buffer.byteLength(body)} bytes`
        )
        const fits = yield* run(sourceFor(declared.url, "none"), "p_large_fits")
        assert.strictEqual(fits.records.length, 200)
      })
    )
  )

  it.live("incremental: a run resumed mid-pass keeps the pass's since and moves the mark only at the end", () =>
    provide(
      Effect.gen(function* () {
        const data = TestApi.records(300)
        const server = yield* TestApi.serve(TestApi.api(() => data, "page", 50))
        const source = sourceFor(server.url, "page", {
          pagination: TestApi.pagination("page", 50),
          incremental: { param: "updated_since", field: "updated_at", initial: data[99]!.updated_at }
        })
        const sink = Memory.sink<unknown>({ transactional: true })
        const [failing] = FaultInjection.source(source, { on: 2, kind: "fatal", when: "after" })
        const first = yield* run(failing, "p_incremental_resume", sink)
        assert.isTrue(Exit.isFailure(first.exit))
        const partial = sink.records().length
        assert.isAbove(partial, 0)
        const before = server.log.length
        const second = yield* run(source, "p_incremental_resume", sink)
        assert.isTrue(Exit.isSuccess(second.exit))
        // every request of the pass sent the initial value, the resumed ones too
        for (const request of server.log) assert.strictEqual(request.query.get("updated_since"), data[99]!.updated_at)
        assert.strictEqual(
          server.log[before]!.query.get("page"),
          String(partial / 50 + 1),
          "resumed at the first unwritten page"
        )
        assertOnce(200, sink.records())
        const summary = Exit.isSuccess(second.exit) ? second.exit.value : undefined
        assert.deepStrictEqual(summary?.checkpointTo, { done: true, high: data[299]!.updated_at })
      })
    )
  )

  it.live("incremental: the next run sends the high-water mark and reads only newer records", () =>
    provide(
      Effect.gen(function* () {
        let data = TestApi.records(250)
        const server = yield* TestApi.serve(TestApi.api(() => data, "cursor", 100))
        const source = sourceFor(server.url, "cursor", {
          incremental: { param: "updated_since", field: "updated_at" }
        })
        const sink = Memory.sink<unknown>({ transactional: true })
        const first = yield* run(source, "p_incremental", sink)
        assert.isTrue(Exit.isSuccess(first.exit))
        assert.isNull(server.log[0]!.query.get("updated_since"))
        assertOnce(250, sink.records())
        data = [...data, ...TestApi.records(30, 250)]
        const before = server.log.length
        const second = yield* run(source, "p_incremental", sink)
        assert.isTrue(Exit.isSuccess(second.exit))
        assert.strictEqual(server.log[before]!.query.get("updated_since"), data[249]!.updated_at)
        assert.strictEqual(Exit.isSuccess(second.exit) ? second.exit.value.recordsRead : -1, 30)
        assertOnce(280, sink.records())
      })
    )
  )
})
