import { defineProject } from "vitest/config"

const conditions = ["@data-mcp/source", "node", "default"]

export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: { name: "cli", include: ["test/**/*.test.ts"], testTimeout: 120_000, hookTimeout: 120_000 }
})
