import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Memory from "../src/connectors/memory/Memory.ts"
import * as Pipeline from "../src/Pipeline.ts"
import * as Runner from "../src/Runner.ts"
import * as StateStore from "../src/StateStore.ts"
import { ids, memoryRunner, range } from "./utils.ts"

type Row = { readonly id: number }

describe("Runner backfills (start / end)", () => {
  it.effect("a backfill from `start` to `end` reads that range and leaves the pipeline's checkpoint alone", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<Row>()
      const pipeline = Pipeline.make<Row, Row>({
        name: "copy",
        version: "1.0.0",
        description: "copies rows",
        source: Memory.source(range(100), { batchSize: 10 }),
        sink: collector.sink
      })
      const summary = yield* Runner.run(pipeline, {}, { start: 30, end: 60 })
      assert.strictEqual(summary.status, "succeeded")
      assert.deepStrictEqual(
        ids(collector.records()),
        range(30, 30).map((r) => r.id)
      )
      assert.strictEqual(summary.checkpointFrom, 30)
      assert.strictEqual(summary.checkpointTo, 60)
      assert.match(summary.stateKey, /\/backfill:30\.\.60$/)
      const own = Pipeline.stateKey(pipeline, {})
      assert.isUndefined(yield* StateStore.StateStore.use((s) => s.load(own)))
      // a repeat resumes from the backfill's own checkpoint, not from `start`
      const again = yield* Runner.run(pipeline, {}, { start: 30, end: 60 })
      assert.strictEqual(again.checkpointFrom, 60)
      // `start` alone reads from there to the source's end
      const tail = yield* Runner.run(pipeline, {}, { start: 90 })
      assert.strictEqual(tail.recordsRead, 10)
    }).pipe(Effect.provide(memoryRunner()))
  )
})
