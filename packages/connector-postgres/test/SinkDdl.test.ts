import { SchemaInference } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { PostgresSink } from "../src/index.ts"

describe("PostgresSink.ddl", () => {
  it("prints the table a first write would create, with the sink's column types", () => {
    const schema = SchemaInference.inferSchema([
      { id: 1, name: "Ada", score: 1.5, ok: true, tags: ["x"], meta: { a: 1 }, nothing: null }
    ])
    assert.strictEqual(
      PostgresSink.ddl({ schema: "shop", table: "people" }, schema),
      'create table if not exists "shop"."people" ("id" bigint, "name" text, "score" double precision, "ok" boolean, "tags" text[], "meta" jsonb, "nothing" text)'
    )
    assert.match(PostgresSink.ddl({ table: "t" }, schema), /^create table if not exists "public"\."t" /)
  })
})
