// Security and operations wired together, through the real MCP client over node http with JWT auth, the RBAC
// policy, an audit sink and metrics: every call audited (refused ones too, with the right status), a call that
// cannot be audited fails closed, sensitive and secret params never appear in the audit trail, results, logs or
// metrics, a connector's secret appears nowhere, and /metrics holds the documented series with no forbidden label.
import { PostgresConfig, PostgresSource } from "@data-mcp/connector-postgres"
import { Generator, Memory, Pipeline, PipelineSet } from "@data-mcp/core"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { Redacted, Schema } from "effect"
import { base64url, exportSPKI, SignJWT, UnsecuredJWT } from "jose"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Audit, Auth, createMcpServer, type DataMcpServer, Metrics, Policy, RequestContext } from "../src/index.ts"
import { listen } from "../src/node.ts"
import { structured } from "./harness.ts"
import { close, makeKey, type SigningKey, sign, startIssuer } from "./issuer.ts"
import { parse } from "./prometheus.ts"

const DB_PASSWORD = "pg-Secret-7f3a9"
const PARAM_SECRET = "tok-Secret-91c2"
const EMAIL = "erin.secret@example.com"

const collected = Memory.sink<Record<string, unknown>>()
const set = PipelineSet.make("ops", [
  Pipeline.make({
    name: "customers",
    version: "2.1.0",
    description: "Copies customers; the contact email and the partner token are sensitive.",
    params: Schema.Struct({
      contact: Schema.optionalKey(Schema.String),
      partner_token: Schema.optionalKey(Schema.RedactedFromValue(Schema.String)),
      count: Schema.optionalKey(Schema.Int)
    }),
    source: ({ count }) => Generator.source({ count: count ?? 20, fields: ["id", "name", "email"] }),
    sink: collected.sink,
    options: { sensitive: ["contact", "email"] }
  }),
  Pipeline.make({
    name: "warehouse_pull",
    version: "1.0.0",
    description: "Reads a PostgreSQL table whose server is down.",
    source: PostgresSource.make({
      connection: PostgresConfig.decodeSync({
        host: "127.0.0.1",
        port: 1,
        user: "etl",
        password: Redacted.make(DB_PASSWORD),
        database: "dw",
        connectTimeoutMs: 500
      }),
      streams: [{ table: "facts", key: "id" }]
    }),
    sink: Memory.sink().sink,
    options: { retry: { maxAttempts: 1 } }
  })
])

/** A bare `tools/list` POST with an optional bearer credential. */
const listWith = (url: URL, credential: string | undefined) =>
  fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(credential === undefined ? {} : { authorization: `Bearer ${credential}` })
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} })
  })

const policy = Policy.make({
  roles: { admin: [{ permissions: ["*"] }], reader: [{ permissions: ["pipelines:list", "pipelines:read"] }] },
  claims: [
    { claim: "role", equals: "admin", roles: ["admin"] },
    { claim: "role", equals: "reader", roles: ["reader"] }
  ]
})

