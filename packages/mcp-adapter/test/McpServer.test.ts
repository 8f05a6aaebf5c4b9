// Options are validated when the server is made; the Effect entry point serves over a runner the host provides.
import { Memory, Pipeline, PipelineSet, Runner, RunStore, Transform } from "@data-mcp/core"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { Exit, Layer, ManagedRuntime, Schema, Scope } from "effect"
import { describe, expect, it } from "vitest"
import { createMcpServer, McpServer } from "../src/index.ts"
import { connect, headerCaller, makeSet, mounts, structured } from "./harness.ts"

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

describe("dead-letter resource", () => {
  it("serves a run's dead letters, masked and flagged untrusted, to its caller only", async () => {
    const rows = [
      { id: 1, email: "a@example.com", amount: "1.00" },
      { id: 2, email: "b@example.com", amount: "oops" },
      { id: 3, email: "c@example.com", amount: "3.00" }
    ]
    const pipeline = Pipeline.make({
      name: "amounts",
      version: "1.0.0",
      description: "Loads amounts, dead-lettering the ones that are not decimals.",
      source: Memory.source(rows),
      transforms: Transform.identity<(typeof rows)[number]>().pipe(
        Transform.validate(
          Schema.Struct({
            id: Schema.Int,
            email: Schema.String,
            amount: Schema.String.check(Schema.isPattern(/^\d+\.\d{2}$/))
          })
        )
      ),
      sink: Memory.sink().sink,
      options: { sensitive: ["email"] }
    })
    const server = await createMcpServer(PipelineSet.make("dl", [pipeline]), {
      inMemory: true,
      caller: headerCaller,
      purgeIntervalMs: 0
    })
    const mounted = await mounts.fetch(server)
    const alice = await connect(mounted, { user: "alice" })
    const bob = await connect(mounted, { user: "bob" })
    try {
      const run = structured(await alice.callTool({ name: "run_pipeline", arguments: { name: "amounts" } }))
      expect(run.summary).toMatchObject({ recordsWritten: 2, deadLetters: 1 })
      const read = await alice.readResource({ uri: `${run.resource}/dead-letters` })
      const body = JSON.parse((read.contents[0] as { text: string }).text)
      expect(body.untrusted).toBe(true)
      expect(body.deadLetters).toHaveLength(1)
      expect(body.deadLetters[0]).toMatchObject({ stage: "transform", record: { id: 2, email: "***", amount: "oops" } })
      await expect(bob.readResource({ uri: `${run.resource}/dead-letters` })).rejects.toThrow(/not found/i)
    } finally {
      await alice.close()
      await bob.close()
      await server.close()
    }
  })
})
