// `serve` answers a real MCP client over Streamable HTTP (and stdio); `dev` starts with no config and no service.
import * as fsp from "node:fs/promises"
import { Auth } from "@data-mcp/mcp-adapter"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { assertBuilt, bin, type Running, start, tempDir, write } from "./utils.ts"

const spec = `name: people
version: 1.0.0
description: Writes generated people to out/people.jsonl.
source: { kind: generator, options: { count: 40, fields: [id, name] } }
sink: { kind: jsonl, options: { path: out/people.jsonl } }
`

const structured = (result: unknown) => (result as { structuredContent: Record<string, unknown> }).structuredContent

const stop = async (running: Running) => {
  running.child.kill("SIGINT")
  return running.exited
}

describe("serve and dev", () => {
  let dir: string
  beforeAll(async () => {
    assertBuilt()
    dir = await tempDir()
  })
  afterAll(() => fsp.rm(dir, { recursive: true, force: true }))

  it("serve: a real MCP client lists, previews and runs the config's pipelines over HTTP", async () => {
    const project = `${dir}/serve`
    await write(project, {
      "data-mcp.config.yaml": "pipelines: [people.yaml, broken.yaml]\nserver: { port: 0 }\n",
      "people.yaml": spec,
      // Its source file does not exist: runs fail (and the runner logs the failure).
      "broken.yaml": spec
        .replace("name: people", "name: broken")
        .replace(
          "{ kind: generator, options: { count: 40, fields: [id, name] } }",
          "{ kind: csv, options: { path: missing.csv } }"
        ),
      "out/.keep": ""
    })
    const running = start(["serve"], project)
    try {
      const [, url] = (await running.waitFor(/MCP endpoint: (http:\/\/127\.0\.0\.1:\d+\/mcp)/)) as RegExpMatchArray
      const client = new Client({ name: "cli-test", version: "1.0.0" })
      await client.connect(new StreamableHTTPClientTransport(new URL(url as string)))
      const tools = await client.listTools()
      const names = tools.tools.map((t) => t.name)
      for (const t of ["list_pipelines", "preview_pipeline", "run_pipeline"]) assert.include(names, t)
      const listed = structured(await client.callTool({ name: "list_pipelines", arguments: {} }))
      assert.include(JSON.stringify(listed), "people")
      const run = structured(await client.callTool({ name: "run_pipeline", arguments: { name: "people" } }))
      assert.strictEqual(run.status, "succeeded", JSON.stringify(run))
      assert.strictEqual((run.summary as { recordsWritten: number }).recordsWritten, 40)
      await client.close()
      const health = await fetch(new URL("/healthz", url as string))
      assert.strictEqual(health.status, 200)
      const metrics = await fetch(new URL("/metrics", url as string))
      assert.strictEqual(metrics.status, 200)
    } finally {
      const exited = await stop(running)
      assert.strictEqual(exited.code, 0, exited.stderr)
    }
  })

  it("serve with auth from the config: 401 without a key, tools with one; the key is never printed", async () => {
    const project = `${dir}/secure`
    const { key, hash } = Auth.generateApiKey("ci")
    await write(project, {
      "data-mcp.config.yaml": `pipelines: [people.yaml]
server:
  port: 0
  auth:
    apiKeys: [{ id: ci, hash: "${hash}", roles: [operator], expiresAt: "2099-01-01T00:00:00Z" }]
  policy:
    roles: { operator: [{ permissions: ["*"] }] }
    scopes: ignore
`,
      "people.yaml": spec,
      "out/.keep": ""
    })
    const running = start(["serve"], project)
    try {
      const [, url] = (await running.waitFor(/MCP endpoint: (http:\/\/127\.0\.0\.1:\d+\/mcp)/)) as RegExpMatchArray
      const anonymous = await fetch(url as string, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} })
      })
      assert.strictEqual(anonymous.status, 401)
      assert.match(anonymous.headers.get("www-authenticate") ?? "", /Bearer/)
      const client = new Client({ name: "cli-test", version: "1.0.0" })
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url as string), {
          requestInit: { headers: { authorization: `Bearer ${key}` } }
        })
      )
      const listed = structured(await client.callTool({ name: "list_pipelines", arguments: {} }))
      assert.include(JSON.stringify(listed), "people")
      await client.close()
    } finally {
      const exited = await stop(running)
      assert.strictEqual(exited.code, 0, exited.stderr)
      assert.notInclude(exited.stdout + exited.stderr, key)
    }
  })

  it("serve --stdio: the same server for clients that start it", async () => {
    const project = `${dir}/serve`
    const client = new Client({ name: "cli-test", version: "1.0.0" })
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [bin, "serve", "--stdio"],
        cwd: project,
        stderr: "ignore"
      })
    )
    const listed = structured(await client.callTool({ name: "list_pipelines", arguments: {} }))
    assert.include(JSON.stringify(listed), "people")
    // A failing run's log lines go to stderr, so the protocol on stdout stays intact.
    const failed = structured(await client.callTool({ name: "run_pipeline", arguments: { name: "broken" } }))
    assert.strictEqual(failed.status, "failed", JSON.stringify(failed))
    const again = structured(await client.callTool({ name: "run_pipeline", arguments: { name: "people" } }))
    assert.strictEqual(again.status, "succeeded", JSON.stringify(again))
    await client.close()
  })

  it("dev: starts with no config and no service, serving the demo pipelines, and prints client configs", async () => {
    const empty = `${dir}/empty`
    await fsp.mkdir(empty)
    const running = start(["dev", "--port", "0"], empty)
    try {
      const [, url] = (await running.waitFor(/MCP endpoint: (http:\/\/127\.0\.0\.1:\d+\/mcp)/)) as RegExpMatchArray
      await running.waitFor(/Ctrl-C stops the server/)
      const output = running.output()
      assert.include(output, `"url": "${url}"`) // VS Code
      assert.include(output, `"mcp-remote",\n        "${url}"`) // Claude Desktop through mcp-remote
      assert.include(output, `--server-url ${url}`) // the Inspector
      assert.include(output, `"type": "http",\n      "url": "${url}"`) // VS Code
      assert.match(output, /pipelines: orders_to_jsonl, customers_sample/)
      const client = new Client({ name: "cli-test", version: "1.0.0" })
      await client.connect(new StreamableHTTPClientTransport(new URL(url as string)))
      const preview = structured(
        await client.callTool({ name: "preview_pipeline", arguments: { name: "orders_to_jsonl", limit: 2 } })
      )
      assert.strictEqual((preview.records as Array<unknown>).length, 2)
      await client.close()
      assert.isTrue((await fsp.stat(`${empty}/.data-mcp`)).isDirectory())
    } finally {
      const exited = await stop(running)
      assert.strictEqual(exited.code, 0, exited.stderr)
    }
  })

  it("dev reloads specs on change, and keeps serving the previous ones when a change is wrong", async () => {
    const project = `${dir}/reload`
    await write(project, { "data-mcp.config.yaml": "pipelines: [people.yaml]\n", "people.yaml": spec, "out/.keep": "" })
    const running = start(["dev", "--port", "0"], project)
    // The 2026 protocol era (negotiated with `auto`), whose subscriptions/listen stream carries list changes.
    const client = new Client({ name: "cli-test", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } })
    const names = async () => {
      const listed = structured(await client.callTool({ name: "list_pipelines", arguments: {} }))
      return (listed.pipelines as Array<{ name: string }>).map((p) => p.name).sort()
    }
    try {
      const [, url] = (await running.waitFor(/MCP endpoint: (http:\/\/127\.0\.0\.1:\d+\/mcp)/)) as RegExpMatchArray
      await running.waitFor(/Ctrl-C stops the server/)
      let changed = 0
      client.setNotificationHandler("notifications/tools/list_changed", () => void changed++)
      await client.connect(new StreamableHTTPClientTransport(new URL(url as string)))
      // The 2026 protocol delivers list changes on a subscriptions/listen stream.
      const subscription = await client.listen({ toolsListChanged: true })
      assert.isTrue(subscription.honoredFilter.toolsListChanged)
      assert.deepStrictEqual(await names(), ["people"])

      // A file poller takes its first look when it starts: repeat a change until it is seen (no fixed sleeps).
      const untilSeen = async (pattern: RegExp, change: () => Promise<void>) => {
        for (let attempt = 1; ; attempt++) {
          await change()
          try {
            return await running.waitFor(pattern, 10_000)
          } catch (error) {
            if (attempt === 6) throw error
          }
        }
      }
      await write(project, { "more.yaml": spec.replace("name: people", "name: more") })
      await untilSeen(/reloaded: people, more/, () =>
        write(project, { "data-mcp.config.yaml": "pipelines: [people.yaml, more.yaml]\n" })
      )
      assert.deepStrictEqual(await names(), ["more", "people"])

      // Editing a spec file re-registers its pipeline: a per-pipeline tool appears, and the client is told.
      const toolsBefore = (await client.listTools()).tools.map((t) => t.name)
      assert.notInclude(toolsBefore, "run_people")
      const seenBefore = changed
      await untilSeen(/reloaded: people, more\n[\s\S]*reloaded: people, more/, () =>
        write(project, { "people.yaml": `${spec}options: { mcp: { tool: true } }\n` })
      )
      assert.include(
        (await client.listTools()).tools.map((t) => t.name),
        "run_people"
      )
      for (let i = 0; i < 100 && changed === seenBefore; i++) await new Promise((r) => setTimeout(r, 50))
      assert.isAbove(changed, seenBefore, "no notifications/tools/list_changed after the reload")
      await subscription.close()

      await untilSeen(/reload failed, still serving the previous pipelines:\n.*more\.yaml:5:\d+: sink\.kind/, () =>
        write(project, {
          "more.yaml": spec.replace("name: people", "name: more").replace("kind: jsonl", "kind: jsonx")
        })
      )
      assert.deepStrictEqual(await names(), ["more", "people"])
    } finally {
      await client.close().catch(() => undefined)
      const exited = await stop(running)
      assert.strictEqual(exited.code, 0, exited.stderr)
    }
  })
})
