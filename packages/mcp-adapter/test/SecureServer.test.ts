// The adapter with authentication and the RBAC policy on, through the real MCP client over HTTP (node http):
// bearer JWTs from a local issuer (JWKS over loopback) and API keys become callers by the policy; a refused
// credential is answered 401 with the RFC 9728 challenge before any MCP handling; a missing scope is a 403.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Auth, createMcpServer, type DataMcpServer, Policy, RequestContext } from "../src/index.ts"
import { listen } from "../src/node.ts"
import { makeSet, structured } from "./harness.ts"
import { close, makeKey, type SigningKey, sign, startIssuer } from "./issuer.ts"

const policy = Policy.make({
  roles: {
    analyst: [{ permissions: ["pipelines:list", "pipelines:read", "pipelines:preview", "runs:read"] }],
    loader: [{ permissions: ["pipelines:list", "pipelines:read", "pipelines:run", "runs:read"], pipelines: "orders" }]
  },
  claims: [{ claim: "groups", includes: "analysts", roles: ["analyst"] }]
})

describe("a secured server", () => {
  let issuer: Awaited<ReturnType<typeof startIssuer>>
  let key: SigningKey
  let server: DataMcpServer
  let http: Awaited<ReturnType<typeof listen>>
  const loaderKey = Auth.generateApiKey("nightly_loader")
  const clients: Array<Client> = []

  const token = (claims: Record<string, unknown> = {}) =>
    sign(key, {
      iss: issuer.url,
      aud: http.url.href,
      sub: "alice",
      scope: RequestContext.allPermissions.join(" "),
      groups: ["analysts"],
      exp: Math.floor(Date.now() / 1000) + 300,
      ...claims
    })

  const connectWith = async (credential: string | undefined) => {
    const client = new Client({ name: "secure", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } })
    const headers: Record<string, string> = credential === undefined ? {} : { authorization: `Bearer ${credential}` }
    await client.connect(new StreamableHTTPClientTransport(http.url, { requestInit: { headers } }))
    clients.push(client)
    return client
  }

  beforeAll(async () => {
    issuer = await startIssuer()
    key = await makeKey("k1")
    issuer.state.keys = [key.jwk]
    // The resource (audience) is this server's URL, known once it listens: a second listen on the same port.
    const probe = await createMcpServer(makeSet().set, { inMemory: true, purgeIntervalMs: 0 })
    const first = await listen(probe)
    const url = first.url
    await first.close()
    await probe.close()
    server = await createMcpServer(makeSet().set, {
      inMemory: true,
      purgeIntervalMs: 0,
      policy,
      auth: Auth.make({
        resource: url.href,
        issuer: issuer.url,
        apiKeys: [{ id: "nightly_loader", hash: loaderKey.hash, roles: ["loader"], expiresAt: "2099-01-01T00:00:00Z" }]
      })
    })
    http = await listen(server, { port: Number(url.port) })
  })
  afterAll(async () => {
    for (const c of clients) await c.close().catch(() => undefined)
    await http.close()
    await server.close()
    await close(issuer.server)
  })

  it("a valid JWT: the policy's roles from its claims", async () => {
    const client = await connectWith(await token())
    const listed = structured(await client.callTool({ name: "list_pipelines", arguments: {} }))
    expect(listed.pipelines.map((p: { name: string }) => p.name)).toEqual(["orders", "slow", "snapshot", "wide"])
    const preview = await client.callTool({ name: "preview_pipeline", arguments: { name: "orders", limit: 1 } })
    expect(preview.isError).toBeUndefined()
    const run = await client.callTool({ name: "run_pipeline", arguments: { name: "orders" } })
    expect(structured(run).error._tag).toBe("Forbidden")
  })

  it("an API key: its roles, within their pipeline pattern", async () => {
    const client = await connectWith(loaderKey.key)
    const listed = structured(await client.callTool({ name: "list_pipelines", arguments: {} }))
    expect(listed.pipelines.map((p: { name: string }) => p.name)).toEqual(["orders"])
    const run = structured(await client.callTool({ name: "run_pipeline", arguments: { name: "orders" } }))
    expect(run.status).toBe("succeeded")
    expect(structured(await client.callTool({ name: "get_run", arguments: { runId: run.runId } })).runId).toBe(
      run.runId
    )
    const slow = await client.callTool({ name: "run_pipeline", arguments: { name: "slow", params: { count: 1 } } })
    expect(structured(slow).error._tag).toBe("NotFound")
  })

  it("refused credentials get 401 with the metadata challenge, before any MCP handling", async () => {
    for (const credential of [undefined, await token({ exp: Math.floor(Date.now() / 1000) - 600 }), "dmk_nobody_x"]) {
      const response = await fetch(http.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...(credential === undefined ? {} : { authorization: `Bearer ${credential}` })
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} })
      })
      expect(response.status).toBe(401)
      expect(response.headers.get("www-authenticate")).toContain("resource_metadata=")
      const body = await response.text()
      if (credential !== undefined) expect(body).not.toContain(credential)
    }
    await expect(connectWith(undefined)).rejects.toThrow(/401|Unauthorized/)
  })

  it("serves the RFC 9728 metadata naming the issuer", async () => {
    const metadata = new URL("/.well-known/oauth-protected-resource/mcp", http.url)
    const response = await fetch(metadata)
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ resource: http.url.href, authorization_servers: [issuer.url] })
  })

  it("a token without the scope its role needs gets 403 insufficient_scope", async () => {
    const client = await connectWith(await token({ scope: "pipelines:list pipelines:read runs:read" }))
    await expect(
      client.callTool({ name: "preview_pipeline", arguments: { name: "orders", limit: 1 } })
    ).rejects.toThrow(/scope/i)
    expect(structured(await client.callTool({ name: "list_pipelines", arguments: {} })).pipelines.length).toBe(4)
  })
})
