// Runner.requestCancel: a process without the run's handle (another replica sharing the stores) asks for a cancel
// through the run store; the runner that owns the run stops it at its next heartbeat, safely.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Generator from "../src/connectors/generator/Generator.ts"
import * as Memory from "../src/connectors/memory/Memory.ts"
import * as Pipeline from "../src/Pipeline.ts"
import * as Runner from "../src/Runner.ts"
import * as RunStore from "../src/RunStore.ts"
import * as Transform from "../src/Transform.ts"

const slow = (count = 500) => {
  const collector = Memory.sink<{ id: number }>({ transactional: true })
  const pipeline = Pipeline.make({
    name: "slow",
    version: "1.0.0",
    description: "slow rows",
    source: Generator.source({ count, fields: ["id"], batchSize: 5 }),
    transforms: Transform.identity<{ id: number }>().pipe(
      Transform.mapEffect((r) => Effect.as(Effect.sleep("5 millis"), r))
    ),
    sink: collector.sink,
    options: { batch: { rows: 5, maxWaitMs: 20 } }
  })
  return { pipeline, collector }
}

const waitUntil = (check: () => boolean) =>
  Effect.gen(function* () {
    while (!check()) yield* Effect.sleep("10 millis")
  }).pipe(Effect.timeout("10 seconds"))

describe("Runner.requestCancel", () => {
  it.live("stops a live run at the owner's next heartbeat; the checkpoint never passes written data", () =>
    Effect.gen(function* () {
      const { pipeline, collector } = slow()
      const handle = yield* Runner.start(pipeline, {})
      yield* waitUntil(() => collector.records().length >= 20)
      const requested = yield* Runner.requestCancel(handle.id)
      assert.isDefined(requested?.cancelRequestedAt)
      const summary = yield* handle.result
      assert.strictEqual(summary.status, "cancelled")
      assert.isBelow(summary.recordsWritten, 500)
      assert.strictEqual(collector.records().length, summary.recordsWritten)
      assert.deepStrictEqual(collector.checkpoint(summary.stateKey), Option.some(summary.checkpointTo))
      const stored = yield* RunStore.RunStore.use((s) => s.get(handle.id))
      assert.strictEqual(stored?.status, "cancelled")
      // A re-run resumes where the cancelled one stopped.
      const rerun = yield* Runner.run(pipeline, {})
      assert.strictEqual(rerun.checkpointFrom, summary.checkpointTo)
      assert.strictEqual(collector.records().length, 500)
    }).pipe(Effect.provide(Runner.layerMemory({ leaseTtlMs: 300, purgeIntervalMs: 0 })))
  )

  it.live("leaves an ended run as it is, and answers undefined for an unknown one", () =>
    Effect.gen(function* () {
      const { pipeline } = slow(20)
      const summary = yield* Runner.run(pipeline, {})
      const after = yield* Runner.requestCancel(summary.runId)
      assert.strictEqual(after?.status, "succeeded")
      assert.isUndefined(after?.cancelRequestedAt)
      assert.isUndefined(yield* Runner.requestCancel("run_nope"))
    }).pipe(Effect.provide(Runner.layerMemory({ leaseTtlMs: 300, purgeIntervalMs: 0 })))
  )
})
