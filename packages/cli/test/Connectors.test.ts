// Connectors named by the config join core's built-ins: a local module, or a package installed next to the CLI.
import { spawn } from "node:child_process"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { assertBuilt, cli, tempDir, write } from "./utils.ts"

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g")

const repoModules = nodePath.resolve(import.meta.dirname, "..", "..", "..", "node_modules")

const squares = `import { Connector, Memory } from "@data-mcp/core"
import { Schema } from "effect"

export const squares = Connector.make({
  kind: "squares",
  description: "The first n squares",
  source: {
    config: Schema.Struct({ count: Schema.Int }),
    make: ({ count }) => Memory.source(Array.from({ length: count }, (_, n) => ({ n, square: n * n })))
  }
})
`

const spec = `name: squares_to_jsonl
version: 1.0.0
description: Squares to JSON Lines.
source: { kind: squares, options: { count: 12 } }
sink: { kind: jsonl, options: { path: out/squares.jsonl } }
`

describe("connectors from the config", () => {
  let dir: string
  beforeAll(async () => {
    assertBuilt()
    dir = await tempDir()
    // The module imports @data-mcp/core and effect, as it would from a project's node_modules.
    await fsp.symlink(repoModules, nodePath.join(dir, "node_modules"), "dir")
    await write(dir, { "connectors/squares.mjs": squares, "squares.yaml": spec, "out/.keep": "" })
  })
  afterAll(() => fsp.rm(dir, { recursive: true, force: true }))

  it("a local module's connector is validated and runs; a package's connectors are loaded", async () => {
    await write(dir, {
      "data-mcp.config.yaml":
        "connectors: [./connectors/squares.mjs, '@data-mcp/connector-rest']\npipelines: [squares.yaml]\n"
    })
    const valid = await cli(["validate", "--json"], dir)
    assert.strictEqual(valid.code, 0, valid.stdout + valid.stderr)
    const kinds = JSON.parse(valid.stdout).connectors
    for (const kind of ["squares", "rest", "csv", "jsonl"]) assert.include(kinds, kind)
    const run = await cli(["run", "squares_to_jsonl", "--json"], dir)
    assert.strictEqual(run.code, 0, run.stderr)
    assert.strictEqual(JSON.parse(run.stdout).recordsWritten, 12)
    const last = (await fsp.readFile(nodePath.join(dir, "out", "squares.jsonl"), "utf8")).trim().split("\n").at(-1)
    assert.deepStrictEqual(JSON.parse(last ?? ""), { n: 11, square: 121 })
  })

  it("a module that cannot be loaded or exports no connector is bad input at its config line", async () => {
    await write(dir, {
      "data-mcp.config.yaml": "connectors:\n  - ./connectors/missing.mjs\n  - ./squares.yaml.mjs\n",
      "squares.yaml.mjs": "export const notAConnector = 1\n"
    })
    const r = await cli(["validate"], dir)
    assert.strictEqual(r.code, 2)
    assert.match(
      r.stderr,
      /data-mcp\.config\.yaml:2:5: connectors\[0\]: \.\/connectors\/missing\.mjs: cannot load the module/
    )
    assert.include(
      r.stderr,
      "data-mcp.config.yaml:3:5: connectors[1]: ./squares.yaml.mjs: exports no connector definition (Connector.make) or catalog"
    )
  })
})

describe("new connector", () => {
  let dir: string
  beforeAll(async () => {
    assertBuilt()
    dir = await tempDir()
    await fsp.symlink(repoModules, nodePath.join(dir, "node_modules"), "dir")
  })
  afterAll(() => fsp.rm(dir, { recursive: true, force: true }))

  const node = (args: ReadonlyArray<string>, cwd: string) =>
    new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      // The child is a fresh vitest, not a worker of this one.
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VITEST")))
      const child = spawn(process.execPath, [...args], { cwd, env })
      let output = ""
      child.stdout.on("data", (d) => (output += d))
      child.stderr.on("data", (d) => (output += d))
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, output: output.replace(ANSI, "") }))
    })

  it("scaffolds a connector package that type-checks and passes core's conformance suite", async () => {
    const made = await cli(["new", "connector", "acme-db"], dir)
    assert.strictEqual(made.code, 0, made.stderr)
    const pkg = nodePath.join(dir, "connector-acme-db")
    const tsc = await node([nodePath.join(repoModules, "typescript", "bin", "tsc"), "--noEmit", "-p", "."], pkg)
    assert.strictEqual(tsc.code, 0, tsc.output)
    const tested = await node([nodePath.join(repoModules, "vitest", "vitest.mjs"), "run"], pkg)
    assert.strictEqual(tested.code, 0, tested.output)
    assert.match(tested.output, /Tests\s+\d+ passed \(\d+\)/)
    assert.include(tested.output, "acme-db conformance")
    const again = await cli(["new", "connector", "acme-db"], dir)
    assert.strictEqual(again.code, 2)
    assert.match(again.stderr, /already exists/)
    const bad = await cli(["new", "connector", "Acme"], dir)
    assert.strictEqual(bad.code, 2)
  })
})
