// MCP inside an existing Hono app, at /api/mcp, served by @hono/node-server on 127.0.0.1.
// Run: node --conditions=@data-mcp/source --import tsx examples/mcp-hono/main.ts
import { join } from "node:path"
import { createMcpServer } from "@data-mcp/mcp-adapter"
import { mcpHono } from "@data-mcp/mcp-adapter/hono"
import { serve } from "@hono/node-server"
import { Hono } from "hono"
import { demoSet } from "../mcp-pipelines/set.ts"

const out = join(import.meta.dirname, "out")
const server = await createMcpServer(demoSet(out), { directory: join(out, ".data-mcp") })

const app = new Hono()
app.get("/healthz", (c) => c.json({ ok: true }))
app.all("/api/mcp", mcpHono(server))

const port = Number(process.env.PORT ?? 3335)
const http = serve({ fetch: app.fetch, port, hostname: "127.0.0.1" }, () =>
  console.log(`MCP endpoint: http://127.0.0.1:${port}/api/mcp`)
)

process.once("SIGINT", async () => {
  http.close()
  await server.close()
})
