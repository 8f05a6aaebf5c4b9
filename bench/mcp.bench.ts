// MCP adapter benchmark:
//   npm run bench:mcp     (node --conditions=@data-mcp/source --import tsx bench/mcp.bench.ts)
//
// 32 concurrent official MCP clients (Streamable HTTP over loopback, modern era) call, for PHASE_MS each:
//   bare    a bare SDK v2 server (createMcpHandler) answering one trivial tool — the reference
//   list    the adapter's list_pipelines
//   preview the adapter's preview_pipeline, 100 records (generated customers, after transforms)
// Both servers run in this process on node:http, the same way; the clients run in a child process, so they do
// not share the servers' event loop. Prints calls/s and p50/p99 latency per phase and
// the adapter/bare throughput ratio for list_pipelines. Targets: ratio ≥ 0.7, list_pipelines p99 < 20 ms.
// JWT auth and RBAC are not in the adapter yet (the security issue); once they land, the adapter phases run with them.

import { fork } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { createMcpServer } from "@data-mcp/mcp-adapter"
import { listen } from "@data-mcp/mcp-adapter/node"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { type NodeIncomingMessageLike, toNodeHandler } from "@modelcontextprotocol/node"
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server"
import { Schema } from "effect"
import { demoSet } from "../examples/mcp-pipelines/set.ts"

const CLIENTS = 32
const PHASE_MS = Number(process.env.PHASE_MS ?? 8000)
const WARMUP_MS = 1500

const toStandard = <S extends Schema.Top>(s: S) =>
  Schema.toStandardJSONSchemaV1(Schema.toStandardSchemaV1(s as unknown as Schema.Codec<S["Type"], S["Encoded"]>))

// The reference: a bare SDK server with one trivial tool, on node:http like the adapter.
const bare = async () => {
  const handler = createMcpHandler(() => {
    const server = new McpServer({ name: "bare", version: "1.0.0" })
    server.registerTool(
      "ping_tool",
      {
        description: "Answers pong",
        inputSchema: toStandard(Schema.Struct({})),
        outputSchema: toStandard(Schema.Struct({ pong: Schema.Boolean }))
      },
      async () => ({ content: [{ type: "text", text: "pong" }], structuredContent: { pong: true } })
    )
    return server
  })
  const node = toNodeHandler(handler)
  const http = createServer((req, res) => void node(req as NodeIncomingMessageLike, res))
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve))
  const { port } = http.address() as AddressInfo
  return {
    url: new URL(`http://127.0.0.1:${port}/mcp`),
    close: async () => {
      http.closeAllConnections()
      await new Promise((resolve) => http.close(resolve))
      await handler.close()
    }
  }
}

const connectAll = (url: URL) =>
  Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const client = new Client({ name: "bench", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } })
      await client.connect(new StreamableHTTPClientTransport(url))
      return client
    })
  )

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN

const phase = async (clients: ReadonlyArray<Client>, call: (c: Client) => Promise<unknown>) => {
  const runFor = async (ms: number, latencies?: Array<number>) => {
    const end = performance.now() + ms
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < end) {
          const t0 = performance.now()
          const result = (await call(client)) as { isError?: boolean }
          if (result.isError === true) throw new Error(`tool error: ${JSON.stringify(result)}`)
          latencies?.push(performance.now() - t0)
        }
      })
    )
  }
  await runFor(WARMUP_MS)
  const latencies: Array<number> = []
  const t0 = performance.now()
  await runFor(PHASE_MS, latencies)
  const seconds = (performance.now() - t0) / 1000
  latencies.sort((a, b) => a - b)
  return { callsPerSecond: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99) }
}

type Phase = "bare" | "list" | "preview"
type Result = { readonly callsPerSecond: number; readonly p50: number; readonly p99: number }

const calls: Record<Phase, (c: Client) => Promise<unknown>> = {
  bare: (c) => c.callTool({ name: "ping_tool", arguments: {} }),
  list: (c) => c.callTool({ name: "list_pipelines", arguments: {} }),
  preview: (c) =>
    c.callTool({
      name: "preview_pipeline",
      arguments: { name: "customers_to_jsonl", params: { count: 1000 }, limit: 100 }
    })
}

// In the child: connect the clients to one URL, run one phase, report.
const inChild = async (job: { readonly url: string; readonly name: Phase }) => {
  const clients = await connectAll(new URL(job.url))
  const result = await phase(clients, calls[job.name])
  await Promise.all(clients.map((c) => c.close()))
  process.send?.(result)
}

const runPhase = (url: URL, name: Phase) =>
  new Promise<Result>((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ["--conditions=@data-mcp/source", "--import", "tsx"],
      env: { ...process.env, MCP_BENCH_JOB: JSON.stringify({ url: url.href, name }) }
    })
    child.once("message", (result) => resolve(result as Result))
    child.once("error", reject)
    child.once("exit", (code) => (code === 0 ? undefined : reject(new Error(`the client process exited with ${code}`))))
  })

const main = async () => {
  const out = mkdtempSync(join(tmpdir(), "dm-bench-mcp-"))
  const reference = await bare()
  const adapter = await createMcpServer(demoSet(out), { inMemory: true, purgeIntervalMs: 0 })
  const http = await listen(adapter)
  try {
    const bareResult = await runPhase(reference.url, "bare")
    const listResult = await runPhase(http.url, "list")
    const previewResult = await runPhase(http.url, "preview")
    const row = (name: string, r: Result) =>
      `${name.padEnd(34)} ${r.callsPerSecond.toFixed(0).padStart(8)} calls/s   p50 ${r.p50.toFixed(2).padStart(7)} ms   p99 ${r.p99.toFixed(2).padStart(7)} ms`
    console.log(
      `${CLIENTS} concurrent clients (one client process), ${PHASE_MS / 1000} s per phase, node ${process.version}`
    )
    console.log(row("bare SDK server, trivial tool", bareResult))
    console.log(row("adapter list_pipelines", listResult))
    console.log(row("adapter preview_pipeline (100 rec)", previewResult))
    const ratio = listResult.callsPerSecond / bareResult.callsPerSecond
    console.log(
      `list_pipelines / bare throughput: ${ratio.toFixed(2)}× (target ≥ 0.70); p99 ${listResult.p99.toFixed(2)} ms (target < 20 ms)`
    )
    if (ratio < 0.7 || listResult.p99 >= 20) process.exitCode = 1
  } finally {
    await http.close()
    await adapter.close()
    await reference.close()
    rmSync(out, { recursive: true, force: true })
  }
}

const job = process.env.MCP_BENCH_JOB
await (job === undefined ? main() : inChild(JSON.parse(job) as { url: string; name: Phase }))
