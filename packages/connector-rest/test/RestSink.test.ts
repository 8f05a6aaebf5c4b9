import { RestError, RestSink } from "@data-mcp/connector-rest"
import { Memory } from "@data-mcp/core"
import { FaultInjection } from "@data-mcp/core/testing"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option } from "effect"
import * as TestApi from "./server.ts"
import { assertOnce, provide, run } from "./utils.ts"

// Writes to a loopback API that applies each Idempotency-Key once (as Stripe-style APIs do): a retried batch
// sends the same keys, so it is harmless; without keys, a write with no answer fails with DeliveryUnknown.

type Fault = (request: TestApi.Logged, res: Parameters<TestApi.Handler>[1], n: number, apply: () => void) => boolean

/** An ingest API storing what it receives; `fault` may answer first (after applying the write, or not). */
const ingest = (fault?: Fault) => {
  const stored: Array<unknown> = []
  const seen = new Set<string>()
  const handler: TestApi.Handler = (request, res, n) => {
    const key = request.headers["idempotency-key"] as string | undefined
    const apply = () => {
      if (key !== undefined && seen.has(key)) return
      if (key !== undefined) seen.add(key)
      const body = JSON.parse(request.body) as unknown
      const list = Array.isArray(body)
        ? body
        : "records" in (body as object)
          ? (body as { records: Array<unknown> }).records
          : [body]
      stored.push(...list)
    }
    if (fault?.(request, res, n, apply)) return
    apply()
    TestApi.sendJson(res, 201, { ok: true })
  }
  return { stored, handler }
}

const sink = (url: string, extra: Partial<RestSink.Options> = {}) =>
  RestSink.make({ baseUrl: url, path: "/ingest", allowPrivateNetworks: true, batchSize: 25, ...extra })

const records = TestApi.records(200)

