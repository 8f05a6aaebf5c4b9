// Drives the built `data-mcp` binary as a user would: a spawned process in a temp directory.
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync } from "node:fs"
import * as fsp from "node:fs/promises"
import * as os from "node:os"
import * as nodePath from "node:path"

export const bin = nodePath.resolve(import.meta.dirname, "..", "dist", "bin.js")

export const assertBuilt = () => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`npm run build -w @data-mcp/cli\` first`)
}

export const tempDir = async (): Promise<string> => fsp.mkdtemp(nodePath.join(os.tmpdir(), "data-mcp-cli-"))

export interface Result {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

const env = (extra?: Readonly<Record<string, string>>) => ({
  ...process.env,
  NO_COLOR: "1",
  FORCE_COLOR: "0",
  ...extra
})

/** Runs the command to completion (with `extra` environment variables). */
export const cli = (
  args: ReadonlyArray<string>,
  cwd: string,
  extra?: Readonly<Record<string, string>>
): Promise<Result> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd,
      env: env(extra),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d) => (stdout += d))
    child.stderr.on("data", (d) => (stderr += d))
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })

/** A running command whose output can be waited on. */
export interface Running {
  readonly child: ChildProcess
  readonly output: () => string
  /** Resolves with the first match of `pattern` in stdout + stderr; rejects on exit or after `timeoutMs`. */
  readonly waitFor: (pattern: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>
  readonly exited: Promise<Result>
}

export const start = (args: ReadonlyArray<string>, cwd: string, extra?: Readonly<Record<string, string>>): Running => {
  const child = spawn(process.execPath, [bin, ...args], { cwd, env: env(extra), stdio: ["pipe", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  const listeners = new Set<() => void>()
  const notify = () => {
    for (const l of [...listeners]) l()
  }
  child.stdout?.on("data", (d) => {
    stdout += d
    notify()
  })
  child.stderr?.on("data", (d) => {
    stderr += d
    notify()
  })
  const exited = new Promise<Result>((resolve) =>
    child.on("close", (code, signal) => {
      resolve({ code, signal, stdout, stderr })
      notify()
    })
  )
  const output = () => stdout + stderr
  const waitFor = (pattern: RegExp, timeoutMs = 60_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = output().match(pattern)
        if (match !== null) {
          done()
          resolve(match)
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done()
          reject(new Error(`exited before ${pattern}:\n${output()}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`timed out waiting for ${pattern}:\n${output()}`))
      }, timeoutMs)
      const done = () => {
        clearTimeout(timer)
        listeners.delete(check)
      }
      listeners.add(check)
      check()
    })
  return { child, output, waitFor, exited }
}

export const write = async (dir: string, files: Readonly<Record<string, string>>) => {
  for (const [name, text] of Object.entries(files)) {
    const path = nodePath.join(dir, name)
    await fsp.mkdir(nodePath.dirname(path), { recursive: true })
    await fsp.writeFile(path, text)
  }
}

/** Specs shared by the operator-command tests. */
export const specs = {
  /** 100 generated records, checkpointed by offset every 10. */
  gen: `name: gen
version: 1.0.0
description: 100 generated records.
source: { kind: generator, options: { count: 100, batchSize: 10, fields: [id, name, amount] } }
sink: { kind: jsonl, options: { path: out/gen.jsonl } }
`,
  /** A CSV whose `amount` is cast to decimal: a record with `oops` is dead-lettered by the transform. */
  amounts: `name: amounts
version: 1.0.0
description: Amounts, one of them bad.
source: { kind: csv, options: { path: amounts.csv } }
transforms:
  - cast: { amount: decimal }
sink: { kind: jsonl, options: { path: out/amounts.jsonl } }
`
}
