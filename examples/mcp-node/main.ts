// MCP over Node's http module: `listen` serves the demo set at http://127.0.0.1:3333/mcp.
// Run: node --conditions=@data-mcp/source --import tsx examples/mcp-node/main.ts
import { join } from "node:path"
import { createMcpServer } from "@data-mcp/mcp-adapter"
import { listen } from "@data-mcp/mcp-adapter/node"
import { demoSet } from "../mcp-pipelines/set.ts"

const out = join(import.meta.dirname, "out")
const server = await createMcpServer(demoSet(out), { directory: join(out, ".data-mcp") })
const http = await listen(server, { port: Number(process.env.PORT ?? 3333) })
console.log(`MCP endpoint: ${http.url}`)

process.once("SIGINT", async () => {
  await http.close()
  await server.close()
})
