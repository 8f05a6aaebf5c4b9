// The README's options tables are generated from the config schemas; this keeps them in sync.
import { readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { readmes, render, tables } from "./options-tables.ts"

describe("README options tables", () => {
  it("match the config schemas (run `npm run docs:options` to regenerate)", () => {
    for (const file of readmes) {
      const text = readFileSync(file, "utf8")
      expect(render(text)).toBe(text)
    }
  })

  it("cover every registered option schema", () => {
    const text = readmes.map((file) => readFileSync(file, "utf8")).join("\n")
    for (const name of Object.keys(tables)) expect(text).toContain(`<!-- options:${name} -->`)
  })
})
