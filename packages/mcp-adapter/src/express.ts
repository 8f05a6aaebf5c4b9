/**
 * Mounting in an Express app at any path: `app.use("/mcp", mcpExpress(server))`. The middleware serves MCP and
 * leaves the app's other routes alone. A body parsed by `express.json()` is used; `req.auth` (set by an auth
 * middleware such as the SDK's `requireBearerAuth`) becomes the caller's `AuthInfo`.
 *
 * @since 0.1.0
 */
import { toNodeHandler } from "@modelcontextprotocol/node"
import type { NextFunction, Request, RequestHandler, Response } from "express"
import type { DataMcpServer } from "./McpServer.ts"

/**
 * Express middleware serving MCP.
 *
 * **Example** (In an existing app, next to its routes)
 *
 * ```ts
 * import express from "express"
 * import { mcpExpress } from "@data-mcp/mcp-adapter/express"
 * declare const server: import("@data-mcp/mcp-adapter").DataMcpServer
 *
 * const app = express()
 * app.get("/healthz", (_req, res) => void res.json({ ok: true }))
 * app.use("/mcp", express.json(), mcpExpress(server))
 * app.listen(3000, "127.0.0.1")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const mcpExpress = (server: DataMcpServer): RequestHandler => {
  const node = toNodeHandler({ fetch: server.fetch })
  return (req: Request, res: Response, next: NextFunction) => {
    node(req, res, req.body).catch(next)
  }
}