describe("security and operations, wired", () => {
  let issuer: Awaited<ReturnType<typeof startIssuer>>
  let key: SigningKey
  let server: DataMcpServer
  let http: Awaited<ReturnType<typeof listen>>
  const audit = Audit.memorySink()
  const metrics = Metrics.make()
  const clients: Array<Client> = []
  const logged: Array<string> = []
  const originals = { err: process.stderr.write.bind(process.stderr), out: process.stdout.write.bind(process.stdout) }

  const token = (claims: Record<string, unknown> = {}) =>
    sign(key, {
      iss: issuer.url,
      aud: http.url.href,
      sub: "alice",
      jti: `jti-${Math.random().toString(36).slice(2)}`,
      scope: RequestContext.allPermissions.join(" "),
      role: "admin",
      exp: Math.floor(Date.now() / 1000) + 300,
      ...claims
    })

  const connectWith = async (credential: string) => {
    const client = new Client({ name: "ops", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } })
    await client.connect(
      new StreamableHTTPClientTransport(http.url, {
        requestInit: { headers: { authorization: `Bearer ${credential}` } }
      })
    )
    clients.push(client)
    return client
  }

  beforeAll(async () => {
    // Everything the process prints is kept, to check that no secret is ever logged.
    process.stderr.write = ((chunk: unknown, ...rest: Array<unknown>) => {
      logged.push(String(chunk))
      return (originals.err as (...a: Array<unknown>) => boolean)(chunk, ...rest)
    }) as typeof process.stderr.write
    process.stdout.write = ((chunk: unknown, ...rest: Array<unknown>) => {
      logged.push(String(chunk))
      return (originals.out as (...a: Array<unknown>) => boolean)(chunk, ...rest)
    }) as typeof process.stdout.write
    issuer = await startIssuer()
    key = await makeKey("k1")
    issuer.state.keys = [key.jwk]
    const probe = await createMcpServer(set, { inMemory: true, purgeIntervalMs: 0 })
    const first = await listen(probe)
    const url = first.url
    await first.close()
    await probe.close()
    server = await createMcpServer(set, {
      inMemory: true,
      purgeIntervalMs: 0,
      policy,
      audit,
      auditKey: Redacted.make("a-test-key-of-32-bytes-at-least!"),
      metrics,
      auth: Auth.make({ resource: url.href, issuer: issuer.url })
    })
    http = await listen(server, { port: Number(url.port) })
  })
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined)
    await http.close()
    await server.close()
    await close(issuer.server)
    process.stderr.write = originals.err
    process.stdout.write = originals.out
  })

  it("audits every call: started and ok for a run, with the caller, token id, pipeline and run", async () => {
    const jwt = await token()
    const client = await connectWith(jwt)
    const run = structured(
      await client.callTool({
        name: "run_pipeline",
        arguments: { name: "customers", params: { contact: EMAIL, partner_token: PARAM_SECRET, count: 5 } }
      })
    )
    expect(run, JSON.stringify(run)).toMatchObject({ status: "succeeded" })
    const mine = audit.events.filter((e) => e.tool === "run_pipeline")
    expect(mine.map((e) => e.outcome)).toEqual(["started", "ok"])
    expect(mine[1]).toMatchObject({
      sub: "alice",
      pipeline: "customers",
      pipeline_version: "2.1.0",
      run_id: run.runId,
      transport: "http",
      method: "tools/call"
    })
    expect(mine[1]?.jti).toMatch(/^jti-/)
    const params = mine[1]?.params as { params: Record<string, unknown> }
    expect(params.params.count).toBe(5)
    expect(String(params.params.contact)).toMatch(/^hmac-sha256:/)
    expect(String(params.params.partner_token)).toMatch(/^hmac-sha256:/)
  })

  it("audits every refused credential of the auth matrix with 401 and its reason, through the server", async () => {
    const stranger = await makeKey("k9")
    const rsa = await makeKey("r1", "RS256")
    issuer.state.keys = [key.jwk, rsa.jwk]
    const base = {
      iss: issuer.url,
      aud: http.url.href,
      sub: "mallory",
      scope: "pipelines:list",
      exp: Math.floor(Date.now() / 1000) + 300
    }
    const [header, , signature] = (await sign(key, base)).split(".")
    const cases: Array<[string | undefined, string]> = [
      [undefined, "missing"],
      [await sign(key, { ...base, exp: Math.floor(Date.now() / 1000) - 600 }), "expired"],
      [await sign(key, { ...base, nbf: Math.floor(Date.now() / 1000) + 600 }), "not_yet_valid"],
      [await sign(key, { ...base, iss: "http://127.0.0.1:1/other" }), "wrong_issuer"],
      [await sign(key, { ...base, aud: "http://127.0.0.1/elsewhere" }), "wrong_audience"],
      [await sign(stranger, base), "unknown_kid"],
      [new UnsecuredJWT(base).encode(), "alg_not_allowed"],
      [
        await new SignJWT(base)
          .setProtectedHeader({ alg: "HS256", kid: rsa.kid })
          .sign(new TextEncoder().encode(await exportSPKI(rsa.pair.publicKey))),
        "alg_not_allowed"
      ],
      [`${header}.${base64url.encode(JSON.stringify({ ...base, sub: "admin" }))}.${signature}`, "bad_signature"],
      ["dmk_nobody_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "unknown_api_key"]
    ]
    for (const [credential, reason] of cases) {
      const before = audit.events.length
      const response = await listWith(http.url, credential)
      expect(response.status, reason).toBe(401)
      expect(response.headers.get("www-authenticate"), reason).toContain("resource_metadata=")
      const event = audit.events[before]
      expect(event, reason).toMatchObject({ outcome: "unauthenticated", http_status: 401, error: { reason } })
      if (credential !== undefined) expect(JSON.stringify(audit.events.slice(before))).not.toContain(credential)
    }
  })

  it("audits refused requests with their status and reason; a denial is audited as denied", async () => {
    const expired = await token({ exp: Math.floor(Date.now() / 1000) - 600 })
    for (const credential of [undefined, expired, "dmk_nobody_x"]) {
      const response = await listWith(http.url, credential)
      expect(response.status).toBe(401)
    }
    const refused = audit.events.filter((e) => e.outcome === "unauthenticated")
    expect(refused.map((e) => e.error?.reason)).toEqual(expect.arrayContaining(["missing", "expired"]))
    expect(refused.every((e) => e.http_status === 401)).toBe(true)
    const reader = await connectWith(await token({ role: "reader", sub: "rita" }))
    const denied = await reader.callTool({ name: "run_pipeline", arguments: { name: "customers" } })
    expect(structured(denied).error._tag).toBe("Forbidden")
    expect(audit.events.at(-1)).toMatchObject({ sub: "rita", tool: "run_pipeline", outcome: "denied" })
    const limited = await connectWith(await token({ sub: "sam", scope: "pipelines:list pipelines:read" }))
    await expect(limited.callTool({ name: "preview_pipeline", arguments: { name: "customers" } })).rejects.toThrow(
      /scope/i
    )
    expect(audit.events.at(-1)).toMatchObject({
      sub: "sam",
      outcome: "denied",
      http_status: 403,
      error: { tag: "InsufficientScope", reason: "insufficient_scope" }
    })
  })

  it("fails closed: a run that cannot be audited is not started", async () => {
    const client = await connectWith(await token())
    const before = structured(await client.callTool({ name: "list_runs", arguments: { pipeline: "customers" } })).runs
    audit.setFailure(new Error("disk full"))
    try {
      const refused = await client.callTool({ name: "run_pipeline", arguments: { name: "customers" } })
      expect(structured(refused).error).toMatchObject({ _tag: "AuditUnavailable", retryable: true })
      const read = await client.callTool({ name: "list_pipelines", arguments: {} })
      expect(structured(read).error._tag).toBe("AuditUnavailable")
    } finally {
      audit.setFailure(undefined)
    }
    const after = structured(await client.callTool({ name: "list_runs", arguments: { pipeline: "customers" } })).runs
    expect(after.length).toBe(before.length)
  })

  it("a connector's secret and sensitive values appear in no result, resource, audit event, log line or metric", async () => {
    const client = await connectWith(await token())
    const failed = structured(
      await client.callTool({ name: "run_pipeline", arguments: { name: "warehouse_pull", waitSeconds: 20 } })
    )
    expect(failed, JSON.stringify(failed)).toMatchObject({ status: "failed" })
    const seen: Array<string> = [JSON.stringify(failed)]
    seen.push(JSON.stringify(await client.readResource({ uri: failed.resource })))
    seen.push(JSON.stringify(await client.readResource({ uri: `${failed.resource}/events` })))
    const described = await client.callTool({ name: "describe_pipeline", arguments: { name: "warehouse_pull" } })
    seen.push(JSON.stringify(described))
    // Connector health is a field of describe_pipeline (and a gauge), not part of readiness.
    expect(structured(described).health).toMatchObject({ source: "down", errors: { source: "ConnectorError" } })
    const preview = await client.callTool({ name: "preview_pipeline", arguments: { name: "customers", limit: 5 } })
    seen.push(JSON.stringify(preview))
    expect(structured(preview).records[0].email).toBe("***")
    const runs = structured(await client.callTool({ name: "list_runs", arguments: {} }))
    seen.push(JSON.stringify(runs))
    for (const r of runs.runs)
      seen.push(JSON.stringify(await client.readResource({ uri: `data-mcp://runs/${encodeURIComponent(r.runId)}` })))
    seen.push(audit.events.map((e) => Audit.toJsonLine(e)).join("\n"))
    seen.push(await metrics.text())
    seen.push(logged.join(""))
    const everything = seen.join("\n")
    for (const secret of [DB_PASSWORD, PARAM_SECRET, EMAIL]) expect(everything).not.toContain(secret)
  })

  it("serves /healthz, /readyz and /metrics with the documented series and no forbidden label", async () => {
    expect((await fetch(new URL("/healthz", http.url))).status).toBe(200)
    const ready = await fetch(new URL("/readyz", http.url))
    expect(ready.status).toBe(200)
    const scrape = await fetch(new URL("/metrics", http.url))
    expect(scrape.headers.get("content-type")).toContain("text/plain")
    const { samples } = parse(await scrape.text())
    const sum = (name: string, labels: Record<string, string> = {}) =>
      samples
        .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((a, s) => a + s.value, 0)
    expect(sum("data_mcp_tool_calls_total", { tool: "run_pipeline", outcome: "ok" })).toBeGreaterThanOrEqual(2)
    expect(sum("data_mcp_tool_calls_total", { tool: "run_pipeline", outcome: "denied" })).toBeGreaterThanOrEqual(1)
    expect(sum("data_mcp_runs_total", { pipeline: "customers", outcome: "succeeded" })).toBeGreaterThanOrEqual(1)
    expect(sum("data_mcp_runs_total", { pipeline: "warehouse_pull", outcome: "failed" })).toBe(1)
    expect(sum("data_mcp_rows_written_total", { pipeline: "customers" })).toBeGreaterThanOrEqual(5)
    expect(sum("data_mcp_connector_up", { pipeline: "warehouse_pull", outcome: "source" })).toBe(0)
    const allowed = new Set(["pipeline", "stream", "tool", "outcome", "le", "quantile"])
    for (const s of samples) for (const label of Object.keys(s.labels)) expect(allowed.has(label), label).toBe(true)
  })
})
