// The RBAC policy through the real MCP client: for each role × tool × pipeline pattern, allowed or denied as the
// policy says; a denied caller cannot tell a hidden pipeline from a missing one; a token whose scopes lack a
// permission its role grants gets HTTP 403 insufficient_scope naming the scope; params bound to a token claim
// cannot be set by the caller and partition runs and state. Identities come from a test header standing in for
// a verified token (the JWT and API-key layer is tested in Auth.test.ts).
import { Memory, Pipeline, PipelineSet, Sink } from "@data-mcp/core"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { Effect, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createMcpServer, type DataMcpServer, Policy, RequestContext } from "../src/index.ts"
import { type Mounted, makeSet, mounts, structured } from "./harness.ts"

const policy = Policy.make({
  roles: {
    viewer: [{ permissions: ["pipelines:list", "pipelines:read", "runs:read"] }],
    orders_runner: [
      {
        permissions: ["pipelines:list", "pipelines:read", "pipelines:preview", "pipelines:run", "runs:read"],
        pipelines: "orders*"
      }
    ],
    admin: [{ permissions: ["*"] }]
  },
  claims: [
    { claim: "groups", includes: "viewers", roles: ["viewer"] },
    { claim: "groups", includes: "runners", roles: ["orders_runner"] },
    { claim: "groups", includes: "admins", roles: ["admin"] }
  ],
  tenantClaim: "org"
})

const resolver: RequestContext.CallerResolver = (info) => {
  const header = info.request?.headers.get("x-test-identity")
  return Policy.callerOf(
    policy,
    header === null || header === undefined ? undefined : (JSON.parse(header) as Policy.Identity)
  )
}

type Identity = Policy.Identity | undefined
const ALL_SCOPES = RequestContext.allPermissions
const who: Record<string, Identity> = {
  anonymous: undefined,
  viewer: { subject: "vera", claims: { groups: ["viewers"] }, scopes: ALL_SCOPES },
  runner: { subject: "rob", claims: { groups: ["runners"] }, scopes: ALL_SCOPES },
  admin: { subject: "ada", claims: { groups: ["admins"] }, scopes: ALL_SCOPES }
}

const partitioned = Memory.sink<{ id: number; tenant_id: string }>({ transactional: true })
const tenantRows = Array.from({ length: 6 }, (_, i) => ({ id: i + 1 }))
const boundPipeline = Pipeline.make({
  name: "tenant_export",
  version: "1.0.0",
  description: "Exports the caller's tenant's rows.",
  params: Schema.Struct({ tenant_id: Schema.String, note: Schema.optionalKey(Schema.String) }),
  source: Memory.source(tenantRows),
  transforms: undefined,
  sink: partitioned.sink,
  options: { mcp: { bind: { tenant_id: "claim:org" }, tool: true } }
})

// A sink that sends records to another system: its pipeline is operator-only unless it says otherwise.
const webhook = Pipeline.make({
  name: "webhook_push",
  version: "1.0.0",
  description: "Pushes rows to a partner's webhook.",
  source: Memory.source([{ id: 1 }]),
  sink: Sink.make<unknown>({
    name: "webhook",
    capabilities: { transactional: false, idempotent: false, openWorld: true },
    disposition: Sink.append,
    open: () => Effect.succeed({ write: (batch) => Effect.succeed({ written: batch.records.length }) })
  })
})

let server: DataMcpServer
let mounted: Mounted
const clients: Array<Client> = []

const clientFor = async (identity: Identity) => {
  const client = new Client({ name: "rbac", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } })
  const headers: Record<string, string> = identity === undefined ? {} : { "x-test-identity": JSON.stringify(identity) }
  await client.connect(
    new StreamableHTTPClientTransport(mounted.url, { requestInit: { headers }, fetch: mounted.fetch! })
  )
  clients.push(client)
  return client
}

beforeAll(async () => {
  const { set } = makeSet()
  server = await createMcpServer(PipelineSet.make("rbac", [...set.pipelines, boundPipeline, webhook]), {
    inMemory: true,
    caller: resolver,
    purgeIntervalMs: 0
  })
  mounted = await mounts.fetch(server)
})
afterAll(async () => {
  for (const c of clients) await c.close()
  await server.close()
})

type Expect = "ok" | "Forbidden" | "NotFound"
const outcome = (result: unknown): Expect | string => {
  const r = result as { isError?: boolean }
  return r.isError === true ? structured(result).error._tag : "ok"
}

