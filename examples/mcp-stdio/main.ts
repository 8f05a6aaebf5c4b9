// MCP over stdio, for agents that start the app as a child process. Logs go to stderr: stdout is the protocol.
// Run (from an MCP client config): node --conditions=@data-mcp/source --import tsx examples/mcp-stdio/main.ts
import { join } from "node:path"
import { createMcpServer } from "@data-mcp/mcp-adapter"
import { serveStdio } from "@data-mcp/mcp-adapter/stdio"
import { demoSet, demoTemplates } from "../mcp-pipelines/set.ts"

const out = process.env.DATA_MCP_OUT ?? join(import.meta.dirname, "out")
const server = await createMcpServer(demoSet(out), { directory: join(out, ".data-mcp"), templates: demoTemplates(out) })
const connection = serveStdio(server)
process.stdin.once("end", async () => {
  await connection.close()
  await server.close()
})
