// OpenTelemetry traces through effect/observability, exported to an in-process OTLP/HTTP collector stand-in on
// loopback: a tool call's span follows the OTel MCP conventions and its caller's traceparent, and the detached run
// it starts has its own span, linked to the tool call's.
import { createServer, type IncomingMessage } from "node:http"
import type { AddressInfo } from "node:net"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createMcpServer, type DataMcpServer } from "../src/index.ts"
import { listen } from "../src/node.ts"
import { makeSet, structured } from "./harness.ts"

interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind: number
  readonly attributes: ReadonlyArray<{ key: string; value: Record<string, unknown> }>
  readonly links?: ReadonlyArray<{ traceId: string; spanId: string }>
}

const body = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = ""
    req.setEncoding("utf8")
    req.on("data", (chunk: string) => {
      text += chunk
    })
    req.on("end", () => resolve(text))
  })

describe("tracing", () => {
  const spans: Array<OtlpSpan> = []
  const collector = createServer(async (req, res) => {
    if (req.method === "POST" && req.url === "/v1/traces") {
      const payload = JSON.parse(await body(req)) as {
        resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<OtlpSpan> }> }>
      }
      for (const r of payload.resourceSpans) for (const s of r.scopeSpans) spans.push(...s.spans)
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    } else res.writeHead(404).end()
  })
  let server: DataMcpServer
  let http: Awaited<ReturnType<typeof listen>>

  beforeAll(async () => {
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve))
    const { port } = collector.address() as AddressInfo
    server = await createMcpServer(makeSet().set, {
      inMemory: true,
      purgeIntervalMs: 0,
      tracing: { url: `http://127.0.0.1:${port}/v1/traces`, serviceName: "tracing-test", exportIntervalMs: 100 }
    })
    http = await listen(server)
  })
  afterAll(async () => {
    await http.close()
    await server.close()
    collector.closeAllConnections()
    await new Promise((resolve) => collector.close(resolve))
  })

  const attr = (span: OtlpSpan, key: string) => {
    const v = span.attributes.find((a) => a.key === key)?.value
    return v === undefined ? undefined : Object.values(v)[0]
  }

  it("exports the tool span under the caller's traceparent, and the run span linked to it", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
    const callerSpan = "00f067aa0ba902b7"
    const client = new Client({ name: "traced", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } })
    await client.connect(
      new StreamableHTTPClientTransport(http.url, {
        requestInit: { headers: { "x-test-user": "alice", traceparent: `00-${traceId}-${callerSpan}-01` } }
      })
    )
    const run = structured(await client.callTool({ name: "run_pipeline", arguments: { name: "orders" } }))
    expect(run.status).toBe("succeeded")
    const failed = await client.callTool({ name: "describe_pipeline", arguments: { name: "nope" } })
    expect(failed.isError).toBe(true)
    await client.close()
    const deadline = Date.now() + 10_000
    const find = (name: string) => spans.find((s) => s.name === name)
    while (
      (find("data-mcp.run") === undefined || find("tools/call describe_pipeline") === undefined) &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 50))

    const tool = find("tools/call run_pipeline")
    expect(tool).toBeDefined()
    expect(tool?.traceId).toBe(traceId)
    expect(tool?.parentSpanId).toBe(callerSpan)
    expect(tool?.kind).toBe(2) // SERVER
    expect(attr(tool!, "mcp.method.name")).toBe("tools/call")
    expect(attr(tool!, "gen_ai.tool.name")).toBe("run_pipeline")
    const runSpan = find("data-mcp.run")
    expect(runSpan).toBeDefined()
    expect(runSpan?.parentSpanId ?? "").toBe("")
    expect(runSpan?.links).toContainEqual(expect.objectContaining({ traceId, spanId: tool?.spanId }))
    expect(attr(runSpan!, "data-mcp.run.id")).toBe(run.runId)
    expect(attr(find("tools/call describe_pipeline")!, "error.type")).toBe("tool_error")
  })
})
