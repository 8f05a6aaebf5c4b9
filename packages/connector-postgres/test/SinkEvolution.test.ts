// The sink's scan of a batch against the table's columns: which fields are present, which are new (with their
// inferred types) and which columns need widening — whatever order the records hold their keys in.
import { assert, describe, it } from "@effect/vitest"
import * as Evolution from "../src/internal/sinkEvolution.ts"
import type { LiveColumn } from "../src/internal/sinkSql.ts"

const live: ReadonlyArray<LiveColumn> = [
  { name: "id", type: "integer" },
  { name: "name", type: "varchar", maxLength: 3 },
  { name: "at", type: "date" }
]

describe("sinkEvolution.scan", () => {
  it("sees every field and need, with keys in any order, missing, undefined or null", () => {
    const records: Array<Record<string, unknown>> = [
      { id: 1, name: "ann" },
      { id: 2, name: "bob" },
      // Another order, a new field and a value too long for varchar(3).
      { name: "carla", id: 3, email: "c@x" },
      { id: undefined, extra: undefined, name: null },
      // The same position as an earlier key, but another key; a bigint beyond int4.
      { email: "d@x", id: 2n ** 40n },
      { at: "2024-01-01", id: 5 },
      { at: { a: 1 } as unknown, id: 6 }
    ]
    const plan = Evolution.scan(records, live)
    assert.deepStrictEqual([...plan.present].sort(), ["at", "email", "id", "name"])
    assert.deepStrictEqual(plan.added, [{ name: "email", type: "text" }])
    assert.deepStrictEqual(
      plan.widened.map((w) => [w.name, w.to]),
      [
        ["name", "text"],
        ["id", "bigint"]
      ]
    )
  })

  it("finds nothing to do for records that fit", () => {
    const records = Array.from({ length: 100 }, (_, i) => ({ id: i, name: "abc", at: "2024-01-01" }))
    const plan = Evolution.scan(records, live)
    assert.isTrue(Evolution.isEmpty(plan))
    assert.deepStrictEqual([...plan.present], ["id", "name", "at"])
  })
})
