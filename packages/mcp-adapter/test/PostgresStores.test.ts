// createMcpServer with `stores`: PostgreSQL stores instead of files. A run started on one server instance is
// visible, with its summary, to a second instance made later on the same schema (as after a restart, or on
// another replica). Against the real local server; with CI=true it never skips.

import {
  PostgresDeadLetterStore,
  PostgresRegistryStore,
  PostgresRunStore,
  PostgresStateStore
} from "@data-mcp/connector-postgres"
import { LiveService } from "@data-mcp/core/testing"
import { Layer } from "effect"
import pg from "pg"
import { afterAll, describe, expect, it } from "vitest"
import { createMcpServer, type McpServer } from "../src/index.ts"
import { connect, makeSet, mounts, structured } from "./harness.ts"

const connection = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test"
}
const schema = `dm_mcp_stores_${process.pid}_${Date.now().toString(36)}`

const unreachable = await LiveService.unreachable(connection, "the PostgreSQL stores test")

afterAll(async () => {
  if (unreachable !== undefined) return
  const client = new pg.Client(connection)
  await client.connect()
  await client.query(`drop schema if exists "${schema}" cascade`)
  await client.end()
})

const stores = (): Layer.Layer<McpServer.Stores, unknown> =>
  Layer.mergeAll(
    PostgresStateStore.layer(connection, { schema }),
    PostgresRunStore.layer(connection, { schema }),
    PostgresDeadLetterStore.layer(connection, { schema }),
    PostgresRegistryStore.layer(connection, { schema })
  )

const open = async () => {
  const server = await createMcpServer(makeSet().set, { stores: stores(), purgeIntervalMs: 0 })
  const mounted = await mounts.fetch(server)
  const client = await connect(mounted)
  return {
    client,
    close: async () => {
      await client.close()
      await mounted.close()
      await server.close()
    }
  }
}

describe.skipIf(unreachable !== undefined)("createMcpServer with PostgreSQL stores", () => {
  it("a run recorded by one server is visible to a second one on the same schema", async () => {
    const first = await open()
    let runId: string
    try {
      const run = structured(await first.client.callTool({ name: "run_pipeline", arguments: { name: "orders" } }))
      expect(run.status).toBe("succeeded")
      runId = run.runId
    } finally {
      await first.close()
    }
    const second = await open()
    try {
      const got = structured(await second.client.callTool({ name: "get_run", arguments: { runId } }))
      expect(got).toMatchObject({ runId, status: "succeeded" })
      expect(got.summary.recordsWritten).toBe(30)
    } finally {
      await second.close()
    }
  })
})
