// Every public module is a namespace of index.ts and has its own build entry, so `@data-mcp/core/<Module>` (the
// package's "./*" export) resolves in the published package as it does from sources.
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import * as Core from "../src/index.ts"

const read = (path: string) => readFileSync(fileURLToPath(new URL(path, import.meta.url)), "utf8")

describe("core's public modules", () => {
  it("each namespace of index.ts has a tsup entry of the same name", () => {
    const modules = [...read("../src/index.ts").matchAll(/export \* as (\w+) from "\.\/(.+)\.ts"/g)].map((m) => [
      m[1]!,
      m[2]!
    ])
    assert.isAbove(modules.length, 30)
    const config = read("../tsup.config.ts")
    for (const [name, path] of modules)
      assert.include(config, `"${path}": "src/${path}.ts"`.replace(/^"(\w+)":/, "$1:"), name)
    assert.include(Object.keys(Core), "Incremental")
    const exports = JSON.parse(read("../package.json")).exports as Record<string, unknown>
    assert.deepStrictEqual(Object.keys((exports["./*"] as Record<string, unknown>) ?? {}), [
      "@data-mcp/source",
      "import",
      "require"
    ])
  })
})
