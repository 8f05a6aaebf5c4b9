// Finishes tsc's declaration output for publishing: relative imports written with `.ts` (as the sources use) are
// rewritten to `.js`, and every `.d.ts` gets a `.d.cts` twin importing `.cjs`, for CommonJS consumers.
// Usage: node scripts/finish-dts.mjs <dir>
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const dir = process.argv[2]
if (dir === undefined) throw new Error("usage: node scripts/finish-dts.mjs <dir>")

const relative = /(from\s+|import\()(["'])(\.{1,2}\/[^"']+?)\.ts\2/g

const walk = (path) => {
  for (const name of readdirSync(path)) {
    const file = join(path, name)
    if (statSync(file).isDirectory()) walk(file)
    else if (name.endsWith(".d.ts")) {
      const esm = readFileSync(file, "utf8").replace(relative, "$1$2$3.js$2")
      writeFileSync(file, esm)
      writeFileSync(
        file.replace(/\.d\.ts$/, ".d.cts"),
        esm.replace(/(from\s+|import\()(["'])(\.{1,2}\/[^"']+?)\.js\2/g, "$1$2$3.cjs$2")
      )
    }
  }
}
walk(dir)
