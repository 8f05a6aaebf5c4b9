// Test pipelines and ways to connect the official MCP client to a server (each mounting style).
import type { AddressInfo } from "node:net"
import { Generator, Memory, Pipeline, PipelineSet, PipelineSpec, Sink, Transform } from "@data-mcp/core"
import { serve } from "@hono/node-server"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { Effect, Schema } from "effect"
import express from "express"
import { Hono } from "hono"
import { mcpExpress } from "../src/express.ts"
import { mcpHono } from "../src/hono.ts"
import { createMcpServer, type DataMcpServer, RequestContext } from "../src/index.ts"
import { listen } from "../src/node.ts"

export const orderRows = Array.from({ length: 30 }, (_, i) => ({
  id: i + 1,
  email: `buyer${i + 1}@example.com`,
  amount: (i + 1) * 1.5
}))

/** A set with: a fast pipeline with its own tool, a slow one, a wide one, a hidden one and a replace sink. */
export const makeSet = () => {
  const orders = Memory.sink({ transactional: true })
  const slow = Memory.sink({ transactional: true })
  const orderPipeline = Pipeline.make({
    name: "orders",
    version: "1.0.0",
    description: "Copies orders into the warehouse.",
    params: Schema.Struct({ region: Schema.optionalKey(Schema.Literals(["eu", "us"])) }),
    source: Memory.source(orderRows, { batchSize: 10 }),
    transforms: Transform.identity<(typeof orderRows)[number]>().pipe(
      Transform.map((r) => ({ ...r, cents: Math.round(r.amount * 100) }))
    ),
    sink: orders.sink,
    options: { sensitive: ["email"], mcp: { tool: true } }
  })
  const slowPipeline = Pipeline.make({
    name: "slow",
    version: "1.0.0",
    description: "Loads generated rows slowly (about 10 ms a record).",
    params: Schema.Struct({ count: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000 })) }),
    source: ({ count }) => Generator.source({ count, fields: ["id", "name"], batchSize: 5 }),
    transforms: Transform.identity<{ id: number; name: string }>().pipe(
      Transform.mapEffect((r) => Effect.as(Effect.sleep("10 millis"), r))
    ),
    sink: slow.sink,
    options: { batch: { rows: 5, maxWaitMs: 50 } }
  })
  const wideRows = Array.from({ length: 100 }, (_, i) =>
    Object.fromEntries(Array.from({ length: 60 }, (_, c) => [`column_${c}`, `${i}-${c}-${"x".repeat(80)}`]))
  )
  const widePipeline = Pipeline.make({
    name: "wide",
    version: "1.0.0",
    description: "A wide table: 60 text columns.",
    source: Memory.source(wideRows),
    sink: Memory.sink().sink
  })
  const hiddenPipeline = Pipeline.make({
    name: "hidden",
    version: "1.0.0",
    description: "Operator-only.",
    source: Memory.source([{ id: 1 }]),
    sink: Memory.sink().sink,
    options: { mcp: { exposure: "operator" } }
  })
  const replaceSink = Sink.make<unknown>({
    name: "snapshot",
    capabilities: { transactional: false, idempotent: true },
    disposition: Sink.replace,
    open: () => Effect.succeed({ write: (batch) => Effect.succeed({ written: batch.records.length }) })
  })
  const replacePipeline = Pipeline.make({
    name: "snapshot",
    version: "1.0.0",
    description: "Replaces a snapshot table.",
    source: Memory.source([{ id: 1 }]),
    sink: replaceSink,
    options: { mcp: { tool: true } }
  })
  return {
    set: PipelineSet.make("test", [orderPipeline, slowPipeline, widePipeline, hiddenPipeline, replacePipeline]),
    orders,
    slow
  }
}

export const template = Effect.runSync(
  PipelineSpec.parseTemplate(`name: sample_export
version: 1.0.0
description: Generates sample records into memory
params:
  count: { type: integer, minimum: 1, maximum: 1000, default: 10 }
secrets: []
source: { kind: generator, options: { count: { param: count } } }
sink: { kind: memory }
`)
)

