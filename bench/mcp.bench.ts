// MCP adapter benchmark:
//   npm run bench:mcp     (node --conditions=@data-mcp/source --import tsx bench/mcp.bench.ts)
//
// 32 concurrent official MCP clients (Streamable HTTP over loopback, modern era) call, for PHASE_MS each:
//   bare    a bare SDK v2 server (createMcpHandler) answering one trivial tool — the reference
//   list    the adapter's list_pipelines
//   preview the adapter's preview_pipeline, 100 records (generated customers, after transforms)
// Both servers run in this process on node:http, the same way; the clients run in a child process, so they do
// not share the servers' event loop.
//
// Two measurements:
//   saturation  closed loop: each client calls again as soon as its answer arrives, so 32 calls are always in
//               flight. This gives the throughput (calls/s). Its latency is mostly queueing: with 32 calls in
//               flight, mean latency = 32 / throughput (Little's law), whatever the server does.
//   latency     open loop, at several offered rates (MCP_BENCH_LOADS, default 0.1,0.25,0.5,0.75 of the bare
//               server's saturation throughput measured in the same run; the same rates for bare and
//               list_pipelines, those shares of its own saturation for preview): the 32 clients send on a fixed
//               schedule, whether or not earlier answers have arrived, and latency counts from the scheduled send
//               time (no coordinated omission). This is the p50/p99 a caller sees on a server that is busy but not
//               overloaded; the bench prints the highest offered rate whose p99 stays under 20 ms.
// Every phase also reports the servers' Node CPU per call (process.cpuUsage of this process over the measured part).
// The adapter runs twice: plain (no auth), and secured — every request carries a bearer JWT (ES256) verified
// against a local issuer's JWKS, and an RBAC policy maps its claims to roles (the security issue's set-up; audit
// and metrics off). Prints both, the adapter/bare throughput ratios for list_pipelines (target ≥ 0.7) and the
// open-loop p99 of list_pipelines (target < 20 ms), plain and secured. Env: PHASE_MS (default 8000).

import { fork } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Auth, createMcpServer } from "@data-mcp/mcp-adapter"
import { listen } from "@data-mcp/mcp-adapter/node"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { type NodeIncomingMessageLike, toNodeHandler } from "@modelcontextprotocol/node"
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server"
import { Schema } from "effect"
import { exportJWK, generateKeyPair, SignJWT } from "jose"
import { demoSet } from "../examples/mcp-pipelines/set.ts"

const CLIENTS = 32
const PHASE_MS = Number(process.env.PHASE_MS ?? 8000)
const WARMUP_MS = 1500
// The open-loop phases offer these shares of the bare server's saturation throughput.
const LOADS = (process.env.MCP_BENCH_LOADS ?? "0.1,0.25,0.5,0.75").split(",").map(Number)
const P99_TARGET_MS = 20

const toStandard = <S extends Schema.Top>(s: S) =>
  Schema.toStandardJSONSchemaV1(Schema.toStandardSchemaV1(s as unknown as Schema.Codec<S["Type"], S["Encoded"]>))

// The reference: a bare SDK server with one trivial tool, on node:http like the adapter.
const bare = async () => {
  const handler = createMcpHandler(() => {
    const server = new McpServer({ name: "bare", version: "1.0.0" })
    server.registerTool(
      "ping_tool",
      {
        description: "Answers pong",
        inputSchema: toStandard(Schema.Struct({})),
        outputSchema: toStandard(Schema.Struct({ pong: Schema.Boolean }))
      },
      async () => ({ content: [{ type: "text", text: "pong" }], structuredContent: { pong: true } })
    )
    return server
  })
  const node = toNodeHandler(handler)
  const http = createServer((req, res) => void node(req as NodeIncomingMessageLike, res))
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve))
  const { port } = http.address() as AddressInfo
  return {
    url: new URL(`http://127.0.0.1:${port}/mcp`),
    close: async () => {
      http.closeAllConnections()
      await new Promise((resolve) => http.close(resolve))
      await handler.close()
    }
  }
}

