import { defineRestConnector, rest } from "@data-mcp/connector-rest"
import { Connector, ConnectorCatalog } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Redacted } from "effect"
import * as TestApi from "./server.ts"
import { assertOnce, provide, run } from "./utils.ts"

// The `rest` definition validates configs with the field named, and defineRestConnector turns a declaration
// into a connector whose users give only a stream and credentials.

const crm = defineRestConnector({
  kind: "test-crm",
  description: "A CRM-style API",
  baseUrl: "https://crm.invalid/api",
  headers: { "x-api-version": "2026-01" },
  streams: {
    accounts: {
      path: "/items",
      records: "data.items",
      pagination: { type: "cursor", path: "meta.next", param: "cursor" },
      primaryKey: ["id"],
      incremental: { param: "updated_since", field: "updated_at" }
    },
    contacts: { path: "/contacts", records: "data.items" }
  },
  sink: { path: "/ingest", batchSize: 50 }
})

describe("connector definitions", () => {
  it.effect("rest: a bad option fails with its field named; secrets are Redacted fields", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Connector.makeSource(rest, { baseUrl: "ftp://x", path: "/a" }))
      assert.strictEqual(error.path, "baseUrl")
      const typo = yield* Effect.flip(
        Connector.makeSource(rest, { baseUrl: "https://x", pagination: { type: "pages" } })
      )
      assert.strictEqual(typo.path, "pagination")
      assert.includeMembers(
        [...Connector.secretFields(rest.source!.config as never)],
        ["auth.token", "auth.value", "auth.password", "auth.clientSecret"]
      )
      const catalog = ConnectorCatalog.make([rest, crm])
      assert.isDefined(catalog)
    })
  )

  it.live("defineRestConnector: a stream name and credentials are all a user gives", () =>
    provide(
      Effect.gen(function* () {
        const data = TestApi.records(120)
        const server = yield* TestApi.serve(
          TestApi.api(
            () => data,
            "cursor",
            50,
            (request, res) =>
              (request.headers.authorization !== "Bearer crm-token" ||
                request.headers["x-api-version"] !== "2026-01") &&
              TestApi.sendJson(res, 401, {})
          )
        )
        const user = {
          stream: "accounts",
          auth: { type: "bearer", token: Redacted.make("crm-token") },
          baseUrl: server.url,
          allowPrivateNetworks: true
        }
        const source = yield* Connector.makeSource(crm, user)
        const { exit, records } = yield* run(source, "crm_accounts")
        assert.isTrue(Exit.isSuccess(exit), String(Exit.isFailure(exit) ? exit.cause : ""))
        assertOnce(120, records)
        const streams = yield* crm.discover!(user as never)
        assert.deepStrictEqual(
          streams.map((s) => s.name),
          ["accounts", "contacts"]
        )
        const unknown = yield* Effect.flip(Connector.makeSource(crm, { ...user, stream: "deals" }))
        assert.strictEqual(unknown.path, "stream")
        const sink = yield* Connector.makeSink(crm, {
          auth: user.auth,
          baseUrl: server.url,
          allowPrivateNetworks: true
        })
        assert.strictEqual(sink.name, "test-crm")
        assert.isTrue(sink.capabilities.idempotent)
      })
    )
  )

  it.live("check: a reachable endpoint with good credentials passes; refused credentials fail", () =>
    Effect.gen(function* () {
      const server = yield* TestApi.serve((request, res) =>
        request.headers.authorization === "Bearer ok"
          ? TestApi.sendJson(res, 200, { data: [] })
          : TestApi.sendJson(res, 401, {})
      )
      const config = (token: string) => ({
        baseUrl: server.url,
        path: "/items",
        auth: { type: "bearer", token: Redacted.make(token) } as const,
        allowPrivateNetworks: true
      })
      yield* rest.check!({ role: "source", config: config("ok") })
      yield* rest.check!({ role: "sink", config: config("ok") })
      const refused = yield* Effect.flip(rest.check!({ role: "source", config: config("bad") }))
      assert.strictEqual(refused.reason._tag, "AuthenticationError")
      const sinkRefused = yield* Effect.flip(rest.check!({ role: "sink", config: config("bad") }))
      assert.strictEqual(sinkRefused.reason._tag, "AuthenticationError")
    })
  )
})
