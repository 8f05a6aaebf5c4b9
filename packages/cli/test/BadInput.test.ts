// Bad input: a clear message naming file, line and field, and exit code 2.
import * as fsp from "node:fs/promises"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { assertBuilt, cli, tempDir, write } from "./utils.ts"

const spec = (over: { sink?: string; transforms?: string } = {}) => `name: orders
version: 1.0.0
description: Orders
source: { kind: csv, options: { path: data/orders.csv } }
transforms:
${over.transforms ?? "  - drop: [note]"}
sink: ${over.sink ?? "{ kind: jsonl, options: { path: out/orders.jsonl } }"}
`

describe("bad input exits 2 with a message that says what to fix", () => {
  let dir: string
  beforeAll(async () => {
    assertBuilt()
    dir = await tempDir()
  })
  afterAll(() => fsp.rm(dir, { recursive: true, force: true }))

  const project = async (config: string, files: Readonly<Record<string, string>> = {}) => {
    await fsp.rm(dir, { recursive: true, force: true })
    await write(dir, { "data-mcp.config.yaml": config, "data/orders.csv": "order_id,note\n1,x\n", ...files })
  }

  it("an unknown key and a wrong type in the config name the line and field", async () => {
    await project("pipelines: []\nstate:\n  backend: file\n  diretory: x\nserver:\n  port: http\n")
    const r = await cli(["validate"], dir)
    assert.strictEqual(r.code, 2)
    assert.match(r.stderr, /data-mcp\.config\.yaml:4:\d+: state\.diretory: unknown key \(check the spelling\)/)
    assert.match(
      r.stderr,
      /data-mcp\.config\.yaml:6:9: server\.port: Expected .*number|data-mcp\.config\.yaml:6:9: server\.port: Expected/
    )
    const json = await cli(["validate", "--json"], dir)
    assert.strictEqual(json.code, 2)
    const out = JSON.parse(json.stdout)
    assert.strictEqual(out.ok, false)
    assert.deepInclude(out.problems[0], { file: "data-mcp.config.yaml", line: 4, path: "state.diretory" })
  })

  it("validate with no config says where it looked and what to do", async () => {
    await fsp.rm(dir, { recursive: true, force: true })
    await fsp.mkdir(dir)
    const r = await cli(["validate"], dir)
    assert.strictEqual(r.code, 2)
    assert.match(
      r.stderr,
      /no data-mcp\.config\.yaml, data-mcp\.config\.yml, data-mcp\.config\.json in .*: run data-mcp init/
    )
  })

  it("a YAML syntax error names the line", async () => {
    await project("pipelines: [a.yaml\n")
    const r = await cli(["validate"], dir)
    assert.strictEqual(r.code, 2)
    assert.match(r.stderr, /data-mcp\.config\.yaml:\d+:\d+: syntax error/)
  })

  it("a missing spec file points at the config line", async () => {
    await project("pipelines:\n  - pipelines/orders.yaml\n  - pipelines/missing.yaml\n", {
      "pipelines/orders.yaml": spec()
    })
    const r = await cli(["validate"], dir)
    assert.strictEqual(r.code, 2)
    assert.include(
      r.stderr,
      "data-mcp.config.yaml:3:5: pipelines[1]: pipelines/missing.yaml: cannot read the file (ENOENT)"
    )
  })

  it("spec mistakes name the spec file, line and field", async () => {
    await project("pipelines:\n  - pipelines/orders.yaml\n", {
      "pipelines/orders.yaml": spec({ sink: "{ kind: jsonx, options: { path: out.jsonl } }" })
    })
    const unknown = await cli(["validate"], dir)
    assert.strictEqual(unknown.code, 2)
    assert.match(unknown.stderr, /pipelines\/orders\.yaml:7:\d+: sink\.kind: .*jsonx/)

    await project("pipelines:\n  - pipelines/orders.yaml\n", {
      "pipelines/orders.yaml": spec({ transforms: '  - drop: [note]\n  - filter: "record.amount >"' })
    })
    const cel = await cli(["validate"], dir)
    assert.strictEqual(cel.code, 2)
    assert.match(cel.stderr, /pipelines\/orders\.yaml:7:\d+: transforms\[1\]\.filter: /)

    await project("pipelines:\n  - pipelines/orders.yaml\n", {
      "pipelines/orders.yaml": spec({ sink: "{ kind: jsonl, options: { path: out.jsonl, mode: fast } }" })
    })
    const option = await cli(["run", "orders"], dir)
    assert.strictEqual(option.code, 2)
    assert.match(option.stderr, /pipelines\/orders\.yaml:\d+:\d+: sink\.options/)
  })

  it("two specs with one name are refused", async () => {
    await project("pipelines:\n  - a.yaml\n  - b.yaml\n", { "a.yaml": spec(), "b.yaml": spec() })
    const r = await cli(["validate"], dir)
    assert.strictEqual(r.code, 2)
    assert.include(r.stderr, 'b.yaml: name: pipeline "orders" is also defined in a.yaml')
  })

  it("auth options in the server config are checked", async () => {
    await project(
      "server:\n  auth:\n    apiKeys:\n      - { id: ci, hash: nothex, roles: [agent], expiresAt: 2030-01-01 }\n"
    )
    const r = await cli(["validate"], dir)
    assert.strictEqual(r.code, 2)
    assert.match(r.stderr, /data-mcp\.config\.yaml:4:\d+: server\.auth\.apiKeys\[0\]\.hash: Expected sha256/)
  })

  it("unknown pipelines, params on a spec, unknown commands and a missing --config", async () => {
    await project("pipelines:\n  - pipelines/orders.yaml\n", { "pipelines/orders.yaml": spec() })
    const unknown = await cli(["run", "nope"], dir)
    assert.strictEqual(unknown.code, 2)
    assert.include(unknown.stderr, 'unknown pipeline "nope"; known: orders')
    const params = await cli(["run", "orders", "--param", "x=1"], dir)
    assert.strictEqual(params.code, 2)
    assert.include(params.stderr, 'pipeline "orders" takes no params')
    const malformed = await cli(["run", "orders", "--param", "novalue"], dir)
    assert.strictEqual(malformed.code, 2)
    assert.include(malformed.stderr, "--param novalue: expected key=value")
    const command = await cli(["frobnicate"], dir)
    assert.strictEqual(command.code, 2)
    assert.match(command.stderr, /unknown command 'frobnicate'/)
    const missing = await cli(["--config", "nope.yaml", "list"], dir)
    assert.strictEqual(missing.code, 2)
    assert.include(missing.stderr, "nope.yaml: the config file does not exist")
    const limit = await cli(["runs", "--limit", "0"], dir)
    assert.strictEqual(limit.code, 2)
  })
})
