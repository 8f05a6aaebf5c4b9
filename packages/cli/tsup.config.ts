import { defineConfig } from "tsup"

const external = [
  "effect",
  "@data-mcp/core",
  "@data-mcp/mcp-adapter",
  "@data-mcp/connector-postgres",
  "@data-mcp/connector-mysql",
  "commander",
  "yaml"
]

export default defineConfig([
  {
    entry: { index: "src/index.ts" },
    format: ["esm", "cjs"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
    external
  },
  // The executable: ESM only (it uses top-level await).
  { entry: { bin: "src/bin.ts" }, format: ["esm"], sourcemap: true, target: "node20", external }
])
