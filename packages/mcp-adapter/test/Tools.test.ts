// Every tool's happy path and error path through the real MCP client, over each HTTP mounting style.
import type { Client } from "@modelcontextprotocol/client"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { connect, type Mounted, mounts, newServer, structured } from "./harness.ts"

for (const [style, mount] of Object.entries(mounts)) {
  describe(`tools over ${style}`, () => {
    let fixture: Awaited<ReturnType<typeof newServer>>
    let mounted: Mounted
    let client: Client

    beforeAll(async () => {
      fixture = await newServer()
      mounted = await mount(fixture.server)
      client = await connect(mounted)
    })
    afterAll(async () => {
      await client.close()
      await mounted.close()
      await fixture.server.close()
    })

    it("lists the tools with schemas, output schemas and truthful annotations", async () => {
      const { tools } = await client.listTools()
      const byName = new Map(tools.map((t) => [t.name, t]))
      expect([...byName.keys()].sort()).toEqual(
        [
          "cancel_run",
          "describe_pipeline",
          "get_run",
          "list_pipelines",
          "list_runs",
          "preview_pipeline",
          "register_pipeline",
          "run_orders",
          "run_pipeline",
          "run_snapshot",
          "wait_run"
        ].sort()
      )
      for (const tool of tools) {
        expect(tool.outputSchema, tool.name).toBeDefined()
        expect(tool.inputSchema.additionalProperties, tool.name).toBe(false)
      }
      expect(byName.get("list_pipelines")?.annotations?.readOnlyHint).toBe(true)
      expect(byName.get("run_orders")?.annotations).toMatchObject({ destructiveHint: false, idempotentHint: false })
      expect(byName.get("run_snapshot")?.annotations).toMatchObject({ destructiveHint: true, idempotentHint: true })
      expect(byName.get("run_orders")?.inputSchema.properties).toHaveProperty("region")
      expect((byName.get("run_orders")?.description ?? "").length).toBeLessThanOrEqual(1000)
    })

    it("list_pipelines: visible pipelines only, paginated; a bad cursor names the field", async () => {
      const first = structured(await client.callTool({ name: "list_pipelines", arguments: { limit: 2 } }))
      expect(first.pipelines.map((p: { name: string }) => p.name)).toEqual(["orders", "slow"])
      const second = structured(
        await client.callTool({ name: "list_pipelines", arguments: { cursor: first.nextCursor } })
      )
      expect(second.pipelines.map((p: { name: string }) => p.name)).toEqual(["snapshot", "wide"])
      expect(second.nextCursor).toBeUndefined()
      const bad = await client.callTool({ name: "list_pipelines", arguments: { cursor: "nope" } })
      expect(bad.isError).toBe(true)
      expect(structured(bad).error).toMatchObject({ _tag: "InvalidInput", field: "cursor", retryable: false })
    })

    it("describe_pipeline: a definition; a hidden or unknown pipeline is not found", async () => {
      const out = structured(await client.callTool({ name: "describe_pipeline", arguments: { name: "orders" } }))
      expect(out).toMatchObject({ name: "orders", disposition: "append", guarantee: "exactly-once", exposure: "agent" })
      expect(out.params.properties.region).toBeDefined()
      for (const name of ["hidden", "nope"]) {
        const r = await client.callTool({ name: "describe_pipeline", arguments: { name } })
        expect(r.isError).toBe(true)
        expect(structured(r).error._tag).toBe("NotFound")
      }
    })

    it("preview_pipeline: transformed sample, masked, with a plan; bad params name the field", async () => {
      const r = await client.callTool({ name: "preview_pipeline", arguments: { name: "orders", limit: 3 } })
      const out = structured(r)
      expect(out.untrusted).toBe(true)
      expect(out.records).toEqual([
        { id: 1, email: "***", amount: 1.5, cents: 150 },
        { id: 2, email: "***", amount: 3, cents: 300 },
        { id: 3, email: "***", amount: 4.5, cents: 450 }
      ])
      expect(out.plan.checkpoint.from).toBeNull()
      expect(out.plan.estimate.rows).toBe(30)
      expect(out.plan.target.disposition).toBe("append")
      expect(out.plan.schema).toMatchObject({ id: "integer", cents: "integer" })
      expect(fixture.orders.records()).toHaveLength(0)
      const bad = await client.callTool({
        name: "preview_pipeline",
        arguments: { name: "orders", params: { region: "mars" } }
      })
      expect(bad.isError).toBe(true)
      expect(structured(bad).error).toMatchObject({ _tag: "ConfigError", field: "params.region" })
      const unknown = await client.callTool({
        name: "preview_pipeline",
        arguments: { name: "orders", params: { typo: 1 } }
      })
      expect(structured(unknown).error).toMatchObject({ _tag: "ConfigError", field: "params.typo" })
    })

    it("preview_pipeline of a wide table stays under maxResultBytes", async () => {
      const r = await client.callTool({ name: "preview_pipeline", arguments: { name: "wide", limit: 100 } })
      const out = structured(r)
      expect(Buffer.byteLength(JSON.stringify(r))).toBeLessThan(24 * 1024 + 2048)
      expect(Buffer.byteLength(JSON.stringify(out))).toBeLessThan(24 * 1024)
      expect(out.recordsRead).toBe(100)
      expect(out.records.length).toBeGreaterThan(0)
      expect(out.omittedRecords).toBe(100 - out.records.length)
    })

    it("run_pipeline and run_<name>: a finished run with its summary and a resource link; strict input", async () => {
      const r = await client.callTool({ name: "run_orders", arguments: { region: "eu" } })
      const out = structured(r)
      expect(out.status).toBe("succeeded")
      expect(out.summary).toMatchObject({ recordsRead: 30, recordsWritten: 30, guarantee: "exactly-once" })
      expect(r.content).toContainEqual(expect.objectContaining({ type: "resource_link", uri: out.resource }))
      const again = structured(
        await client.callTool({ name: "run_pipeline", arguments: { name: "orders", params: { region: "eu" } } })
      )
      expect(again.summary).toMatchObject({ recordsRead: 0, checkpointFrom: 30 })
      const typo = await client.callTool({ name: "run_pipeline", arguments: { name: "orders", paramz: {} } })
      expect(typo.isError).toBe(true)
      expect(JSON.stringify(typo.content)).toContain("paramz")
      const typo2 = await client.callTool({ name: "run_orders", arguments: { regio: "eu" } })
      expect(typo2.isError).toBe(true)
      expect(JSON.stringify(typo2.content)).toContain("regio")
      const guarded = await client.callTool({
        name: "run_pipeline",
        arguments: { name: "orders", params: { region: "us" }, maxRows: 5 }
      })
      expect(structured(guarded).error).toMatchObject({ _tag: "GuardExceeded", retryable: false })
    })

    it("get_run, list_runs and the run resource: own runs only", async () => {
      const run = structured(await client.callTool({ name: "run_orders", arguments: {} }))
      const got = structured(await client.callTool({ name: "get_run", arguments: { runId: run.runId } }))
      expect(got).toMatchObject({ runId: run.runId, status: "succeeded" })
      const listed = structured(
        await client.callTool({ name: "list_runs", arguments: { pipeline: "orders", limit: 1 } })
      )
      expect(listed.runs).toHaveLength(1)
      expect(listed.nextCursor).toBeDefined()
      const report = await client.readResource({ uri: run.resource })
      const text = (report.contents[0] as { text: string }).text
      expect(JSON.parse(text)).toMatchObject({ id: run.runId, caller: "alice" })
      const events = await client.readResource({ uri: `${run.resource}/events` })
      expect((events.contents[0] as { text: string }).text).toContain("RunStarted")

      const bob = await connect(mounted, { user: "bob" })
      try {
        const other = await bob.callTool({ name: "get_run", arguments: { runId: run.runId } })
        expect(structured(other).error._tag).toBe("NotFound")
        expect(structured(await bob.callTool({ name: "list_runs", arguments: {} })).runs).toEqual([])
        await expect(bob.readResource({ uri: run.resource })).rejects.toThrow(/not found/i)
      } finally {
        await bob.close()
      }
      const admin = await connect(mounted, { user: "carol", grant: "runs:read:any" })
      try {
        expect(structured(await admin.callTool({ name: "get_run", arguments: { runId: run.runId } })).runId).toBe(
          run.runId
        )
      } finally {
        await admin.close()
      }
      const missing = await client.callTool({ name: "get_run", arguments: { runId: "run_missing" } })
      expect(structured(missing).error._tag).toBe("NotFound")
      const badLimit = await client.callTool({ name: "list_runs", arguments: { limit: 0 } })
      expect(badLimit.isError).toBe(true)
      expect(JSON.stringify(badLimit.content)).toContain("limit")
    })

    it("wait_run and cancel_run on a finished run; errors for unknown runs", async () => {
      const run = structured(await client.callTool({ name: "run_orders", arguments: {} }))
      const waited = structured(
        await client.callTool({ name: "wait_run", arguments: { runId: run.runId, waitSeconds: 1 } })
      )
      expect(waited.status).toBe("succeeded")
      const cancel = await client.callTool({ name: "cancel_run", arguments: { runId: run.runId } })
      expect(structured(cancel).error).toMatchObject({ _tag: "RunNotLive", retryable: false })
      const unknown = await client.callTool({ name: "wait_run", arguments: { runId: "run_nope" } })
      expect(structured(unknown).error._tag).toBe("NotFound")
      const unknownCancel = await client.callTool({ name: "cancel_run", arguments: { runId: "run_nope" } })
      expect(structured(unknownCancel).error._tag).toBe("NotFound")
    })

    it("register_pipeline: instantiates a template, announces it, and refuses unknown templates and bad params", async () => {
      const r = structured(
        await client.callTool({
          name: "register_pipeline",
          arguments: { template: "sample_export@1.0.0", params: { count: 5 } }
        })
      )
      expect(r).toMatchObject({ created: true, template: "sample_export@1.0.0" })
      const run = structured(await client.callTool({ name: "run_pipeline", arguments: { name: r.name } }))
      expect(run.summary).toMatchObject({ recordsWritten: 5 })
      const again = structured(
        await client.callTool({
          name: "register_pipeline",
          arguments: { template: "sample_export", params: { count: 5 } }
        })
      )
      expect(again).toMatchObject({ name: r.name, created: false })
      const unknown = await client.callTool({ name: "register_pipeline", arguments: { template: "drop_tables" } })
      expect(structured(unknown).error._tag).toBe("NotFound")
      const bad = await client.callTool({
        name: "register_pipeline",
        arguments: { template: "sample_export", params: { count: 0 } }
      })
      expect(structured(bad).error).toMatchObject({ _tag: "SpecError" })
      expect(structured(bad).error.field).toContain("count")
      // Another caller without a tenant sees it too; tenants are the security issue's partition.
      expect(fixture.server.remove(r.name)).toBe(true)
      const gone = await client.callTool({ name: "describe_pipeline", arguments: { name: r.name } })
      expect(structured(gone).error._tag).toBe("NotFound")
    })

    it("refuses a forged Host header (DNS rebinding)", async () => {
      if (mounted.fetch !== undefined) {
        const res = await mounted.fetch(new URL("http://evil.example/mcp"), { method: "POST", body: "{}" })
        expect(res.status).toBe(403)
        return
      }
      const { request } = await import("node:http")
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          mounted.url,
          { method: "POST", headers: { host: "evil.example", "content-type": "application/json" } },
          (res) => {
            res.resume()
            resolve(res.statusCode ?? 0)
          }
        )
        req.on("error", reject)
        req.end("{}")
      })
      expect(status).toBe(403)
    })
  })
}
