import { inspect } from "node:util"
import { RestConfig, RestSink, RestSource } from "@data-mcp/connector-rest"
import { Config, Memory, RunStore, type Sink, type Source } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Logger, Redacted } from "effect"
import * as TestApi from "./server.ts"
import { provide, run } from "./utils.ts"

// Tokens, API keys, passwords, client secrets and issued access tokens never appear in an error, a log line, a
// run record, an event, a checkpoint or a printed config — including when the run fails because of them.

const SECRETS = {
  token: "tok-Secret-bearer-1",
  apiKey: "key-Secret-api-2",
  password: "pw-Secret-basic-3",
  clientSecret: "cs-Secret-oauth-4",
  accessToken: "at-Secret-issued-5"
}

/** Runs a failing pipeline with a capturing logger; returns everything a person or an agent could read of it. */
const exposed = (source: Source.Any, name: string, sink?: Sink.Any) =>
  Effect.gen(function* () {
    const logged: Array<string> = []
    const capture = Logger.layer([
      Logger.make((entry) => {
        logged.push(inspect(entry.message, { depth: 20 }), String(entry.cause))
      })
    ])
    const result = yield* run(source, name, sink ?? Memory.sink<unknown>({ transactional: true })).pipe(
      Effect.provide(capture)
    )
    const runs = yield* RunStore.RunStore.use((s) => s.list({ pipeline: name }))
    const cause = Exit.isFailure(result.exit) ? result.exit.cause : undefined
    return {
      failed: Exit.isFailure(result.exit),
      text: [
        String(cause),
        inspect(cause, { depth: 20 }),
        JSON.stringify(runs),
        JSON.stringify(result.events),
        ...logged
      ].join("\n"),
      logged: logged.length
    }
  })

const assertClean = (text: string) => {
  for (const secret of Object.values(SECRETS)) assert.notInclude(text, secret)
}

describe("secrets", () => {
  it("the check catches a leak (control)", () => {
    assert.throws(() => assertClean(`x ${SECRETS.apiKey} y`))
  })

  it("a decoded config never shows a secret", () => {
    for (const auth of [
      { type: "bearer", token: Redacted.make(SECRETS.token) },
      { type: "apiKey", in: "query", name: "api_key", value: Redacted.make(SECRETS.apiKey) },
      { type: "basic", username: "u", password: Redacted.make(SECRETS.password) },
      {
        type: "oauth2",
        tokenUrl: "https://auth.example/token",
        clientId: "c",
        clientSecret: Redacted.make(SECRETS.clientSecret)
      }
    ]) {
      const config = Config.decodeSync("rest source", RestConfig.SourceConfig, { baseUrl: "https://api.example", auth })
      assertClean([String(config), JSON.stringify(config), inspect(config, { depth: 20 })].join("\n"))
    }
  })

  it.live("failed runs with each auth scheme print no secret: errors, logs, run records, events", () =>
    provide(
      Effect.gen(function* () {
        const server = yield* TestApi.serve((request, res) => {
          if (request.path === "/oauth/token") {
            return TestApi.sendJson(res, 200, { access_token: SECRETS.accessToken, expires_in: 3600 })
          }
          // the API refuses everything, echoing nothing secret back (a well-behaved API)
          return TestApi.sendJson(res, request.path === "/items" ? 401 : 500, { error: "no" })
        })
        const base = { baseUrl: server.url, path: "/items", records: "data.items", allowPrivateNetworks: true } as const
        const auths: ReadonlyArray<RestConfig.Auth> = [
          { type: "bearer", token: Redacted.make(SECRETS.token) },
          { type: "apiKey", in: "query", name: "api_key", value: Redacted.make(SECRETS.apiKey) },
          { type: "apiKey", in: "header", name: "X-Key", value: Redacted.make(SECRETS.apiKey) },
          { type: "basic", username: "u", password: Redacted.make(SECRETS.password) },
          {
            type: "oauth2",
            tokenUrl: `${server.url}/oauth/token`,
            clientId: "c",
            clientSecret: Redacted.make(SECRETS.clientSecret)
          }
        ]
        for (const [i, auth] of auths.entries()) {
          const result = yield* exposed(RestSource.make({ ...base, auth }), `secrets_source_${i}`)
          assert.isTrue(result.failed)
          assert.isAbove(result.logged, 0)
          assertClean(result.text)
          const sink = RestSink.make({ baseUrl: server.url, path: "/ingest", allowPrivateNetworks: true, auth })
          const written = yield* exposed(Memory.source(TestApi.records(3)), `secrets_sink_${i}`, sink)
          assert.isTrue(written.failed)
          assertClean(written.text)
        }
        // the secrets did reach the server: the test would have caught them had they leaked
        assert.isTrue(server.log.some((r) => r.query.get("api_key") === SECRETS.apiKey))
        assert.isTrue(server.log.some((r) => r.headers.authorization === `Bearer ${SECRETS.accessToken}`))
      })
    )
  )

  it.live("an API key in the query is not kept in next-page URLs stored as checkpoints", () =>
    provide(
      Effect.gen(function* () {
        const data = TestApi.records(30)
        const server = yield* TestApi.serve(TestApi.api(() => data, "nextUrl", 10))
        const source = RestSource.make({
          baseUrl: server.url,
          path: "/items",
          records: "data.items",
          pagination: { type: "nextUrl", path: "links.next" },
          auth: { type: "apiKey", in: "query", name: "api_key", value: Redacted.make(SECRETS.apiKey) },
          allowPrivateNetworks: true
        })
        const { exit, events, records } = yield* run(source, "secrets_checkpoint", undefined, 10)
        assert.isTrue(Exit.isSuccess(exit))
        assert.strictEqual(records.length, 30)
        // the server echoed the key into its next links, and every request still carried it
        assert.isTrue(server.log.every((r) => r.query.get("api_key") === SECRETS.apiKey))
        const saved = events.filter((e) => e._tag === "CheckpointSaved")
        assert.isAbove(saved.length, 1)
        assert.isTrue(saved.some((e) => e._tag === "CheckpointSaved" && JSON.stringify(e.checkpoint).includes("from=")))
        assertClean(JSON.stringify(events))
      })
    )
  )
})
