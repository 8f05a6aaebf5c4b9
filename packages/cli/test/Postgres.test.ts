// `state.backend: postgres` through the built binary: run, runs, state, dlq, register and versions keep their data
// in PostgreSQL (a fresh schema of the real local server), the password is named in the config and read from the
// environment, and no output ever shows it; a password written in the config is bad input naming file, line and
// field. With CI=true it never skips.
import * as fsp from "node:fs/promises"
import { LiveService } from "@data-mcp/core/testing"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import pg from "pg"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { assertBuilt, cli, type Result, start, tempDir, write } from "./utils.ts"

const connection = {
  host: process.env.PGHOST ?? "127.0.0.1",
  port: Number(process.env.PGPORT ?? 5432),
  user: process.env.PGUSER ?? "postgres",
  database: process.env.PGDATABASE ?? "test"
}
const schema = `dm_cli_${process.pid}_${Date.now().toString(36)}`
// Trust auth accepts any password: the point is that this one never appears anywhere.
const password = "pw-Zq81-never-print-me"
const env = { DM_TEST_PG_PASSWORD: password }

const unreachable = await LiveService.unreachable(connection, "the CLI's PostgreSQL backend tests")

const config = `pipelines: [gen.yaml]
state:
  backend: postgres
  schema: ${schema}
  connection:
    host: ${connection.host}
    port: ${connection.port}
    user: ${connection.user}
    database: ${connection.database}
    password: { secret: DM_TEST_PG_PASSWORD }
`

const gen = `name: gen
version: 1.0.0
description: 30 generated records.
source: { kind: generator, options: { count: 30, batchSize: 10, fields: [id, name] } }
sink: { kind: jsonl, options: { path: out/gen.jsonl } }
`

describe.skipIf(unreachable !== undefined)("state.backend: postgres", () => {
  let dir: string
  const outputs: Array<Result> = []
  const run_ = async (args: ReadonlyArray<string>) => {
    const r = await cli(args, dir, env)
    outputs.push(r)
    return r
  }
  beforeAll(async () => {
    assertBuilt()
    dir = await tempDir()
    await write(dir, { "data-mcp.config.yaml": config, "gen.yaml": gen, "out/.keep": "" })
  })
  afterAll(async () => {
    await fsp.rm(dir, { recursive: true, force: true })
    if (unreachable !== undefined) return
    const client = new pg.Client(connection)
    await client.connect()
    await client.query(`drop schema if exists "${schema}" cascade`)
    await client.end()
  })

  it("run, runs, state, register and versions keep their data in PostgreSQL; the password never shows", async () => {
    const first = await run_(["run", "gen", "--json"])
    assert.strictEqual(first.code, 0, first.stderr)
    assert.strictEqual(JSON.parse(first.stdout).recordsWritten, 30)
    const runs = JSON.parse((await run_(["runs", "gen", "--json"])).stdout)
    assert.strictEqual(runs.length, 1)
    const state = JSON.parse((await run_(["state", "show", "gen", "--json"])).stdout)
    assert.strictEqual(state.checkpoint, 30)
    assert.strictEqual((await run_(["register", "gen"])).code, 0)
    const versions = JSON.parse((await run_(["versions", "gen", "--json"])).stdout)
    assert.strictEqual(versions[0].version, "1.0.0")
    assert.strictEqual(JSON.parse((await run_(["dlq", "list", "gen", "--json"])).stdout).letters.length, 0)
    // the data is in the database, not in files
    const client = new pg.Client(connection)
    await client.connect()
    const stored = await client.query(`select count(*)::int as n from "${schema}".data_mcp_runs`)
    await client.end()
    assert.strictEqual(stored.rows[0].n, 1)
    await fsp.access(`${dir}/.data-mcp/runs`).then(
      () => assert.fail("file run store used"),
      () => undefined
    )
    // a missing secret is reported by name, not value
    const missing = await cli(["runs", "gen"], dir, { DM_TEST_PG_PASSWORD: "" })
    outputs.push(missing)
    assert.strictEqual(missing.code, 2)
    assert.match(missing.stderr, /Secret "DM_TEST_PG_PASSWORD": not found/)
    for (const r of outputs) {
      assert.notInclude(r.stdout, password)
      assert.notInclude(r.stderr, password)
    }
  })

  it("serve runs over MCP with the PostgreSQL stores: the run is in the shared history", async () => {
    const running = start(["serve", "--port", "0"], dir, env)
    try {
      const [, url] = (await running.waitFor(/MCP endpoint: (http:\/\/127\.0\.0\.1:\d+\/mcp)/)) as RegExpMatchArray
      const client = new Client({ name: "cli-pg-test", version: "1.0.0" })
      await client.connect(new StreamableHTTPClientTransport(new URL(url as string)))
      const result = await client.callTool({ name: "run_pipeline", arguments: { name: "gen" } })
      const run = (result as { structuredContent: { status: string; runId: string } }).structuredContent
      assert.strictEqual(run.status, "succeeded")
      await client.close()
      const runs = JSON.parse((await run_(["runs", "gen", "--json"])).stdout) as Array<{ id: string }>
      assert.include(
        runs.map((r) => r.id),
        run.runId
      )
    } finally {
      running.child.kill("SIGINT")
      const exited = await running.exited
      assert.notInclude(exited.stdout + exited.stderr, password)
    }
  })

  it("a password written in the config is bad input naming file, line and field (and not quoted)", async () => {
    const bad = `${dir}/bad`
    await write(bad, {
      "data-mcp.config.yaml": config.replace("{ secret: DM_TEST_PG_PASSWORD }", password),
      "gen.yaml": gen
    })
    const r = await cli(["validate"], bad)
    assert.strictEqual(r.code, 2)
    assert.match(r.stderr, /data-mcp\.config\.yaml:10:\d+: state\.connection\.password: write \{ secret: NAME \}/)
    assert.notInclude(r.stdout + r.stderr, password)
  })
})