describe("RBAC matrix", () => {
  const calls: Record<string, { name: string; arguments: Record<string, unknown> }> = {
    list: { name: "list_pipelines", arguments: {} },
    "describe orders": { name: "describe_pipeline", arguments: { name: "orders" } },
    "describe slow": { name: "describe_pipeline", arguments: { name: "slow" } },
    "describe hidden": { name: "describe_pipeline", arguments: { name: "hidden" } },
    "preview orders": { name: "preview_pipeline", arguments: { name: "orders", limit: 1 } },
    "preview slow": { name: "preview_pipeline", arguments: { name: "slow", params: { count: 1 }, limit: 1 } },
    "run orders": { name: "run_pipeline", arguments: { name: "orders" } },
    "run slow": { name: "run_pipeline", arguments: { name: "slow", params: { count: 2 } } },
    "list runs": { name: "list_runs", arguments: {} },
    register: { name: "register_pipeline", arguments: { template: "none" } }
  }
  // role → call → outcome, as the policy says.
  const matrix: Record<string, Record<string, Expect>> = {
    anonymous: {
      list: "Forbidden",
      "describe orders": "NotFound",
      "describe slow": "NotFound",
      "describe hidden": "NotFound",
      "preview orders": "NotFound",
      "preview slow": "NotFound",
      "run orders": "NotFound",
      "run slow": "NotFound",
      "list runs": "Forbidden",
      register: "Forbidden"
    },
    viewer: {
      list: "ok",
      "describe orders": "ok",
      "describe slow": "ok",
      "describe hidden": "NotFound",
      "preview orders": "Forbidden",
      "preview slow": "Forbidden",
      "run orders": "Forbidden",
      "run slow": "Forbidden",
      "list runs": "ok",
      register: "Forbidden"
    },
    runner: {
      list: "ok",
      "describe orders": "ok",
      "describe slow": "NotFound",
      "describe hidden": "NotFound",
      "preview orders": "ok",
      "preview slow": "NotFound",
      "run orders": "ok",
      "run slow": "NotFound",
      "list runs": "ok",
      register: "Forbidden"
    },
    admin: {
      list: "ok",
      "describe orders": "ok",
      "describe slow": "ok",
      "describe hidden": "ok",
      "preview orders": "ok",
      "preview slow": "ok",
      "run orders": "ok",
      "run slow": "ok",
      "list runs": "ok",
      register: "NotFound"
    }
  }

  for (const [role, expected] of Object.entries(matrix)) {
    it(`${role}: every tool allowed or denied as the policy says`, async () => {
      const client = await clientFor(who[role])
      const seen: Record<string, string> = {}
      for (const [label, call] of Object.entries(calls)) seen[label] = outcome(await client.callTool(call))
      expect(seen).toEqual(expected)
    })
  }

  it("list_pipelines shows exactly the pipelines each role may see", async () => {
    const names = async (role: string) =>
      structured(await (await clientFor(who[role])).callTool(calls.list!)).pipelines.map(
        (p: { name: string }) => p.name
      )
    expect(await names("viewer")).toEqual(["orders", "slow", "snapshot", "tenant_export", "wide"])
    expect(await names("runner")).toEqual(["orders"])
    expect(await names("admin")).toEqual([
      "hidden",
      "orders",
      "slow",
      "snapshot",
      "tenant_export",
      "webhook_push",
      "wide"
    ])
  })

  it("a hidden pipeline is answered exactly like a missing one", async () => {
    const runner = await clientFor(who.runner)
    const hidden = await runner.callTool({ name: "describe_pipeline", arguments: { name: "slow" } })
    const missing = await runner.callTool({ name: "describe_pipeline", arguments: { name: "no_such_pipeline" } })
    const scrub = (r: unknown) => JSON.stringify(r).replaceAll("no_such_pipeline", "X").replaceAll('"slow"', '"X"')
    expect(scrub(hidden).replaceAll("slow", "X")).toBe(scrub(missing))
    expect(await runner.readResource({ uri: "data-mcp://pipelines/slow" }).catch((e: Error) => e.message)).toMatch(
      /not found/i
    )
    const { tools } = await runner.listTools()
    expect(tools.map((t) => t.name)).not.toContain("run_snapshot")
    expect(tools.map((t) => t.name)).toContain("run_orders")
  })

  it("another caller's runs stay hidden unless runs:read:any is granted", async () => {
    const runner = await clientFor(who.runner)
    const run = structured(await runner.callTool({ name: "run_pipeline", arguments: { name: "orders" } }))
    const viewer = await clientFor(who.viewer)
    expect(outcome(await viewer.callTool({ name: "get_run", arguments: { runId: run.runId } }))).toBe("NotFound")
    const admin = await clientFor(who.admin)
    expect(structured(await admin.callTool({ name: "get_run", arguments: { runId: run.runId } })).runId).toBe(run.runId)
  })
})

