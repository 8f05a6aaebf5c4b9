// pg must load as a plain import in this package's tests (vitest's conditions must not pick pg-pool's ESM build).
import { describe, expect, it } from "@effect/vitest"
import pg from "pg"

describe("pg", () => {
  it("loads with a Pool class", () => {
    expect(typeof pg.Pool).toBe("function")
    expect(typeof new pg.Pool({ max: 1 }).query).toBe("function")
  })
})
