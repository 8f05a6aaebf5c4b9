// Sink.plan of the built-in sinks (what a run would do to the target, from a sample; nothing written) and the
// upper bound (`Estimate.to`) of the built-in sources that know it.
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Csv from "../../src/connectors/csv/Csv.ts"
import * as Generator from "../../src/connectors/generator/Generator.ts"
import * as Jsonl from "../../src/connectors/jsonl/Jsonl.ts"
import * as Memory from "../../src/connectors/memory/Memory.ts"
import * as SchemaInference from "../../src/SchemaInference.ts"
import { tempDir } from "./utils.ts"

const planOf = <A>(
  sink: { readonly plan?: ((sample: ReadonlyArray<A>) => Effect.Effect<unknown, unknown>) | undefined },
  sample: ReadonlyArray<A>
) => {
  assert.isDefined(sink.plan)
  return sink.plan!(sample)
}

describe("Sink.plan", () => {
  it.effect("memory: holds any record; reports the rows it holds", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<{ id: number }>()
      const plan = yield* planOf(collector.sink, [{ id: 1 }])
      assert.deepStrictEqual(plan, { target: "memory", exists: true, rows: 0, changes: SchemaInference.emptyDiff })
    })
  )

  it.effect("csv: a new file is created with the sample's columns; nothing is written", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "new.csv")
      const plan = yield* planOf(Csv.sink({ path: file }), [
        { id: 1, name: "a" },
        { id: 2, email: "e" }
      ])
      assert.deepStrictEqual(plan, {
        target: file,
        exists: false,
        changes: {
          ...SchemaInference.emptyDiff,
          added: [
            { path: "id", type: "string" },
            { path: "name", type: "string" },
            { path: "email", type: "string" }
          ]
        }
      })
      assert.isFalse(fs.existsSync(file))
    })
  )

  it.effect("csv: an existing file's header fixes the columns; extra fields are refused as dead letters", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "old.csv")
      fs.writeFileSync(file, "id,name\n1,a\n")
      const fits = yield* planOf(Csv.sink({ path: file }), [{ id: 2, name: "b" }])
      assert.deepStrictEqual(fits, { target: file, exists: true, changes: SchemaInference.emptyDiff })
      const extra = yield* planOf(Csv.sink({ path: file }), [{ id: 2, name: "b", email: "x@y" }])
      assert.deepStrictEqual(extra, {
        target: file,
        exists: true,
        changes: SchemaInference.emptyDiff,
        refused: {
          diff: { ...SchemaInference.emptyDiff, added: [{ path: "email", type: "string" }] },
          outcome: "discardRow",
          reason: `records with fields that are not columns of file ${file} become dead letters`
        }
      })
      assert.strictEqual(fs.readFileSync(file, "utf8"), "id,name\n1,a\n")
    })
  )

  it.effect("jsonl: any record fits; tells whether the file exists", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const file = path.join(dir, "out.jsonl")
      const before = yield* planOf(Jsonl.sink({ path: file }), [{ a: 1 }])
      assert.deepStrictEqual(before, { target: file, exists: false, changes: SchemaInference.emptyDiff })
      fs.writeFileSync(file, '{"a":1}\n')
      const after = yield* planOf(Jsonl.sink({ path: file }), [{ a: 1 }])
      assert.isTrue((after as { exists: boolean }).exists)
    })
  )
})

describe("Source estimate: the upper bound a run would reach", () => {
  it.effect("memory and generator sources know their last checkpoint", () =>
    Effect.gen(function* () {
      const memory = Memory.source([{ id: 1 }, { id: 2 }, { id: 3 }])
      assert.deepStrictEqual(yield* memory.estimate!(1), { rows: 2, to: 3 })
      const generated = Generator.source({ count: 10, fields: ["id"] })
      assert.deepStrictEqual(yield* generated.estimate!(undefined), { rows: 10, to: 10 })
    })
  )
})
