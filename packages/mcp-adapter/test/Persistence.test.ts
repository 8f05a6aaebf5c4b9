// What outlives the process with file state: template instances from register_pipeline (restored at start, and
// forgotten when removed) and idempotency keys (a retry after a restart returns the run it started).
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Client } from "@modelcontextprotocol/client"
import { afterAll, describe, expect, it } from "vitest"
import { createMcpServer, type DataMcpServer } from "../src/index.ts"
import { connect, headerCaller, type Mounted, makeSet, mounts, structured, template } from "./harness.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dm-mcp-persist-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const open = async (): Promise<{
  server: DataMcpServer
  mounted: Mounted
  client: Client
  close: () => Promise<void>
}> => {
  const server = await createMcpServer(makeSet().set, {
    directory: dir,
    templates: [template],
    caller: headerCaller,
    purgeIntervalMs: 0
  })
  const mounted = await mounts.fetch(server)
  const client = await connect(mounted)
  return {
    server,
    mounted,
    client,
    close: async () => {
      await client.close()
      await mounted.close()
      await server.close()
    }
  }
}

describe("state kept in files across restarts", () => {
  it("a registered template instance is served again after a restart, and a removed one is not", async () => {
    const first = await open()
    const registered = structured(
      await first.client.callTool({
        name: "register_pipeline",
        arguments: { template: "sample_export@1.0.0", params: { count: 4 } }
      })
    )
    expect(registered.created).toBe(true)
    await first.close()

    const second = await open()
    try {
      const listed = structured(await second.client.callTool({ name: "list_pipelines", arguments: {} }))
      expect(listed.pipelines.map((p: { name: string }) => p.name)).toContain(registered.name)
      const run = structured(
        await second.client.callTool({ name: "run_pipeline", arguments: { name: registered.name } })
      )
      expect(run.summary).toMatchObject({ recordsWritten: 4 })
      const again = structured(
        await second.client.callTool({
          name: "register_pipeline",
          arguments: { template: "sample_export", params: { count: 4 } }
        })
      )
      expect(again).toMatchObject({ name: registered.name, created: false })
      // Another tenant-less caller sees it as well; removal forgets it for good.
      expect(second.server.remove(registered.name)).toBe(true)
    } finally {
      await second.close()
    }

    const third = await open()
    try {
      const gone = await third.client.callTool({ name: "describe_pipeline", arguments: { name: registered.name } })
      expect(structured(gone).error._tag).toBe("NotFound")
    } finally {
      await third.close()
    }
  })

  it("an idempotencyKey retry after a restart returns the run the first call started", async () => {
    const first = await open()
    const args = { name: "orders", params: {}, waitSeconds: 20, idempotencyKey: "nightly-2026-11-24" }
    const started = structured(await first.client.callTool({ name: "run_pipeline", arguments: args }))
    expect(started).toMatchObject({ status: "succeeded", reused: false })
    await first.close()

    const second = await open()
    try {
      const retried = structured(await second.client.callTool({ name: "run_pipeline", arguments: args }))
      expect(retried).toMatchObject({ runId: started.runId, reused: true, status: "succeeded" })
      // The key is the caller's: another caller with the same key starts its own run.
      const bob = await connect(second.mounted, { user: "bob" })
      try {
        const other = structured(await bob.callTool({ name: "run_pipeline", arguments: args }))
        expect(other.runId).not.toBe(started.runId)
        expect(other.reused).toBe(false)
      } finally {
        await bob.close()
      }
    } finally {
      await second.close()
    }
  })
})