describe("RestSink over loopback", () => {
  it.live("posts batches as arrays, wrapped, or one record per request", () =>
    provide(
      Effect.gen(function* () {
        const a = ingest()
        const arrays = yield* TestApi.serve(a.handler)
        const r1 = yield* run(Memory.source(records, { batchSize: 50 }), "sink_arrays", sink(arrays.url))
        assert.isTrue(Exit.isSuccess(r1.exit))
        assertOnce(200, a.stored)
        assert.strictEqual(arrays.log.length, 8)
        assert.isTrue(Array.isArray(JSON.parse(arrays.log[0]!.body)))
        const b = ingest()
        const wrapped = yield* TestApi.serve(b.handler)
        const r2 = yield* run(
          Memory.source(records),
          "sink_wrapped",
          sink(wrapped.url, { wrap: "records", method: "PUT" })
        )
        assert.isTrue(Exit.isSuccess(r2.exit))
        assertOnce(200, b.stored)
        assert.strictEqual(wrapped.log[0]!.method, "PUT")
        const c = ingest()
        const single = yield* TestApi.serve(c.handler)
        const few = records.slice(0, 7)
        const one = RestSink.make({ baseUrl: single.url, path: "/ingest", allowPrivateNetworks: true })
        const r3 = yield* run(Memory.source(few), "sink_single", one)
        assert.isTrue(Exit.isSuccess(r3.exit))
        assert.strictEqual(single.log.length, 7)
        assert.deepStrictEqual(JSON.parse(single.log[0]!.body), few[0])
      })
    )
  )

  it.live("a batch retried after a 504 or a reset sends the same Idempotency-Keys: written once", () =>
    provide(
      Effect.gen(function* () {
        const api = ingest((_request, res, n, apply) => {
          if (n !== 3 && n !== 6) return false
          apply()
          return n === 3 ? TestApi.sendJson(res, 504, {}) : TestApi.reset(res)
        })
        const server = yield* TestApi.serve(api.handler)
        const { exit, events } = yield* run(Memory.source(records, { batchSize: 50 }), "sink_retry", sink(server.url))
        assert.isTrue(Exit.isSuccess(exit), String(Exit.isFailure(exit) ? exit.cause : ""))
        assertOnce(200, api.stored)
        assert.strictEqual(events.filter((e) => e._tag === "RetryScheduled").length, 2)
        const keys = server.log.map((r) => r.headers["idempotency-key"])
        assert.isTrue(keys.every((k) => typeof k === "string" && k.startsWith("dm-")))
        assert.isBelow(new Set(keys).size, keys.length, "the retried requests repeated their keys")
        assert.strictEqual(new Set(keys).size, 8)
      })
    )
  )

  it.live("a re-run after a failed run re-sends the unconfirmed batch with the same keys", () =>
    provide(
      Effect.gen(function* () {
        const api = ingest()
        const server = yield* TestApi.serve(api.handler)
        const target = sink(server.url)
        const source = Memory.source(records, { batchSize: 50 })
        // the third write reaches the API, then the run fails before its checkpoint is saved
        const [failing] = FaultInjection.sink(target, { on: 3, kind: "fatal", when: "after" })
        const first = yield* run(source, "sink_rerun", failing, 50)
        assert.isTrue(Exit.isFailure(first.exit))
        const second = yield* run(source, "sink_rerun", target, 50)
        assert.isTrue(Exit.isSuccess(second.exit), String(Exit.isFailure(second.exit) ? second.exit.cause : ""))
        assertOnce(200, api.stored)
        assert.isAbove(server.log.length, 8, "the unconfirmed batch was sent again")
      })
    )
  )

  it.live(
    "without Idempotency-Key, a write that times out, is reset or gets a 504 fails with DeliveryUnknown, not retried",
    () =>
      provide(
        Effect.gen(function* () {
          for (const [name, fault] of [
            ["timeout", (_r: TestApi.Logged, _res: unknown, n: number) => n === 2],
            [
              "gateway",
              (_r: TestApi.Logged, res: Parameters<TestApi.Handler>[1], n: number) =>
                n === 2 && TestApi.sendJson(res, 504, {})
            ],
            [
              "reset",
              (_r: TestApi.Logged, res: Parameters<TestApi.Handler>[1], n: number) => n === 2 && TestApi.reset(res)
            ]
          ] as const) {
            const api = ingest(fault as Fault)
            const server = yield* TestApi.serve(api.handler)
            const { exit, events } = yield* run(
              Memory.source(records, { batchSize: 50 }),
              `sink_unknown_${name}`,
              sink(server.url, { idempotencyKey: false, timeoutMs: 300 }),
              50
            )
            assert.isTrue(Exit.isFailure(exit))
            const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined
            assert.isTrue(RestError.isDeliveryUnknown(error), String(error))
            assert.include(String(error), "delivery unknown")
            const unanswered = server.log[1]!.body
            assert.strictEqual(server.log.filter((r) => r.body === unanswered).length, 1, "not retried")
            assert.isFalse(events.some((e) => e._tag === "RetryScheduled"))
            assert.isUndefined(server.log[0]!.headers["idempotency-key"])
          }
          // a 503 means the API did not take the write: retried even without a key
          const api = ingest((_r, res, n) => n === 2 && TestApi.sendJson(res, 503, {}))
          const server = yield* TestApi.serve(api.handler)
          const { exit } = yield* run(
            Memory.source(records, { batchSize: 50 }),
            "sink_503",
            sink(server.url, { idempotencyKey: false, batchSize: 50 }),
            50
          )
          assert.isTrue(Exit.isSuccess(exit))
          assertOnce(200, api.stored)
        })
      )
  )

  it.live("one record per request: a record refused with 422 becomes a dead letter", () =>
    provide(
      Effect.gen(function* () {
        const api = ingest(
          (request, res) => request.body.includes('"r3"') && TestApi.sendJson(res, 422, { error: "bad" })
        )
        const server = yield* TestApi.serve(api.handler)
        const target = RestSink.make({ baseUrl: server.url, path: "/ingest", allowPrivateNetworks: true })
        const { exit } = yield* run(Memory.source(records.slice(0, 10)), "sink_reject", target)
        assert.isTrue(Exit.isSuccess(exit))
        assert.strictEqual(Exit.isSuccess(exit) ? exit.value.deadLetters : -1, 1)
        assertOnce(9, api.stored)
      })
    )
  )

  it.live(
    "a batch refused with 422: the write fails, or with onBatchRejected split, the bad record is dead-lettered",
    () =>
      provide(
        Effect.gen(function* () {
          // an atomic batch API: a request holding r7 is refused whole
          const api = ingest(
            (request, res) => request.body.includes('"r7"') && TestApi.sendJson(res, 422, { error: "bad" })
          )
          const server = yield* TestApi.serve(api.handler)
          const failing = yield* run(
            Memory.source(records.slice(0, 30)),
            "sink_batch_fail",
            sink(server.url, { batchSize: 10 })
          )
          assert.isTrue(Exit.isFailure(failing.exit))
          assert.include(String(Exit.isFailure(failing.exit) ? failing.exit.cause : ""), "HTTP 422")
          api.stored.length = 0
          const split = yield* run(
            Memory.source(records.slice(0, 30)),
            "sink_batch_split",
            sink(server.url, { batchSize: 10, onBatchRejected: "split" })
          )
          assert.isTrue(Exit.isSuccess(split.exit), String(Exit.isFailure(split.exit) ? split.exit.cause : ""))
          assert.strictEqual(Exit.isSuccess(split.exit) ? split.exit.value.deadLetters : -1, 1)
          assertOnce(29, api.stored)
          // the split requests carry keys of their own, distinct from the refused batch's
          const keys = server.log.map((r) => r.headers["idempotency-key"])
          assert.strictEqual(new Set(keys).size, keys.length)
        })
      )
  )
})
