// Two replicas of the host app — each its own runner and MCP server — sharing one set of stores, as several app
// instances behind a load balancer share a database: a run started on one is seen, followed and cancelled through
// the other; an idempotency key retried on the other returns the same run; a template instance registered on one
// is served by the other. Once with the in-memory stores shared in one process, once with the PostgreSQL stores
// (each replica its own pools on one schema of the real local server, as separate processes would have).

import {
  PostgresDeadLetterStore,
  PostgresRegistryStore,
  PostgresRunStore,
  PostgresStateStore
} from "@data-mcp/connector-postgres"
import { DeadLetter, PipelineRegistry, Runner, RunStore, StateStore } from "@data-mcp/core"
import { LiveService } from "@data-mcp/core/testing"
import type { Client } from "@modelcontextprotocol/client"
import { type Context, Effect, Exit, Layer, ManagedRuntime, Option, Scope } from "effect"
import pg from "pg"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DataMcpServer, McpServer } from "../src/index.ts"
import { connect, headerCaller, type Mounted, makeSet, mounts, structured, template } from "./harness.ts"

const until = async (check: () => boolean, timeoutMs = 10_000) => {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error("timed out waiting")
    await new Promise((r) => setTimeout(r, 20))
  }
}

type Stores = Layer.Layer<
  StateStore.StateStore | RunStore.RunStore | DeadLetter.DeadLetterStore | PipelineRegistry.PipelineRegistry,
  unknown
>

const pgConnection = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test"
}
const pgSchema = `dm_replicas_${process.pid}_${Date.now().toString(36)}`

// Locally a missing server skips the PostgreSQL case with a printed reason; with CI=true it runs (and fails).
const pgUnreachable = await LiveService.unreachable(pgConnection, "the PostgreSQL replicas case")

const memoryStores = (scope: Scope.Scope): Promise<() => Stores> =>
  Effect.runPromise(
    Layer.buildWithScope(
      Layer.mergeAll(
        StateStore.layerMemory,
        RunStore.layerMemory,
        DeadLetter.layerMemory,
        PipelineRegistry.layerMemory
      ),
      scope
    )
  ).then((shared: Context.Context<never>) => () => Layer.succeedContext(shared) as unknown as Stores)

const postgresStores = (): Stores =>
  Layer.mergeAll(
    PostgresStateStore.layer(pgConnection, { schema: pgSchema }),
    PostgresRunStore.layer(pgConnection, { schema: pgSchema }),
    PostgresDeadLetterStore.layer(pgConnection, { schema: pgSchema }),
    PipelineRegistry.layer.pipe(Layer.provide(PostgresRegistryStore.layer(pgConnection, { schema: pgSchema })))
  )

const kinds = [
  { kind: "in-memory", stores: memoryStores },
  ...(pgUnreachable === undefined ? [{ kind: "PostgreSQL", stores: async () => postgresStores }] : [])
] as const

afterAll(async () => {
  if (pgUnreachable !== undefined) return
  const client = new pg.Client(pgConnection)
  await client.connect()
  await client.query(`drop schema if exists "${pgSchema}" cascade`)
  await client.end()
})

for (const { kind, stores } of kinds)
  describe(`replicas sharing the ${kind} stores`, () => {
    const scope = Effect.runSync(Scope.make())
    const fixture = makeSet()
    let replicas: Array<{ server: DataMcpServer; mounted: Mounted; client: Client; dispose: () => Promise<void> }> = []

    beforeAll(async () => {
      const storesOf = await stores(scope)
      const replica = async () => {
        const runtime = ManagedRuntime.make(
          Runner.layer({ leaseTtlMs: 600, purgeIntervalMs: 0 }).pipe(Layer.provideMerge(storesOf()))
        )
        const own = await runtime.runPromise(Scope.make())
        const server = await runtime.runPromise(
          McpServer.make(fixture.set, { caller: headerCaller, templates: [template] }).pipe(Scope.provide(own))
        )
        const mounted = await mounts.fetch(server)
        const client = await connect(mounted)
        return {
          server,
          mounted,
          client,
          dispose: async () => {
            await client.close()
            await runtime.runPromise(Scope.close(own, Exit.void))
            await runtime.dispose()
          }
        }
      }
      replicas = [await replica(), await replica()]
    })
    afterAll(async () => {
      for (const r of replicas) await r.dispose()
      await Effect.runPromise(Scope.close(scope, Exit.void))
    })

    it("a run started on one replica is cancelled through the other; its checkpoint never passes written data", async () => {
      const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]]
      const params = { count: 300 }
      const started = structured(
        await a.client.callTool({ name: "run_pipeline", arguments: { name: "slow", params, waitSeconds: 0 } })
      )
      const before = fixture.slow.records().length
      await until(() => fixture.slow.records().length >= before + 10)
      const seen = structured(await b.client.callTool({ name: "get_run", arguments: { runId: started.runId } }))
      expect(seen.status).toBe("running")
      const cancelled = structured(await b.client.callTool({ name: "cancel_run", arguments: { runId: started.runId } }))
      expect(cancelled).toMatchObject({ runId: started.runId, status: "cancelled" })
      expect(cancelled.summary.recordsWritten).toBeLessThan(300)
      expect(fixture.slow.checkpoint(cancelled.summary.stateKey)).toEqual(Option.some(cancelled.summary.checkpointTo))
      // Another caller still cannot reach it on either replica.
      const bob = await connect(b.mounted, { user: "bob" })
      try {
        expect(
          structured(await bob.callTool({ name: "cancel_run", arguments: { runId: started.runId } })).error._tag
        ).toBe("NotFound")
      } finally {
        await bob.close()
      }
    })

    it("an idempotency key retried on the other replica returns the same run", async () => {
      const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]]
      const args = { name: "orders", params: {}, waitSeconds: 20, idempotencyKey: `replicated-${kind}` }
      const first = structured(await a.client.callTool({ name: "run_pipeline", arguments: args }))
      const retried = structured(await b.client.callTool({ name: "run_pipeline", arguments: args }))
      expect(retried).toMatchObject({ runId: first.runId, reused: true })
    })

    it("a template instance registered on one replica is served by the other", async () => {
      const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]]
      const registered = structured(
        await a.client.callTool({
          name: "register_pipeline",
          arguments: { template: "sample_export@1.0.0", params: { count: 3 } }
        })
      )
      const run = structured(await b.client.callTool({ name: "run_pipeline", arguments: { name: registered.name } }))
      expect(run.summary).toMatchObject({ recordsWritten: 3 })
    })
  })