describe("scopes", () => {
  it("a token whose scopes lack a permission its role grants gets 403 insufficient_scope naming the scope", async () => {
    const limited = { ...who.runner!, scopes: ["pipelines:list", "pipelines:read", "runs:read"] }
    const response = await mounted.fetch!(mounted.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/call",
        "mcp-name": "run_pipeline",
        "x-test-identity": JSON.stringify(limited)
      },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "tools/call",
        params: {
          name: "run_pipeline",
          arguments: { name: "orders" },
          _meta: {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": { name: "t", version: "1" },
            "io.modelcontextprotocol/clientCapabilities": {}
          }
        }
      })
    })
    expect(response.status).toBe(403)
    const challenge = response.headers.get("www-authenticate") ?? ""
    expect(challenge).toMatch(/error="insufficient_scope"/)
    expect(challenge).toMatch(/scope="pipelines:run"/)
    // Through the official client: the call is refused, and what the scopes allow still works.
    const client = await clientFor(limited)
    await expect(client.callTool({ name: "run_pipeline", arguments: { name: "orders" } })).rejects.toThrow(
      /insufficient_scope|scope/i
    )
    expect(outcome(await client.callTool({ name: "describe_pipeline", arguments: { name: "orders" } }))).toBe("ok")
  })

  it("a permission the role does not grant is a plain denial, not a scope challenge", async () => {
    const viewer = await clientFor({ ...who.viewer!, scopes: ["pipelines:list"] })
    expect(outcome(await viewer.callTool({ name: "preview_pipeline", arguments: { name: "orders" } }))).toBe(
      "Forbidden"
    )
  })
})

describe("params bound to a token claim", () => {
  const acme = { subject: "ann", claims: { groups: ["admins"], org: "acme" }, scopes: ALL_SCOPES }
  const globex = { subject: "gus", claims: { groups: ["admins"], org: "globex" }, scopes: ALL_SCOPES }

  it("disappear from the schemas and cannot be set by the caller", async () => {
    const client = await clientFor(acme)
    const described = structured(
      await client.callTool({ name: "describe_pipeline", arguments: { name: "tenant_export" } })
    )
    expect(Object.keys(described.params.properties)).toEqual(["note"])
    const { tools } = await client.listTools()
    const own = tools.find((t) => t.name === "run_tenant_export")
    expect(Object.keys(own?.inputSchema.properties ?? {})).not.toContain("tenant_id")
    const forced = await client.callTool({
      name: "run_pipeline",
      arguments: { name: "tenant_export", params: { tenant_id: "globex" } }
    })
    expect(structured(forced).error).toMatchObject({ _tag: "InvalidInput", field: "params.tenant_id" })
    const forcedTool = await client.callTool({ name: "run_tenant_export", arguments: { tenant_id: "globex" } })
    expect(forcedTool.isError).toBe(true)
    expect(JSON.stringify(forcedTool.content)).toContain("tenant_id")
    const preview = await client.callTool({
      name: "preview_pipeline",
      arguments: { name: "tenant_export", params: { tenant_id: "globex" } }
    })
    expect(structured(preview).error).toMatchObject({ _tag: "InvalidInput", field: "params.tenant_id" })
  })

  it("are filled from the token and partition runs and state", async () => {
    const a = await clientFor(acme)
    const first = structured(await a.callTool({ name: "run_pipeline", arguments: { name: "tenant_export" } }))
    expect(first.summary).toMatchObject({ recordsRead: 6, recordsWritten: 6 })
    const again = structured(await a.callTool({ name: "run_tenant_export", arguments: {} }))
    expect(again.summary.recordsRead).toBe(0)
    const g = await clientFor(globex)
    const other = structured(await g.callTool({ name: "run_pipeline", arguments: { name: "tenant_export" } }))
    expect(other.summary).toMatchObject({ recordsRead: 6, checkpointFrom: null })
    expect(other.summary.stateKey).not.toBe(first.summary.stateKey)
    const report = JSON.parse(((await a.readResource({ uri: first.resource })).contents[0] as { text: string }).text)
    expect(report.params).toMatchObject({ tenant_id: "acme" })
    const preview = structured(await g.callTool({ name: "preview_pipeline", arguments: { name: "tenant_export" } }))
    expect(preview.plan.stateKey).toBe(other.summary.stateKey)
    expect(preview.plan.checkpoint.from).toBe(6)
    // Each tenant sees its own runs only.
    const runs = structured(await g.callTool({ name: "list_runs", arguments: { pipeline: "tenant_export" } })).runs
    expect(runs.map((r: { runId: string }) => r.runId)).toEqual([other.runId])
  })

  it("a token without the claim is refused, never run unpartitioned", async () => {
    const client = await clientFor({ subject: "nina", claims: { groups: ["admins"] }, scopes: ALL_SCOPES })
    const refused = await client.callTool({ name: "run_pipeline", arguments: { name: "tenant_export" } })
    expect(structured(refused).error).toMatchObject({ _tag: "MissingClaim", retryable: false })
    expect(structured(refused).error.message).toContain("org")
  })
})
