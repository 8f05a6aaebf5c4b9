// A secured MCP server, end to end on localhost: a stand-in OIDC issuer (its JWKS served on loopback) mints a
// token; the server verifies bearer JWTs and an API key, maps them to roles with an RBAC policy, audits every call
// to a JSON-lines file and serves /healthz, /readyz and /metrics. A client then calls with and without credentials.
// Run: node --conditions=@data-mcp/source --import tsx examples/mcp-secure/main.ts
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { join } from "node:path"
import { Audit, Auth, createMcpServer, Metrics } from "@data-mcp/mcp-adapter"
import { listen } from "@data-mcp/mcp-adapter/node"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { Redacted } from "effect"
import { exportJWK, generateKeyPair, SignJWT } from "jose"
import { demoSet } from "../mcp-pipelines/set.ts"

const out = join(import.meta.dirname, "out")
const RESOURCE = "http://127.0.0.1:3334/mcp"

// 1. The issuer stand-in (in production: your IdP's issuer URL; nothing to run).
const { privateKey, publicKey } = await generateKeyPair("ES256")
const jwk = { ...(await exportJWK(publicKey)), kid: "demo", alg: "ES256", use: "sig" }
const idp = createServer((req, res) => {
  const base = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`
  const body =
    req.url === "/.well-known/openid-configuration"
      ? { issuer: base, jwks_uri: `${base}/jwks` }
      : req.url === "/jwks"
        ? { keys: [jwk] }
        : undefined
  if (body === undefined) res.writeHead(404).end()
  else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body))
})
await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve))
const issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`

// 2. The server: auth, a deny-by-default policy, an audit file, metrics.
const loader = Auth.generateApiKey("nightly_loader")
const auditFile = join(out, "audit.jsonl")
const server = await createMcpServer(demoSet(out), {
  directory: join(out, ".data-mcp"),
  auth: Auth.make({
    resource: RESOURCE,
    issuer,
    apiKeys: [{ id: "nightly_loader", hash: loader.hash, roles: ["loader"], expiresAt: "2099-01-01T00:00:00Z" }]
  }),
  policy: {
    roles: {
      analyst: [{ permissions: ["pipelines:list", "pipelines:read", "pipelines:preview", "runs:read"] }],
      loader: [{ permissions: ["pipelines:list", "pipelines:run", "runs:read"], pipelines: "events_*" }]
    },
    claims: [{ claim: "groups", includes: "data-analysts", roles: ["analyst"] }]
  },
  audit: Audit.fileSink({ path: auditFile }),
  auditKey: Redacted.make("example-audit-key-change-me-please"),
  metrics: Metrics.make()
})
const http = await listen(server, { port: 3334 })
console.log(`MCP endpoint: ${http.url} (metadata at ${new URL("/.well-known/oauth-protected-resource/mcp", http.url)})`)

// 3. Clients: an analyst with a token, the loader with its API key, and someone with nothing.
const connect = async (credential: string) => {
  const client = new Client({ name: "example", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } })
  await client.connect(
    new StreamableHTTPClientTransport(http.url, { requestInit: { headers: { authorization: `Bearer ${credential}` } } })
  )
  return client
}
const token = await new SignJWT({
  scope: "pipelines:list pipelines:read pipelines:preview runs:read",
  groups: ["data-analysts"]
})
  .setProtectedHeader({ alg: "ES256", kid: "demo" })
  .setIssuer(issuer)
  .setAudience(RESOURCE)
  .setSubject("alice@example.com")
  .setExpirationTime("10m")
  .sign(privateKey)

const analyst = await connect(token)
const listed = (await analyst.callTool({ name: "list_pipelines", arguments: {} })) as {
  content: Array<{ text?: string }>
}
console.log(`analyst list_pipelines: ${listed.content[0]?.text}`)
const denied = (await analyst.callTool({ name: "run_pipeline", arguments: { name: "events_to_jsonl" } })) as {
  content: Array<{ text?: string }>
}
console.log(`analyst run_pipeline: ${denied.content[0]?.text}`)

const nightly = await connect(loader.key)
const run = (await nightly.callTool({
  name: "run_pipeline",
  arguments: { name: "events_to_jsonl", params: { count: 200 } }
})) as { content: Array<{ text?: string }> }
console.log(`loader (API key) run_pipeline: ${run.content[0]?.text}`)

const anonymous = await fetch(http.url, {
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
  body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} })
})
console.log(`no credentials: HTTP ${anonymous.status}, WWW-Authenticate: ${anonymous.headers.get("www-authenticate")}`)

const ready = await fetch(new URL("/readyz", http.url))
console.log(`/readyz: HTTP ${ready.status}`)
const metrics = await (await fetch(new URL("/metrics", http.url))).text()
console.log(
  metrics
    .split("\n")
    .filter((l) => l.startsWith("data_mcp_tool_calls_total"))
    .join("\n")
)

await analyst.close()
await nightly.close()
await http.close()
await server.close()
idp.close()
console.log(`\naudit trail (${auditFile}):`)
for (const line of readFileSync(auditFile, "utf8").trim().split("\n").slice(-6)) console.log(`  ${line}`)
