// MCP inside an existing Express app, at /api/mcp, next to the app's own routes.
// Run: node --conditions=@data-mcp/source --import tsx examples/mcp-express/main.ts
import { join } from "node:path"
import { createMcpServer } from "@data-mcp/mcp-adapter"
import { mcpExpress } from "@data-mcp/mcp-adapter/express"
import express from "express"
import { demoSet } from "../mcp-pipelines/set.ts"

const out = join(import.meta.dirname, "out")
const server = await createMcpServer(demoSet(out), { directory: join(out, ".data-mcp") })

const app = express()
app.get("/healthz", (_req, res) => void res.json({ ok: true }))
app.use("/api/mcp", express.json(), mcpExpress(server))

const port = Number(process.env.PORT ?? 3334)
const http = app.listen(port, "127.0.0.1", () => console.log(`MCP endpoint: http://127.0.0.1:${port}/api/mcp`))

process.once("SIGINT", async () => {
  http.close()
  await server.close()
})
