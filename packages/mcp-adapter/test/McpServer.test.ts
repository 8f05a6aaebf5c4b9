// Options are validated when the server is made; the Effect entry point serves over a runner the host provides.
import { Runner, RunStore } from "@data-mcp/core"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { Exit, Layer, ManagedRuntime, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { createMcpServer, McpServer } from "../src/index.ts"
import { makeSet, structured } from "./harness.ts"

describe("McpServer", () => {
  it("refuses a bad option with a ConfigError naming it", async () => {
    const error = await createMcpServer(makeSet().set, { inMemory: true, waitSeconds: 99 }).catch((e: unknown) => e)
    expect(error).toMatchObject({ _tag: "ConfigError", path: "waitSeconds" })
    expect(String((error as Error).message)).not.toContain("99")
  })

  it("make (Effect API) serves over the host's runner and stores", async () => {
    const runtime = ManagedRuntime.make(Layer.fresh(Runner.layerMemory({ purgeIntervalMs: 0 })))
    const scope = await runtime.runPromise(Scope.make())
    try {
      const server = await runtime.runPromise(
        McpServer.make(makeSet().set, { name: "effect-host" }).pipe(Scope.provide(scope))
      )
      const client = new Client({ name: "t", version: "1" })
      await client.connect(
        new StreamableHTTPClientTransport(new URL("http://localhost/mcp"), {
          fetch: (url, init) => server.fetch(new Request(url, init))
        })
      )
      expect(client.getServerVersion()?.name).toBe("effect-host")
      const run = structured(await client.callTool({ name: "run_orders", arguments: {} }))
      expect(run.status).toBe("succeeded")
      // The run is in the host's run store, recorded with its caller (the default anonymous caller here).
      const stored = await runtime.runPromise(RunStore.RunStore.use((s) => s.get(run.runId)))
      expect(stored).toMatchObject({ pipeline: "orders", status: "succeeded", caller: "anonymous" })
      await client.close()
    } finally {
      await runtime.runPromise(Scope.close(scope, Exit.void))
      await runtime.dispose()
    }
  })
})
