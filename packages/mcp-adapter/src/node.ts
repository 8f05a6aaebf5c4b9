/**
 * Mounting on Node's `http` module: a request listener for an existing `http.Server`, and `listen` to start a
 * loopback server in one call. Both go through the web-standard handler (Host/Origin checks included).
 *
 * @since 0.1.0
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { type NodeIncomingMessageLike, toNodeHandler } from "@modelcontextprotocol/node"
import type { DataMcpServer } from "./McpServer.ts"

/**
 * A Node request listener serving MCP on every request it is given (route to it by path yourself). A body already
 * parsed by the app (`req.body`) is used as is.
 *
 * **Example** (Inside an existing `http` server, at `/mcp`)
 *
 * ```ts
 * import { createServer } from "node:http"
 * import { toNodeListener } from "@data-mcp/mcp-adapter/node"
 * declare const server: import("@data-mcp/mcp-adapter").DataMcpServer
 *
 * const mcp = toNodeListener(server)
 * createServer((req, res) => (req.url?.startsWith("/mcp") ? mcp(req, res) : res.writeHead(404).end())).listen(3000, "127.0.0.1")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const toNodeListener = (
  server: DataMcpServer
): ((req: IncomingMessage & { body?: unknown }, res: ServerResponse) => void) => {
  const node = toNodeHandler({ fetch: server.fetch })
  return (req, res) => {
    node(req as NodeIncomingMessageLike, res, req.body).catch((error: unknown) => {
      console.error("[data-mcp] request failed", error)
      if (!res.headersSent) res.writeHead(500).end()
    })
  }
}

/**
 * A running HTTP endpoint.
 *
 * @category models
 * @since 0.1.0
 */
export interface Listening {
  /** The MCP endpoint's URL (`http://127.0.0.1:<port><path>`). */
  readonly url: URL
  readonly server: Server
  /** Stops accepting connections and closes open ones. */
  readonly close: () => Promise<void>
}

/**
 * Starts an HTTP server serving MCP at `path` (default `/mcp`) on `host` (default `127.0.0.1`) and `port`
 * (default 0: any free port), with `/healthz`, `/readyz` and (with metrics) `/metrics` beside it, and the RFC 9728
 * metadata at `/.well-known/oauth-protected-resource/...` when `auth` is set. Other paths answer 404.
 *
 * @category constructors
 * @since 0.1.0
 */
export const listen = async (
  server: DataMcpServer,
  options?: { readonly port?: number; readonly host?: string; readonly path?: string }
): Promise<Listening> => {
  const path = options?.path ?? "/mcp"
  const host = options?.host ?? "127.0.0.1"
  const mcp = toNodeListener(server)
  // Besides the MCP path: the RFC 9728 metadata (with auth) and /healthz, /readyz, /metrics.
  const other = toNodeHandler({
    fetch: async (request: Request) =>
      server.metadata(request) ??
      (await server.operations(request)) ??
      new Response("Not found", { status: 404, headers: { "content-type": "text/plain" } })
  })
  const http = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost")
    if (url.pathname === path) mcp(req, res)
    else
      other(req as NodeIncomingMessageLike, res).catch((error: unknown) => {
        console.error("[data-mcp] request failed", error)
        if (!res.headersSent) res.writeHead(500).end()
      })
  })
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject)
    http.listen(options?.port ?? 0, host, () => resolve())
  })
  const { port } = http.address() as AddressInfo
  return {
    url: new URL(`http://${host.includes(":") ? `[${host}]` : host}:${port}${path}`),
    server: http,
    close: () =>
      new Promise<void>((resolve, reject) => {
        http.close((error) => (error === undefined ? resolve() : reject(error)))
        http.closeAllConnections()
      })
  }
}
