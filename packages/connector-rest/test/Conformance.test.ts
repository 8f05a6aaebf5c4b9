import { RestSink, RestSource } from "@data-mcp/connector-rest"
import type { Pipeline } from "@data-mcp/core"
import { ConnectorConformance } from "@data-mcp/core/testing"
import { Effect, Redacted } from "effect"
import * as TestApi from "./server.ts"

// The shared connector conformance suite, against loopback APIs: a cursor-paginated items endpoint for the
// source, and an ingest endpoint that honours Idempotency-Key for the sink. Both authenticate with a bearer
// token the suite checks never leaks.

const TOKEN = "tok-conformance-rest-7f3a"
const auth = { type: "bearer", token: Redacted.make(TOKEN) } as const
type Item = { readonly id: string; readonly name: string; readonly updated_at: string }

const items = (n: number): ReadonlyArray<Item> => TestApi.records(n)

ConnectorConformance.suite<Item, Item>("rest", {
  secrets: [TOKEN],
  source: {
    records: items,
    id: (r) => r.id,
    make: (records) =>
      Effect.map(
        TestApi.serve(
          TestApi.api(
            () => records,
            "cursor",
            10,
            (request, res) => request.headers.authorization !== `Bearer ${TOKEN}` && TestApi.sendJson(res, 401, {})
          )
        ),
        (server) =>
          RestSource.make({
            baseUrl: server.url,
            path: "/items",
            records: "data.items",
            pagination: { type: "cursor", path: "meta.next", param: "cursor" },
            auth,
            allowPrivateNetworks: true
          }) as unknown as Pipeline.AnySource<Item>
      )
  },
  sink: {
    records: items,
    id: (r) => (r as Item).id,
    make: () =>
      Effect.gen(function* () {
        const stored: Array<Item> = []
        const seen = new Set<string>()
        const server = yield* TestApi.serve((request, res) => {
          if (request.headers.authorization !== `Bearer ${TOKEN}`) return TestApi.sendJson(res, 401, {})
          const key = String(request.headers["idempotency-key"])
          if (!seen.has(key)) {
            seen.add(key)
            stored.push(...(JSON.parse(request.body) as Array<Item>))
          }
          return TestApi.sendJson(res, 201, {})
        })
        const sink = RestSink.make({
          baseUrl: server.url,
          path: "/ingest",
          batchSize: 10,
          auth,
          allowPrivateNetworks: true
        })
        return { sink, readBack: Effect.sync(() => [...stored]) }
      })
  }
})
