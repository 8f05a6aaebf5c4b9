/**
 * `@data-mcp/mcp-adapter`: any pipeline set as an MCP server inside the host app. `createMcpServer(set)` gives
 * the tools, resources and a web-standard handler; the `./node`, `./express`, `./hono` and `./stdio` subpaths
 * mount it. Built on the MCP TypeScript SDK v2.
 *
 * @since 0.1.0
 */
export * as Audit from "./Audit.ts"
export * as Auth from "./Auth.ts"
export * as Handler from "./handler.ts"
export * as McpError from "./McpError.ts"
export * as McpServer from "./McpServer.ts"
export { type CreateOptions, createMcpServer, type DataMcpServer, type McpServerOptions } from "./McpServer.ts"
export * as Metrics from "./Metrics.ts"
export * as Operations from "./Operations.ts"
export * as Policy from "./Policy.ts"
export * as Preview from "./Preview.ts"
export type { Caller, Permission } from "./RequestContext.ts"
export * as RequestContext from "./RequestContext.ts"
export * as Runs from "./Runs.ts"