const connectAll = (url: URL, token?: string) =>
  Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const client = new Client({ name: "bench", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } })
      const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` }
      await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }))
      return client
    })
  )

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN

// The latency distribution of a sorted sample, in ms.
const spread = (sorted: ReadonlyArray<number>) => ({
  p50: percentile(sorted, 50),
  p90: percentile(sorted, 90),
  p99: percentile(sorted, 99),
  p999: percentile(sorted, 99.9),
  max: sorted[sorted.length - 1] ?? Number.NaN
})

const checked = async (call: (c: Client) => Promise<unknown>, client: Client) => {
  const result = (await call(client)) as { isError?: boolean }
  if (result.isError === true) throw new Error(`tool error: ${JSON.stringify(result)}`)
}

// Open loop: `rate` calls/s in all, client i sending every `interval` ms at its own offset; latency from the
// scheduled time, so a late send counts against the server.
const openLoop = async (clients: ReadonlyArray<Client>, call: (c: Client) => Promise<unknown>, rate: number) => {
  const interval = (clients.length * 1000) / rate
  const run = async (ms: number, latencies?: Array<number>) => {
    const start = performance.now() + 20
    const end = start + ms
    const inflight: Array<Promise<void>> = []
    await Promise.all(
      clients.map(async (client, i) => {
        for (let at = start + (i * interval) / clients.length; at < end; at += interval) {
          const wait = at - performance.now()
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
          const scheduled = at
          inflight.push(checked(call, client).then(() => void latencies?.push(performance.now() - scheduled)))
        }
      })
    )
    await Promise.all(inflight)
  }
  await run(WARMUP_MS)
  process.send?.("measuring")
  const latencies: Array<number> = []
  await run(PHASE_MS, latencies)
  latencies.sort((a, b) => a - b)
  return { rate, calls: latencies.length, ...spread(latencies) }
}

const phase = async (clients: ReadonlyArray<Client>, call: (c: Client) => Promise<unknown>) => {
  const runFor = async (ms: number, latencies?: Array<number>) => {
    const end = performance.now() + ms
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < end) {
          const t0 = performance.now()
          await checked(call, client)
          latencies?.push(performance.now() - t0)
        }
      })
    )
  }
  await runFor(WARMUP_MS)
  process.send?.("measuring")
  const latencies: Array<number> = []
  const t0 = performance.now()
  await runFor(PHASE_MS, latencies)
  const seconds = (performance.now() - t0) / 1000
  latencies.sort((a, b) => a - b)
  return {
    callsPerSecond: latencies.length / seconds,
    calls: latencies.length,
    ...spread(latencies)
  }
}

type Phase = "bare" | "list" | "preview"
type Measured = {
  readonly calls: number
  readonly p50: number
  readonly p99: number
  readonly serverCpuMicrosPerCall: number
}
type Saturation = Measured & { readonly callsPerSecond: number }
type OpenLoop = Measured & { readonly rate: number }
type Job = { readonly url: string; readonly name: Phase; readonly rate?: number; readonly token?: string }

const calls: Record<Phase, (c: Client) => Promise<unknown>> = {
  bare: (c) => c.callTool({ name: "ping_tool", arguments: {} }),
  list: (c) => c.callTool({ name: "list_pipelines", arguments: {} }),
  preview: (c) =>
    c.callTool({
      name: "preview_pipeline",
      arguments: { name: "customers_to_jsonl", params: { count: 1000 }, limit: 100 }
    })
}

// In the child: connect the clients to one URL, run one phase (open loop when a rate is given), report.
const inChild = async (job: Job) => {
  const clients = await connectAll(new URL(job.url), job.token)
  const result =
    job.rate === undefined ? await phase(clients, calls[job.name]) : await openLoop(clients, calls[job.name], job.rate)
  await Promise.all(clients.map((c) => c.close()))
  process.send?.(result)
}

// Each phase starts on a collected heap (run with --expose-gc), so one phase's garbage is not another's pause.
const runPhase = <R>(url: URL, name: Phase, rate?: number, token?: string) =>
  new Promise<R>((resolve, reject) => {
    ;(globalThis as { gc?: () => void }).gc?.()
    const job: Job = {
      url: url.href,
      name,
      ...(rate === undefined ? {} : { rate }),
      ...(token === undefined ? {} : { token })
    }
    const child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ["--conditions=@data-mcp/source", "--import", "tsx"],
      env: { ...process.env, MCP_BENCH_JOB: JSON.stringify(job) }
    })
    // The servers' Node CPU (this process) from the start of the measured phase to its result, per call.
    let cpu: NodeJS.CpuUsage | undefined
    child.on("message", (message) => {
      if (message === "measuring") {
        cpu = process.cpuUsage()
        return
      }
      const used = process.cpuUsage(cpu)
      const result = message as { callsPerSecond?: number; rate?: number; calls: number }
      resolve({ ...result, serverCpuMicrosPerCall: (used.user + used.system) / result.calls } as R)
    })
    child.once("error", reject)
    child.once("exit", (code) => (code === 0 ? undefined : reject(new Error(`the client process exited with ${code}`))))
  })

// A local OIDC issuer for the secured adapter: an ES256 key, its JWKS on loopback, and a token with the role claim.
const issuer = async () => {
  const { privateKey, publicKey } = await generateKeyPair("ES256")
  const jwk = { ...(await exportJWK(publicKey)), kid: "bench", alg: "ES256", use: "sig" }
  const server = createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    if (req.url === "/.well-known/openid-configuration") {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` }))
    } else if (req.url === "/jwks") {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ keys: [jwk] }))
    } else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const token = await new SignJWT({
    scope: "pipelines:list pipelines:read pipelines:preview pipelines:run runs:read runs:cancel",
    groups: ["analysts"]
  })
    .setProtectedHeader({ alg: "ES256", kid: "bench" })
    .setIssuer(url)
    .setAudience(RESOURCE)
    .setSubject("bench-agent")
    .setExpirationTime("1h")
    .sign(privateKey)
  return { url, token, close: () => new Promise((resolve) => server.close(resolve)) }
}