/** Callers from a test header: `x-test-user: alice` (tenant-less), with agent permissions plus any in `x-test-grant`. */
export const headerCaller: RequestContext.CallerResolver = (info) => {
  const user = info.request?.headers.get("x-test-user") ?? "local"
  const extra = (info.request?.headers.get("x-test-grant") ?? "").split(",").filter((s) => s !== "")
  return RequestContext.make({
    subject: user,
    permissions: [...RequestContext.agentPermissions, ...(extra as Array<RequestContext.Permission>)]
  })
}

export const newServer = async (options?: { waitSeconds?: number }) => {
  const fixture = makeSet()
  const server = await createMcpServer(fixture.set, {
    inMemory: true,
    templates: [template],
    caller: headerCaller,
    waitSeconds: options?.waitSeconds ?? 20,
    purgeIntervalMs: 0
  })
  return { ...fixture, server }
}

export interface Mounted {
  readonly url: URL
  /** A fetch for the in-process style (no socket), undefined for loopback styles. */
  readonly fetch?: (url: string | URL, init?: RequestInit) => Promise<Response>
  readonly close: () => Promise<void>
}

export type Mount = (server: DataMcpServer) => Promise<Mounted>

export const mounts: Record<"fetch" | "node" | "express" | "hono", Mount> = {
  fetch: async (server) => ({
    url: new URL("http://localhost/mcp"),
    fetch: (url, init) => server.fetch(new Request(url, init)),
    close: async () => {}
  }),
  node: async (server) => {
    const http = await listen(server)
    return { url: http.url, close: http.close }
  },
  express: async (server) => {
    const app = express()
    app.get("/healthz", (_req, res) => void res.json({ ok: true }))
    app.use("/api/mcp", express.json(), mcpExpress(server))
    const http = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
      const s = app.listen(0, "127.0.0.1", () => resolve(s))
    })
    const { port } = http.address() as AddressInfo
    return {
      url: new URL(`http://127.0.0.1:${port}/api/mcp`),
      close: () =>
        new Promise<void>((resolve) => {
          http.close(() => resolve())
          http.closeAllConnections()
        })
    }
  },
  hono: async (server) => {
    const app = new Hono()
    app.get("/healthz", (c) => c.json({ ok: true }))
    app.all("/api/mcp", mcpHono(server))
    const { http, port } = await new Promise<{ http: ReturnType<typeof serve>; port: number }>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
        resolve({ http: s, port: info.port })
      )
    })
    return {
      url: new URL(`http://127.0.0.1:${port}/api/mcp`),
      close: () =>
        new Promise<void>((resolve) => {
          http.close(() => resolve())
          ;(http as unknown as { closeAllConnections?: () => void }).closeAllConnections?.()
        })
    }
  }
}

/** Connects a client as `user` (modern era unless `legacy`). */
export const connect = async (
  mounted: Mounted,
  options?: { readonly user?: string; readonly grant?: string; readonly legacy?: boolean }
): Promise<Client> => {
  const client = new Client(
    { name: "test", version: "1.0.0" },
    options?.legacy === true ? {} : { versionNegotiation: { mode: "auto" } }
  )
  const headers: Record<string, string> = { "x-test-user": options?.user ?? "alice" }
  if (options?.grant !== undefined) headers["x-test-grant"] = options.grant
  await client.connect(
    new StreamableHTTPClientTransport(mounted.url, {
      requestInit: { headers },
      ...(mounted.fetch === undefined ? {} : { fetch: mounted.fetch })
    })
  )
  return client
}

/** The structured content of a tool result, typed loosely for assertions. */
// biome-ignore lint/suspicious/noExplicitAny: assertions read arbitrary fields of structured content
export const structured = (result: unknown): any => (result as { structuredContent?: unknown }).structuredContent
