import { defineConfig } from "tsup"

export default defineConfig({
  entry: { index: "src/index.ts", "promise/index": "src/promise/index.ts", "testing/index": "src/testing/index.ts" },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  external: ["effect", "@effect/vitest", "vitest"]
})