const RESOURCE = "http://127.0.0.1/mcp"

const main = async () => {
  const out = mkdtempSync(join(tmpdir(), "dm-bench-mcp-"))
  const reference = await bare()
  const adapter = await createMcpServer(demoSet(out), { inMemory: true, purgeIntervalMs: 0 })
  const http = await listen(adapter)
  const idp = await issuer()
  const secured = await createMcpServer(demoSet(out), {
    inMemory: true,
    purgeIntervalMs: 0,
    auth: Auth.make({ resource: RESOURCE, issuer: idp.url }),
    policy: {
      roles: { analyst: [{ permissions: ["pipelines:list", "pipelines:read", "pipelines:preview", "runs:read"] }] },
      claims: [{ claim: "groups", includes: "analysts", roles: ["analyst"] }]
    }
  })
  const securedHttp = await listen(secured)
  try {
    const bareResult = await runPhase<Saturation>(reference.url, "bare")
    const listResult = await runPhase<Saturation>(http.url, "list")
    const securedList = await runPhase<Saturation>(securedHttp.url, "list", undefined, idp.token)
    const previewResult = await runPhase<Saturation>(securedHttp.url, "preview", undefined, idp.token)
    type Curve = Array<{
      readonly load: number
      readonly bare: OpenLoop
      readonly list: OpenLoop
      readonly listSecured: OpenLoop
      readonly previewSecured: OpenLoop
    }>
    const curve: Curve = []
    for (const load of LOADS) {
      const rate = Math.max(10, Math.round(bareResult.callsPerSecond * load))
      const previewRate = Math.max(10, Math.round(previewResult.callsPerSecond * load))
      curve.push({
        load,
        bare: await runPhase<OpenLoop>(reference.url, "bare", rate),
        list: await runPhase<OpenLoop>(http.url, "list", rate),
        listSecured: await runPhase<OpenLoop>(securedHttp.url, "list", rate, idp.token),
        previewSecured: await runPhase<OpenLoop>(securedHttp.url, "preview", previewRate, idp.token)
      })
    }
    const ms = (n: number) => `${n.toFixed(2).padStart(7)} ms`
    const cpu = (r: Measured) => `server CPU ${r.serverCpuMicrosPerCall.toFixed(0).padStart(5)} µs/call`
    const row = (name: string, r: Saturation) =>
      `${name.padEnd(40)} ${r.callsPerSecond.toFixed(0).padStart(8)} calls/s   p50 ${ms(r.p50)}   p99 ${ms(r.p99)}   ${cpu(r)}`
    const openRow = (name: string, r: OpenLoop) =>
      `${name.padEnd(40)} ${r.rate.toFixed(0).padStart(8)} calls/s   p50 ${ms(r.p50)}   p99 ${ms(r.p99)}   ${cpu(r)}`
    console.log(
      `${CLIENTS} concurrent clients (one client process), ${PHASE_MS / 1000} s per phase, node ${process.version}`
    )
    console.log("saturation (closed loop, 32 calls always in flight):")
    console.log(row("bare SDK server, trivial tool", bareResult))
    console.log(row("adapter list_pipelines", listResult))
    console.log(row("adapter list_pipelines, JWT + RBAC", securedList))
    console.log(row("adapter preview_pipeline (100), JWT+RBAC", previewResult))
    for (const point of curve) {
      console.log(`latency (open loop at ${point.load} of the saturation rate, offered calls/s):`)
      console.log(openRow("bare SDK server, trivial tool", point.bare))
      console.log(openRow("adapter list_pipelines", point.list))
      console.log(openRow("adapter list_pipelines, JWT + RBAC", point.listSecured))
      console.log(openRow("adapter preview_pipeline (100), JWT+RBAC", point.previewSecured))
    }
    // The highest offered rate (of those measured) whose p99 is under the target.
    const sustained = (pick: (point: Curve[number]) => OpenLoop) =>
      Math.max(
        0,
        ...curve
          .map(pick)
          .filter((r) => r.p99 < P99_TARGET_MS)
          .map((r) => r.rate)
      )
    const ratio = listResult.callsPerSecond / bareResult.callsPerSecond
    const securedRatio = securedList.callsPerSecond / bareResult.callsPerSecond
    const within = {
      bare: sustained((p) => p.bare),
      list: sustained((p) => p.list),
      listSecured: sustained((p) => p.listSecured),
      previewSecured: sustained((p) => p.previewSecured)
    }
    console.log(
      `list_pipelines / bare throughput: ${ratio.toFixed(2)}× plain, ${securedRatio.toFixed(2)}× with JWT + RBAC (target ≥ 0.70)`
    )
    console.log(
      `highest offered rate with p99 < ${P99_TARGET_MS} ms (32 clients, open loop): bare ${within.bare}, list_pipelines ${within.list} plain, ${within.listSecured} with JWT + RBAC, preview ${within.previewSecured} calls/s; at saturation p99 is ${listResult.p99.toFixed(0)} ms plain, ${securedList.p99.toFixed(0)} ms secured (bare ${bareResult.p99.toFixed(0)} ms)`
    )
    console.log(
      JSON.stringify({
        saturation: { bare: bareResult, list: listResult, listSecured: securedList, previewSecured: previewResult },
        openLoop: curve,
        ratio,
        securedRatio,
        p99Under20ms: within
      })
    )
    if (ratio < 0.7 || securedRatio < 0.7 || listResult.p99 >= P99_TARGET_MS || securedList.p99 >= P99_TARGET_MS)
      process.exitCode = 1
  } finally {
    await securedHttp.close()
    await secured.close()
    await idp.close()
    await http.close()
    await adapter.close()
    await reference.close()
    rmSync(out, { recursive: true, force: true })
  }
}

const job = process.env.MCP_BENCH_JOB
await (job === undefined ? main() : inChild(JSON.parse(job) as Job))
