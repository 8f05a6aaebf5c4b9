/**
 * The one web-standard path: `(Request) => Promise<Response>` over the SDK's stateless `createMcpHandler`, which
 * serves both protocol eras, behind Host and Origin checks against DNS rebinding. Every HTTP mounting (Node,
 * Express, Hono) goes through it.
 *
 * @since 0.1.0
 */
import {
  createMcpHandler,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  type McpHandlerRequestOptions,
  type McpServerFactory,
  originValidationResponse,
  validateHostHeader
} from "@modelcontextprotocol/server"

/**
 * Which `Host` and `Origin` values are served. Defaults: localhost names only (`localhost`, `127.0.0.1`,
 * `[::1]`). Behind a proxy or on a public name, list the names the app is reached by; `"any"` turns a check off.
 *
 * @category models
 * @since 0.1.0
 */
export interface HandlerOptions {
  /** Hostnames (no port) accepted in `Host`. */
  readonly allowedHosts?: ReadonlyArray<string> | "any" | undefined
  /** Hostnames accepted in `Origin` (requests without an `Origin` header always pass). */
  readonly allowedOrigins?: ReadonlyArray<string> | "any" | undefined
}

/**
 * A web-standard MCP endpoint.
 *
 * @category models
 * @since 0.1.0
 */
export interface Handler {
  /** Answers one HTTP request: `authInfo` is the verified caller (from the host's auth), `parsedBody` a parsed JSON body. */
  readonly fetch: (request: Request, options?: McpHandlerRequestOptions) => Promise<Response>
  /** Tells open `subscriptions/listen` streams (modern clients) that the tool and resource lists changed. */
  readonly notifyListsChanged: () => void
  readonly close: () => Promise<void>
}

// A request built in-process (`new Request(url)`) has no Host header: its URL's host stands in, so the check
// still applies to what the request claims to address.
const hostRefusal = (request: Request, allowed: ReadonlyArray<string>): Response | undefined => {
  const result = validateHostHeader(request.headers.get("host") ?? new URL(request.url).host, [...allowed])
  return result.ok
    ? undefined
    : Response.json({ jsonrpc: "2.0", error: { code: -32000, message: result.message }, id: null }, { status: 403 })
}

/**
 * Makes the endpoint from a server factory (one SDK server instance per request).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (factory: McpServerFactory, options?: HandlerOptions): Handler => {
  const handler = createMcpHandler(factory)
  const hosts = options?.allowedHosts ?? localhostAllowedHostnames()
  const origins = options?.allowedOrigins ?? localhostAllowedOrigins()
  return {
    fetch: (request, requestOptions) => {
      const refused =
        (hosts === "any" ? undefined : hostRefusal(request, hosts)) ??
        (origins === "any" ? undefined : originValidationResponse(request, [...origins]))
      return refused === undefined ? handler.fetch(request, requestOptions) : Promise.resolve(refused)
    },
    notifyListsChanged: () => {
      handler.notify.toolsChanged()
      handler.notify.resourcesChanged()
    },
    close: () => handler.close()
  }
}
