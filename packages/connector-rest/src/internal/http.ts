// The transport under the source and the sink: one undici Agent per read or sink open (keep-alive, connections
// per host = concurrency), the SSRF guard on every hop, redirects followed by hand, a token bucket per host,
// per-request timeouts, a response size limit, authentication (with one re-authentication on 401). Transport
// failures become classified ConnectorErrors; statuses are returned for the caller to judge (`expectOk`).
import { ConnectorError, RateLimiter } from "@data-mcp/core"
import { Effect, type Scope } from "effect"
import { Agent } from "undici"
import * as RestError from "../RestError.ts"
import type * as Auth from "./auth.ts"
import * as Ssrf from "./ssrf.ts"

/** What a client needs, fixed per source or sink instance (shared by its runs). */
export interface Settings {
  readonly connector: string
  readonly timeoutMs: number
  readonly maxResponseBytes: number
  readonly concurrency: number
  readonly maxRedirects: number
  readonly policy: Ssrf.Policy
  readonly rate?: RateLimiter.Rate | undefined
  /** Token buckets by host, shared by every run of the instance. */
  readonly limiters: Map<string, RateLimiter.RateLimiter>
  readonly auth?: Auth.Authenticator | undefined
  /** A query parameter holding a secret (an API key): dropped when a redirect leaves the origin. */
  readonly secretQuery?: string | undefined
  /** Headers every request sends (the config's `headers`). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/** A request: absolute URL, method, headers and an optional body. */
export interface Request {
  readonly method: string
  readonly url: URL
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly body?: string | undefined
  /** Skip authentication (the token request itself). */
  readonly anonymous?: boolean | undefined
}

/** A response with its whole body (as text). `url` is the last hop's URL (after redirects). */
export interface Response {
  readonly status: number
  readonly headers: Readonly<Record<string, string | Array<string> | undefined>>
  readonly body: string
  readonly url: URL
}

/** An open client: `send` a request; the Agent closes with the scope. */
export interface Client {
  readonly settings: Settings
  readonly send: (request: Request, operation: string) => Effect.Effect<Response, ConnectorError.ConnectorError>
}

/** `GET /path`: how a request is named in errors (never the query string, which may hold an API key). */
export const label = (method: string, url: URL): string => `${method} ${url.pathname}`

const limiterFor = (settings: Settings, host: string): RateLimiter.RateLimiter | undefined => {
  if (settings.rate === undefined) return undefined
  let limiter = settings.limiters.get(host)
  if (limiter === undefined) {
    limiter = RateLimiter.make(settings.rate)
    settings.limiters.set(host, limiter)
  }
  return limiter
}

class TooLarge extends Error {
  readonly code = "DATA_MCP_RESPONSE_TOO_LARGE"
}

/**
 * The body as text, never more than `limit` bytes: with a declared length (which undici enforces) it is read in
 * one go by undici's fast path; without one, it is streamed and counted.
 */
const readBody = async (
  body: AsyncIterable<Buffer> & {
    destroy: (e?: Error) => unknown
    on: (event: "error", listener: () => void) => unknown
    text: () => Promise<string>
  },
  declared: number,
  limit: number
): Promise<string> => {
  if (declared > limit) {
    body.on("error", () => undefined) // the abort this causes is expected; the TooLarge below reports it
    body.destroy()
    throw new TooLarge(`response body of ${declared} bytes`)
  }
  if (Number.isFinite(declared)) return body.text()
  const chunks: Array<Buffer> = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > limit) {
      const error = new TooLarge("response body")
      body.destroy(error)
      throw error
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, size).toString("utf8")
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/** Opens a client for one scope (a read, a sink's run). */
export const open = (settings: Settings): Effect.Effect<Client, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(
        () =>
          new Agent({
            connections: settings.concurrency,
            keepAliveTimeout: 10_000,
            headersTimeout: settings.timeoutMs,
            bodyTimeout: settings.timeoutMs,
            connect: { lookup: Ssrf.lookup(settings.policy), timeout: settings.timeoutMs }
          })
      ),
      (agent) => Effect.promise(() => agent.close().catch(() => undefined))
    ),
    (agent) => make(settings, agent)
  )

