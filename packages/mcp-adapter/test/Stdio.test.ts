// The stdio mounting (the examples/mcp-stdio app as a child process, both eras) and tool-list change
// notifications (stdio push, and subscriptions/listen on the stateless HTTP handler).
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Memory, Pipeline } from "@data-mcp/core"
import { Client } from "@modelcontextprotocol/client"
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio"
import { afterAll, describe, expect, it } from "vitest"
import { connect, mounts, newServer, structured } from "./harness.ts"

const example = join(import.meta.dirname, "..", "..", "..", "examples", "mcp-stdio", "main.ts")
const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

const spawnClient = async (era: "modern" | "legacy") => {
  const out = mkdtempSync(join(tmpdir(), "dm-stdio-"))
  dirs.push(out)
  const client = new Client(
    { name: "stdio-test", version: "1.0.0" },
    era === "modern" ? { versionNegotiation: { mode: "auto" } } : {}
  )
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: ["--conditions=@data-mcp/source", "--import", "tsx", example],
      env: { ...(process.env as Record<string, string>), DATA_MCP_OUT: out },
      stderr: "inherit"
    })
  )
  return client
}

for (const era of ["modern", "legacy"] as const) {
  describe(`stdio (${era} era)`, () => {
    it("lists, previews, runs with progress, reads the report; errors name what is wrong", async () => {
      const client = await spawnClient(era)
      try {
        expect(client.getProtocolEra()).toBe(era)
        const { tools } = await client.listTools()
        expect(tools.map((t) => t.name)).toContain("run_customers_to_jsonl")
        const list = structured(await client.callTool({ name: "list_pipelines", arguments: {} }))
        expect(list.pipelines.map((p: { name: string }) => p.name)).toEqual(["customers_to_jsonl", "events_to_jsonl"])
        const preview = structured(
          await client.callTool({
            name: "preview_pipeline",
            arguments: { name: "customers_to_jsonl", params: { count: 50 }, limit: 2 }
          })
        )
        expect(preview.records).toHaveLength(2)
        expect(preview.records[0].email).toBe("***")
        const progress: Array<number> = []
        const run = structured(
          await client.callTool(
            { name: "run_pipeline", arguments: { name: "events_to_jsonl", params: { count: 300 } } },
            { onprogress: (p) => void progress.push(p.progress) }
          )
        )
        expect(run.status).toBe("succeeded")
        expect(progress.length).toBeGreaterThan(0)
        const report = await client.readResource({ uri: run.resource })
        expect(JSON.parse((report.contents[0] as { text: string }).text)).toMatchObject({
          id: run.runId,
          status: "succeeded"
        })
        const bad = await client.callTool({ name: "run_customers_to_jsonl", arguments: { count: -1 } })
        expect(bad.isError).toBe(true)
        expect(JSON.stringify(bad.content)).toContain("count")
      } finally {
        await client.close()
      }
    })

    it("describe, wait, get, list and cancel: happy paths and errors", async () => {
      const client = await spawnClient(era)
      try {
        const described = structured(
          await client.callTool({ name: "describe_pipeline", arguments: { name: "events_to_jsonl" } })
        )
        expect(described).toMatchObject({ name: "events_to_jsonl", disposition: "append" })
        const unknown = await client.callTool({ name: "describe_pipeline", arguments: { name: "nope" } })
        expect(structured(unknown).error._tag).toBe("NotFound")
        const started = structured(
          await client.callTool({
            name: "run_pipeline",
            arguments: { name: "events_to_jsonl", params: { count: 200 }, waitSeconds: 0 }
          })
        )
        const waited = structured(
          await client.callTool({ name: "wait_run", arguments: { runId: started.runId, waitSeconds: 20 } })
        )
        expect(waited).toMatchObject({ runId: started.runId, status: "succeeded" })
        expect(structured(await client.callTool({ name: "get_run", arguments: { runId: started.runId } })).status).toBe(
          "succeeded"
        )
        const listed = structured(
          await client.callTool({ name: "list_runs", arguments: { pipeline: "events_to_jsonl" } })
        )
        expect(listed.runs.map((r: { runId: string }) => r.runId)).toContain(started.runId)
        const notLive = await client.callTool({ name: "cancel_run", arguments: { runId: started.runId } })
        expect(structured(notLive).error).toMatchObject({ _tag: "RunNotLive", retryable: false })
        for (const name of ["wait_run", "get_run", "cancel_run"]) {
          const missing = await client.callTool({ name, arguments: { runId: "run_nope" } })
          expect(structured(missing).error._tag, name).toBe("NotFound")
        }
        const badLimit = await client.callTool({ name: "list_runs", arguments: { limit: 0 } })
        expect(badLimit.isError).toBe(true)
        expect(JSON.stringify(badLimit.content)).toContain("limit")
      } finally {
        await client.close()
      }
    })
  })
}

describe("tool-list changes", () => {
  it("are pushed to a stdio client when a pipeline is registered", async () => {
    const client = await spawnClient("legacy")
    try {
      let changed = 0
      client.setNotificationHandler("notifications/tools/list_changed", () => void changed++)
      const refused = await client.callTool({ name: "register_pipeline", arguments: { template: "drop_all" } })
      expect(structured(refused).error._tag).toBe("NotFound")
      expect(changed).toBe(0)
      const registered = structured(
        await client.callTool({
          name: "register_pipeline",
          arguments: { template: "sample_export@1.0.0", params: { count: 7 } }
        })
      )
      expect(registered.created).toBe(true)
      const start = Date.now()
      while (changed === 0 && Date.now() - start < 5000) await new Promise((r) => setTimeout(r, 20))
      expect(changed).toBe(1)
      const run = structured(await client.callTool({ name: "run_pipeline", arguments: { name: registered.name } }))
      expect(run.summary.recordsWritten).toBe(7)
    } finally {
      await client.close()
    }
  })

  it("reach a modern HTTP client's subscription when a pipeline is registered or removed", async () => {
    const fixture = await newServer()
    const mounted = await mounts.node(fixture.server)
    const client = await connect(mounted)
    try {
      let changed = 0
      client.setNotificationHandler("notifications/tools/list_changed", () => void changed++)
      const subscription = await client.listen({ toolsListChanged: true })
      fixture.server.register(
        Pipeline.make({
          name: "late",
          version: "1.0.0",
          description: "Registered at run time.",
          source: Memory.source([{ id: 1 }]),
          sink: Memory.sink().sink,
          options: { mcp: { tool: true } }
        })
      )
      const start = Date.now()
      while (changed === 0 && Date.now() - start < 5000) await new Promise((r) => setTimeout(r, 20))
      expect(changed).toBe(1)
      expect((await client.listTools()).tools.map((t) => t.name)).toContain("run_late")
      fixture.server.remove("late")
      while (changed === 1 && Date.now() - start < 5000) await new Promise((r) => setTimeout(r, 20))
      expect(changed).toBe(2)
      await subscription.close()
    } finally {
      await client.close()
      await mounted.close()
      await fixture.server.close()
    }
  })
})
