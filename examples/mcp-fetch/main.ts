// The web-standard handler: `server.fetch` is a `(Request) => Promise<Response>`, the shape Deno, Bun and
// Cloudflare Workers serve (`export default { fetch: server.fetch }`). Here the official MCP client calls it
// in-process, with no socket, and lists the tools.
// Run: node --conditions=@data-mcp/source --import tsx examples/mcp-fetch/main.ts
import { join } from "node:path"
import { createMcpServer } from "@data-mcp/mcp-adapter"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { demoSet } from "../mcp-pipelines/set.ts"

const out = join(import.meta.dirname, "out")
await using server = await createMcpServer(demoSet(out), { inMemory: true })

const client = new Client({ name: "fetch-example", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } })
await client.connect(
  new StreamableHTTPClientTransport(new URL("http://localhost/mcp"), {
    fetch: (url, init) => server.fetch(new Request(url, init))
  })
)
const { tools } = await client.listTools()
console.log(`${client.getProtocolEra()} era; tools: ${tools.map((t) => t.name).join(", ")}`)
await client.close()
