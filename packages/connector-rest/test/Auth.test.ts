import { RestSource } from "@data-mcp/connector-rest"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Redacted } from "effect"
import * as TestApi from "./server.ts"
import { assertOnce, provide, run } from "./utils.ts"

// Each auth scheme against a loopback API that checks the credentials, and OAuth 2.0 client credentials whose
// token the API revokes mid-run: the source fetches a new one and goes on, every record read once.

const data = TestApi.records(250)

/** The items API, answering 401 unless `authorized(request)`. */
const guarded = (authorized: (request: TestApi.Logged) => boolean) =>
  TestApi.api(
    () => data,
    "offset",
    100,
    (request, res) => !authorized(request) && TestApi.sendJson(res, 401, { error: "unauthorized" })
  )

const source = (url: string, auth: RestSource.Options["auth"]) =>
  RestSource.make({
    baseUrl: url,
    path: "/items",
    records: "data.items",
    pagination: { type: "offset", limit: 100 },
    allowPrivateNetworks: true,
    ...(auth === undefined ? {} : { auth })
  })

describe("authentication", () => {
  it.live("bearer, API key in a header or the query, and Basic", () =>
    provide(
      Effect.gen(function* () {
        const cases: ReadonlyArray<readonly [RestSource.Options["auth"], (r: TestApi.Logged) => boolean]> = [
          [{ type: "bearer", token: Redacted.make("tok-1") }, (r) => r.headers.authorization === "Bearer tok-1"],
          [
            { type: "apiKey", in: "header", name: "X-API-Key", value: Redacted.make("key-1") },
            (r) => r.headers["x-api-key"] === "key-1"
          ],
          [
            { type: "apiKey", in: "query", name: "api_key", value: Redacted.make("key-2") },
            (r) => r.query.get("api_key") === "key-2"
          ],
          [
            { type: "basic", username: "ada", password: Redacted.make("pw-1") },
            (r) => r.headers.authorization === `Basic ${Buffer.from("ada:pw-1").toString("base64")}`
          ]
        ]
        for (const [i, [auth, check]] of cases.entries()) {
          const server = yield* TestApi.serve(guarded(check))
          const { exit, records } = yield* run(source(server.url, auth), `auth_${i}`)
          assert.isTrue(Exit.isSuccess(exit), `case ${i}`)
          assertOnce(250, records)
        }
        const server = yield* TestApi.serve(guarded((r) => r.headers.authorization === "Bearer right"))
        const { exit } = yield* run(source(server.url, { type: "bearer", token: Redacted.make("wrong") }), "auth_bad")
        assert.isTrue(Exit.isFailure(exit))
        assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "AuthenticationError")
        assert.strictEqual(server.log.length, 1, "refused credentials are not retried")
      })
    )
  )

  it.live("OAuth2 client credentials: the token is cached, and fetched again when it expires mid-run", () =>
    provide(
      Effect.gen(function* () {
        let issued = 0
        const valid = new Map<string, number>() // token -> requests it may still make
        const expected = `Basic ${Buffer.from("client-1:secret-1").toString("base64")}`
        const server = yield* TestApi.serve((request, res, n) => {
          if (request.path === "/oauth/token") {
            if (request.method !== "POST" || request.headers.authorization !== expected) {
              return TestApi.sendJson(res, 401, { error: "invalid_client" })
            }
            assert.strictEqual(new URLSearchParams(request.body).get("grant_type"), "client_credentials")
            assert.strictEqual(new URLSearchParams(request.body).get("scope"), "read")
            const token = `access-${++issued}`
            valid.set(token, 2) // the token expires after two pages
            return TestApi.sendJson(res, 200, { access_token: token, token_type: "Bearer", expires_in: 3600 })
          }
          const token = request.headers.authorization?.replace(/^Bearer /, "") ?? ""
          const left = valid.get(token) ?? 0
          if (left <= 0) return TestApi.sendJson(res, 401, { error: "token expired" })
          valid.set(token, left - 1)
          return guarded(() => true)(request, res, n)
        })
        const oauth = source(server.url, {
          type: "oauth2",
          tokenUrl: `${server.url}/oauth/token`,
          clientId: "client-1",
          clientSecret: Redacted.make("secret-1"),
          scope: "read"
        })
        const { exit, records, events } = yield* run(oauth, "auth_oauth")
        assert.isTrue(Exit.isSuccess(exit), String(Exit.isFailure(exit) ? exit.cause : ""))
        assertOnce(250, records)
        // pages 1-2 on token 1, a 401, pages 3 on token 2
        assert.strictEqual(issued, 2)
        const statuses = server.log.map((r) => r.path)
        assert.deepStrictEqual(statuses, ["/oauth/token", "/items", "/items", "/items", "/oauth/token", "/items"])
        assert.isFalse(
          events.some((e) => e._tag === "RetryScheduled"),
          "a refresh is not a retry"
        )
      })
    )
  )

  it.live("OAuth2: refused client credentials fail with AuthenticationError, not retried", () =>
    provide(
      Effect.gen(function* () {
        const server = yield* TestApi.serve((_request, res) => TestApi.sendJson(res, 401, { error: "invalid_client" }))
        const oauth = source(server.url, {
          type: "oauth2",
          tokenUrl: `${server.url}/oauth/token`,
          clientId: "client-1",
          clientSecret: Redacted.make("wrong"),
          credentialsIn: "body"
        })
        const { exit } = yield* run(oauth, "auth_oauth_bad")
        assert.isTrue(Exit.isFailure(exit))
        const text = String(Exit.isFailure(exit) ? exit.cause : "")
        assert.include(text, "AuthenticationError")
        assert.include(text, "check clientId, clientSecret and scope")
        assert.strictEqual(server.log.length, 1)
        assert.strictEqual(new URLSearchParams(server.log[0]!.body).get("client_id"), "client-1")
      })
    )
  )
})
