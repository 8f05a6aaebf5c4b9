/**
 * The one web-standard path: `(Request) => Promise<Response>` over the SDK's stateless `createMcpHandler`, which
 * serves both protocol eras, behind Host and Origin checks against DNS rebinding. Every HTTP mounting (Node,
 * Express, Hono) goes through it.
 *
 * @since 0.1.0
 */
import {
  type AuthInfo,
  createMcpHandler,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  type McpHandlerRequestOptions,
  type McpServerFactory,
  originValidationResponse,
  validateHostHeader
} from "@modelcontextprotocol/server"
import type * as Auth from "./Auth.ts"

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
  /**
   * Verifies every request's bearer JWT or API key (`Auth.make`) and serves the RFC 9728 metadata; a refused
   * request is answered 401 (503 while the issuer's keys cannot be fetched) before any MCP handling.
   */
  readonly auth?: Auth.Authenticator | undefined
}

/**
 * What the handler reports of requests it refuses before any tool runs (unauthenticated, or a token lacking a
 * scope), for the audit trail.
 *
 * @category models
 * @since 0.1.0
 */
export interface Refusal {
  readonly status: number
  /** `insufficient_scope`, or the authentication layer's reason (`expired`, `unknown_kid`, …). */
  readonly reason: string
  /** Safe facts for the audit trail (never a credential). */
  readonly detail: string
  /** The tool or method the request named, when it named one. */
  readonly tool?: string | undefined
  readonly principal?: Auth.Principal | undefined
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
  /**
   * Answers a GET of the RFC 9728 protected-resource metadata (at the origin's
   * `/.well-known/oauth-protected-resource/<path>`) when `auth` is set; `undefined` for any other request. Hosts
   * that mount the endpoint under a path of their own app route that well-known path here.
   */
  readonly metadata: (request: Request) => Response | undefined
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

/** The verified principal a request carries in its `AuthInfo` (set by `make` after `Auth` accepted it). */
export const principalOf = (authInfo: AuthInfo | undefined): Auth.Principal | undefined =>
  authInfo?.extra?.principal as Auth.Principal | undefined

// The SDK's AuthInfo for a verified principal. The credential itself is not kept: it reaches no handler, tool or
// connector.
const authInfoOf = (principal: Auth.Principal): AuthInfo => ({
  token: "(verified)",
  clientId: principal.clientId ?? principal.subject,
  scopes: [...(principal.scopes ?? [])],
  ...(principal.expiresAt === undefined ? {} : { expiresAt: principal.expiresAt }),
  extra: { principal }
})

const toolOf = (request: Request): string | undefined =>
  request.headers.get("mcp-name") ?? request.headers.get("mcp-method") ?? undefined

/**
 * Makes the endpoint from a server factory (one SDK server instance per request).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  factory: McpServerFactory,
  options?: HandlerOptions & { readonly onRefused?: ((refusal: Refusal) => Promise<void>) | undefined }
): Handler => {
  const handler = createMcpHandler(factory)
  const hosts = options?.allowedHosts ?? localhostAllowedHostnames()
  const origins = options?.allowedOrigins ?? localhostAllowedOrigins()
  const auth = options?.auth
  const onRefused = options?.onRefused
  // A refusal that cannot be recorded is still a refusal: the answer stands; the failure is the host's to see.
  const report = (refusal: Refusal) =>
    onRefused === undefined
      ? Promise.resolve()
      : onRefused(refusal).catch((error: unknown) =>
          console.error("[data-mcp] could not record a refused request in the audit trail", error)
        )
  const serve = async (request: Request, requestOptions?: McpHandlerRequestOptions): Promise<Response> => {
    if (auth === undefined) return handler.fetch(request, requestOptions)
    const metadata = auth.metadata(request)
    if (metadata !== undefined) return metadata
    const outcome = await auth.authenticate(request)
    if (outcome._tag === "Refused") {
      await report({ status: outcome.status, reason: outcome.reason, detail: outcome.detail, tool: toolOf(request) })
      return outcome.response
    }
    const response = await handler.fetch(request, { ...requestOptions, authInfo: authInfoOf(outcome.principal) })
    // The SDK answers a missing scope (a tool's scope challenge) itself, before any tool runs: recorded here.
    if (response.status === 403 && (response.headers.get("www-authenticate") ?? "").includes("insufficient_scope")) {
      const scope = /scope="([^"]*)"/.exec(response.headers.get("www-authenticate") ?? "")?.[1] ?? ""
      await report({
        status: 403,
        reason: "insufficient_scope",
        detail: `missing scope ${scope}`,
        tool: toolOf(request),
        principal: outcome.principal
      })
    }
    return response
  }
  return {
    fetch: (request, requestOptions) => {
      const refused =
        (hosts === "any" ? undefined : hostRefusal(request, hosts)) ??
        (origins === "any" ? undefined : originValidationResponse(request, [...origins]))
      return refused === undefined ? serve(request, requestOptions) : Promise.resolve(refused)
    },
    metadata: (request) => auth?.metadata(request),
    notifyListsChanged: () => {
      handler.notify.toolsChanged()
      handler.notify.resourcesChanged()
    },
    close: () => handler.close()
  }
}
