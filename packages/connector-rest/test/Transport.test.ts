import { RestSource } from "@data-mcp/connector-rest"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Redacted } from "effect"
import { TestClock } from "effect/testing"
import * as Http from "../src/internal/http.ts"
import * as TestApi from "./server.ts"

// The transport under the source and sink, against a loopback server: the token bucket is per host and paces
// requests on Effect's clock (driven here by TestClock, so no timing is asserted), credentials and API keys do
// not follow a redirect to another origin.

/** Real time passes (sockets need it) while the test clock stands still. */
const settle = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 150)))

describe("transport", () => {
  it.effect("a token bucket per host: a request waits for a token; another host has its own bucket", () =>
    Effect.gen(function* () {
      const server = yield* TestApi.serve((_req, res) => TestApi.sendJson(res, 200, { ok: true }))
      const settings = {
        ...RestSource.settingsOf({ baseUrl: server.url, allowPrivateNetworks: true }),
        rate: { perSecond: 1, burst: 1 }
      }
      const client = yield* Http.open(settings)
      const get = (base: string) => client.send({ method: "GET", url: new URL(`${base}/x`) }, "read")
      const three = yield* Effect.forkChild(
        Effect.forEach([1, 2, 3], () => get(server.url)),
        { startImmediately: true }
      )
      yield* settle
      assert.strictEqual(server.log.length, 1, "the bucket held one token")
      // another host name for the same server: its own bucket, not blocked by the first
      yield* get(`http://localhost:${server.port}`)
      assert.strictEqual(server.log.length, 2)
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(server.log.length, 3)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(three)
      assert.strictEqual(server.log.length, 4)
      assert.deepStrictEqual([...settings.limiters.keys()].sort(), [
        `127.0.0.1:${server.port}`,
        `localhost:${server.port}`
      ])
    })
  )

  it.live("credentials and a query API key do not follow a redirect to another origin", () =>
    Effect.gen(function* () {
      const other = yield* TestApi.serve((_req, res) => TestApi.sendJson(res, 200, { data: { items: [{ id: "x" }] } }))
      const first = yield* TestApi.serve((_req, res) =>
        res.writeHead(307, { location: `http://localhost:${other.port}/moved?api_key=echoed&keep=1` }).end()
      )
      for (const auth of [
        { type: "bearer", token: Redacted.make("tok-redirect") },
        { type: "apiKey", in: "query", name: "api_key", value: Redacted.make("key-redirect") }
      ] as const) {
        const settings = RestSource.settingsOf({ baseUrl: first.url, allowPrivateNetworks: true, auth })
        const client = yield* Http.open(settings)
        const response = yield* client.send({ method: "GET", url: new URL(`${first.url}/items`) }, "read")
        assert.strictEqual(response.status, 200)
      }
      assert.strictEqual(first.log[0]!.headers.authorization, "Bearer tok-redirect")
      assert.strictEqual(first.log[1]!.query.get("api_key"), "key-redirect")
      assert.strictEqual(other.log.length, 2)
      for (const request of other.log) {
        assert.isUndefined(request.headers.authorization)
        assert.strictEqual(request.query.get("keep"), "1")
      }
      // with a query API key configured, the parameter is dropped from a cross-origin location (echoed or not)
      assert.isNull(other.log[1]!.query.get("api_key"))
    })
  )
})
