// A sink's preferred batch size (Sink.Capabilities.batch) is used when the pipeline sets no batch options; the
// pipeline's own options win.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Memory from "../src/connectors/memory/Memory.ts"
import * as Pipeline from "../src/Pipeline.ts"
import * as Runner from "../src/Runner.ts"
import * as Sink from "../src/Sink.ts"

const sizedSink = (sizes: Array<number>) =>
  Sink.make<{ id: number }>({
    name: "sized",
    capabilities: { transactional: false, idempotent: false, batch: { rows: 40 } },
    disposition: Sink.append,
    open: () =>
      Effect.succeed({
        write: (batch) =>
          Effect.sync(() => {
            sizes.push(batch.records.length)
            return { written: batch.records.length }
          })
      })
  })

const rows = Array.from({ length: 100 }, (_, i) => ({ id: i }))

describe("Sink.Capabilities.batch", () => {
  it.effect("the sink's preferred rows per batch, unless the pipeline sets its own", () =>
    Effect.gen(function* () {
      const preferred: Array<number> = []
      yield* Runner.run(
        Pipeline.make({
          name: "preferred",
          version: "1.0.0",
          description: "uses the sink's batch size",
          source: Memory.source(rows, { batchSize: 10 }),
          sink: sizedSink(preferred)
        }),
        {}
      )
      assert.deepStrictEqual(preferred, [40, 40, 20])
      const own: Array<number> = []
      yield* Runner.run(
        Pipeline.make({
          name: "own",
          version: "1.0.0",
          description: "sets its own batch size",
          source: Memory.source(rows, { batchSize: 10 }),
          sink: sizedSink(own),
          options: { batch: { rows: 25 } }
        }),
        {}
      )
      assert.deepStrictEqual(own, [25, 25, 25, 25])
    }).pipe(Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))
  )
})
