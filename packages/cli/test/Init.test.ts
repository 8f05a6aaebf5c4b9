// `data-mcp init` makes a project whose own `npm test` passes against the workspace packages, packed with `npm pack`
// and installed as a user would install the published ones.
import { spawn } from "node:child_process"
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import { assertBuilt, cli, tempDir } from "./utils.ts"

const repo = nodePath.resolve(import.meta.dirname, "..", "..", "..")

const npm = (args: ReadonlyArray<string>, cwd: string) =>
  new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn("npm", [...args], { cwd, env: { ...process.env, npm_config_update_notifier: "false" } })
    let output = ""
    child.stdout.on("data", (d) => (output += d))
    child.stderr.on("data", (d) => (output += d))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, output }))
  })

describe("init → npm install (packed packages) → npm test", () => {
  let dir: string
  beforeAll(async () => {
    assertBuilt()
    dir = await tempDir()
  })
  afterAll(() => fsp.rm(dir, { recursive: true, force: true }))

  it("the scaffolded project's own test passes", { timeout: 300_000 }, async () => {
    const packs = nodePath.join(dir, "packs")
    await fsp.mkdir(packs)
    const packages = ["@data-mcp/core", "@data-mcp/mcp-adapter", "@data-mcp/cli"]
    const packed = await npm(["pack", ...packages.flatMap((p) => ["-w", p]), "--pack-destination", packs], repo)
    assert.strictEqual(packed.code, 0, packed.output)
    const tarballs = (await fsp.readdir(packs)).filter((f) => f.endsWith(".tgz")).map((f) => nodePath.join(packs, f))
    assert.strictEqual(tarballs.length, 3, tarballs.join(", "))

    const made = await cli(["init", "project"], dir)
    assert.strictEqual(made.code, 0, made.stderr)
    const project = nodePath.join(dir, "project")
    const installed = await npm(["install", "--no-audit", "--no-fund", ...tarballs], project)
    assert.strictEqual(installed.code, 0, installed.output)
    const bin = await fsp.stat(nodePath.join(project, "node_modules", ".bin", "data-mcp"))
    assert.isTrue(bin.isFile() || bin.isSymbolicLink())
    const tested = await npm(["test"], project)
    assert.strictEqual(tested.code, 0, tested.output)
    assert.match(tested.output, /# pass 1/)
  })
})
