/**
 * Mounting in a Hono app at any path: `app.all("/mcp", mcpHono(server))`. Hono hands over the web-standard
 * request, so this is the handler itself.
 *
 * @since 0.1.0
 */
import type { AuthInfo } from "@modelcontextprotocol/server"
import type { Context } from "hono"
import type { DataMcpServer } from "./McpServer.ts"

/**
 * A Hono handler serving MCP. An `authInfo` the app stored on the context (`c.set("authInfo", …)`) becomes the
 * caller's `AuthInfo`.
 *
 * **Example** (In an existing app)
 *
 * ```ts
 * import { Hono } from "hono"
 * import { mcpHono } from "@data-mcp/mcp-adapter/hono"
 * declare const server: import("@data-mcp/mcp-adapter").DataMcpServer
 *
 * const app = new Hono()
 * app.get("/healthz", (c) => c.json({ ok: true }))
 * app.all("/mcp", mcpHono(server))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const mcpHono =
  (server: DataMcpServer) =>
  (c: Context): Promise<Response> => {
    const authInfo = c.get("authInfo" as never) as AuthInfo | undefined
    return server.fetch(c.req.raw, authInfo === undefined ? undefined : { authInfo })
  }
