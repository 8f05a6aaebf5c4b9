import { defineConfig } from "tsup"

export default defineConfig({
  entry: {
    index: "src/index.ts",
    node: "src/node.ts",
    express: "src/express.ts",
    hono: "src/hono.ts",
    stdio: "src/stdio.ts"
  },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  external: [
    "effect",
    "@data-mcp/core",
    "@modelcontextprotocol/server",
    "@modelcontextprotocol/node",
    "express",
    "hono"
  ]
})
