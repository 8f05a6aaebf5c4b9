/**
 * Serving over stdio, for agents that start the host app as a child process. Both protocol eras; the caller is
 * the server's `anonymous` caller (a local user), since stdio carries no token.
 *
 * @since 0.1.0
 */
import { serveStdio as sdkServeStdio } from "@modelcontextprotocol/server/stdio"
import type { DataMcpServer } from "./McpServer.ts"

/**
 * Serves the server on this process's stdin/stdout until stdin closes. Nothing else may write to stdout.
 *
 * **Example** (A stdio entry point)
 *
 * ```ts
 * import { serveStdio } from "@data-mcp/mcp-adapter/stdio"
 * declare const server: import("@data-mcp/mcp-adapter").DataMcpServer
 *
 * const connection = serveStdio(server)
 * process.on("SIGTERM", () => void connection.close())
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const serveStdio = (server: DataMcpServer): { readonly close: () => Promise<void> } =>
  sdkServeStdio(server.factory("stdio"))
