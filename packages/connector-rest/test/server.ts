// A real node:http server on 127.0.0.1 (port 0) for the tests: a fake SaaS API whose records, pagination and
// faults each test sets. It is the allowed stand-in for a remote API — it exercises undici over loopback, and
// nothing of the connector is mocked. Every request is logged (method, path, query, headers, body).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect, type Scope } from "effect"

export interface Logged {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly headers: IncomingMessage["headers"]
  readonly body: string
}

export type Handler = (request: Logged, response: ServerResponse, n: number) => unknown

export interface Server {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  readonly log: Array<Logged>
}

/** Starts a loopback server for the scope; `handler` gets each request with its 1-based number. */
export const serve = (handler: Handler): Effect.Effect<Server, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const log: Array<Logged> = []
      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          const url = new URL(req.url ?? "/", "http://127.0.0.1")
          const logged: Logged = {
            method: req.method ?? "GET",
            path: url.pathname,
            query: url.searchParams,
            headers: req.headers,
            body: Buffer.concat(chunks).toString("utf8")
          }
          log.push(logged)
          Promise.resolve(handler(logged, res, log.length)).catch((e) => {
            res.writeHead(500).end(String(e))
          })
        })
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const port = (server.address() as AddressInfo).port
      return { url: `http://127.0.0.1:${port}`, port, log, server }
    }),
    ({ server }) =>
      Effect.promise(
        () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections()
            server.close(() => resolve())
          })
      )
  )

/** Answers with a JSON body; returns true (the request was answered). */
export const sendJson = (
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {}
): true => {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body))
  return true
}

/** Answers with raw text; returns true. */
export const sendRaw = (res: ServerResponse, status: number, text: string): true => {
  res.writeHead(status, { "content-type": "application/json" }).end(text)
  return true
}

/** Resets the connection without an answer; returns true. */
export const reset = (res: ServerResponse): true => {
  res.socket?.destroy()
  return true
}

/** `n` records `{ id, name, updated_at }` with increasing update times. */
export const records = (n: number, offset = 0) =>
  Array.from({ length: n }, (_, i) => ({
    id: `r${i + offset}`,
    name: `record ${i + offset}`,
    updated_at: new Date(Date.UTC(2026, 0, 1) + (i + offset) * 1000).toISOString()
  }))

export type Strategy = "page" | "pageTotal" | "offset" | "cursor" | "nextUrl" | "link" | "none"

/**
 * Serves `data` at `/items` with a pagination strategy; `faults(request, n)` may answer a request first (return
 * true when it did). `updated_since` filters by `updated_at`.
 */
export const api =
  (
    data: () => ReadonlyArray<{ readonly updated_at: string }>,
    strategy: Strategy,
    pageSize: number,
    faults?: (request: Logged, res: ServerResponse, n: number) => boolean | Promise<boolean>
  ): Handler =>
  async (request, res, n) => {
    if (faults !== undefined && (await faults(request, res, n))) return
    if (request.path !== "/items") return sendJson(res, 404, { error: "not found" })
    const since = request.query.get("updated_since")
    const all = data().filter((r) => since === null || r.updated_at > since)
    const q = request.query
    let start = 0
    switch (strategy) {
      case "page":
      case "pageTotal":
        start = (Number(q.get("page") ?? 1) - 1) * pageSize
        break
      case "offset":
        start = Number(q.get("offset") ?? 0)
        break
      case "cursor":
        start = q.get("cursor") === null ? 0 : Number(Buffer.from(q.get("cursor")!, "base64url").toString())
        break
      case "nextUrl":
      case "link":
        start = Number(q.get("from") ?? 0)
        break
    }
    const size = strategy === "offset" ? Number(q.get("limit")) : pageSize
    const items = strategy === "none" ? all : all.slice(start, start + size)
    const more = strategy !== "none" && start + size < all.length
    const nextFrom = start + size
    const nextQuery = new URLSearchParams(q)
    nextQuery.set("from", String(nextFrom))
    const body: Record<string, unknown> = { data: { items } }
    if (strategy === "pageTotal") body.total = all.length
    if (strategy === "cursor") body.meta = { next: more ? Buffer.from(String(nextFrom)).toString("base64url") : null }
    if (strategy === "nextUrl") body.links = { next: more ? `/items?${nextQuery}` : null }
    const headers: Record<string, string> =
      strategy === "link" && more ? { link: `</items?${nextQuery}>; rel="next", </items>; rel="first"` } : {}
    sendJson(res, 200, body, headers)
  }

/** The source pagination option for a strategy. */
export const pagination = (strategy: Strategy, pageSize: number) => {
  switch (strategy) {
    case "page":
      return { type: "page", size: pageSize } as const
    case "pageTotal":
      return { type: "page", totalPath: "total" } as const
    case "offset":
      return { type: "offset", limit: pageSize } as const
    case "cursor":
      return { type: "cursor", path: "meta.next", param: "cursor" } as const
    case "nextUrl":
      return { type: "nextUrl", path: "links.next" } as const
    case "link":
      return { type: "link" } as const
    case "none":
      return { type: "none" } as const
  }
}