const make = (settings: Settings, agent: Agent): Client => {
  const fail = (operation: string, reason: ConnectorError.Reason) =>
    Effect.fail(RestError.make(settings.connector, operation, reason))

  /** One hop: no redirects, no auth. */
  const hop = (request: Request, headers: Record<string, string>, operation: string) =>
    Effect.tryPromise({
      try: async (signal) => {
        const response = await agent.request({
          origin: request.url.origin,
          path: `${request.url.pathname}${request.url.search}`,
          method: request.method as "GET",
          headers,
          body: request.body ?? null,
          signal
        })
        const declared = Number(response.headers["content-length"] ?? Number.NaN)
        const body = await readBody(response.body, declared, settings.maxResponseBytes)
        return { status: response.statusCode, headers: response.headers, body, url: request.url } satisfies Response
      },
      catch: (cause) => cause
    }).pipe(
      Effect.catch((cause) =>
        cause instanceof TooLarge
          ? fail(
              operation,
              new ConnectorError.Unknown({
                detail: `${label(request.method, request.url)}: ${cause.message}, over maxResponseBytes (${settings.maxResponseBytes})`
              })
            )
          : fail(operation, RestError.classify(cause, label(request.method, request.url)))
      )
    )

  /** Follows redirects, checking every hop's host with the SSRF guard (the socket's lookup checks names). */
  const follow = (request: Request, headers: Record<string, string>, operation: string) =>
    Effect.gen(function* () {
      let current = request
      let currentHeaders = headers
      for (let hops = 0; ; hops++) {
        const refused = Ssrf.checkHost(current.url.hostname, settings.policy)
        if (refused !== undefined) {
          return yield* fail(
            operation,
            RestError.classify(new Ssrf.Refused(refused), label(current.method, current.url))
          )
        }
        const limiter = limiterFor(settings, current.url.host)
        if (limiter !== undefined) yield* limiter.take(1)
        const response = yield* hop(current, currentHeaders, operation)
        const location = response.headers.location
        if (!REDIRECTS.has(response.status) || typeof location !== "string") return response
        if (hops >= settings.maxRedirects) {
          return yield* fail(
            operation,
            new ConnectorError.Unknown({
              detail: `${label(current.method, current.url)}: more than ${settings.maxRedirects} redirects`
            })
          )
        }
        const next = new URL(location, current.url)
        if (next.protocol !== "http:" && next.protocol !== "https:") {
          return yield* fail(
            operation,
            new ConnectorError.Unknown({ detail: `${label(current.method, current.url)}: redirect to a non-HTTP URL` })
          )
        }
        const toGet =
          response.status === 303 || ((response.status === 301 || response.status === 302) && current.method === "POST")
        if (next.origin !== current.url.origin) {
          // credentials never follow a redirect to another origin
          currentHeaders = Object.fromEntries(
            Object.entries(currentHeaders).filter(([k]) => !/^(authorization|cookie|proxy-authorization)$/i.test(k))
          )
          if (settings.secretQuery !== undefined) next.searchParams.delete(settings.secretQuery)
        }
        current = toGet ? { method: "GET", url: next } : { ...current, url: next }
      }
    })

  const send = (request: Request, operation: string): Effect.Effect<Response, ConnectorError.ConnectorError> =>
    Effect.gen(function* () {
      const auth = request.anonymous === true ? undefined : settings.auth
      const attempt = (url: URL) =>
        Effect.gen(function* () {
          const headers: Record<string, string> = {
            accept: "application/json",
            ...(request.body === undefined ? {} : { "content-type": "application/json" }),
            ...(request.anonymous === true ? {} : settings.headers),
            ...request.headers
          }
          const target = new URL(url)
          const used = auth === undefined ? undefined : yield* auth.apply(target, headers, client)
          return [yield* follow({ ...request, url: target }, headers, operation), used] as const
        })
      const [response, used] = yield* attempt(request.url)
      if (response.status === 401 && auth?.refresh !== undefined && used !== undefined) {
        yield* auth.refresh(used)
        return (yield* attempt(request.url))[0]
      }
      return response
    })

  const client: Client = { settings, send }
  return client
}

/** The response if its status is 2xx, else its classified error (`Retry-After` honoured). */
export const expectOk = (
  connector: string,
  operation: string,
  method: string,
  response: Response
): Effect.Effect<Response, ConnectorError.ConnectorError> =>
  response.status >= 200 && response.status < 300
    ? Effect.succeed(response)
    : Effect.fail(
        RestError.make(
          connector,
          operation,
          RestError.classifyStatus(
            response.status,
            label(method, response.url),
            RestError.retryAfterMs(response.headers["retry-after"])
          )
        )
      )
