// Backpressure: pull-based end to end with bounded buffers, so memory stays flat whatever the record count,
// and a slow sink holds the source back.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Memory from "../src/connectors/memory/Memory.ts"
import * as Pipeline from "../src/Pipeline.ts"
import * as Runner from "../src/Runner.ts"
import * as Sink from "../src/Sink.ts"
import * as Transform from "../src/Transform.ts"
import * as FaultInjection from "../src/testing/FaultInjection.ts"
import { memoryRunner } from "./utils.ts"

type Row = { readonly id: number; readonly name: string; readonly amount: number }

function* rows(n: number): Generator<Row> {
  for (let i = 0; i < n; i++) yield { id: i, name: `user-${i % 1000}`, amount: i * 0.5 }
}

const counting = (onBatch?: (batches: number) => void) => {
  let count = 0
  let batches = 0
  const sink = Sink.make<unknown>({
    name: "count",
    capabilities: { transactional: false, idempotent: false },
    disposition: Sink.append,
    open: () =>
      Effect.succeed({
        write: (batch) =>
          Effect.sync(() => {
            count += batch.records.length
            onBatch?.(++batches)
            return { written: batch.records.length }
          })
      })
  })
  return { sink, count: () => count }
}

const gc = (globalThis as { gc?: () => void }).gc

/**
 * Runs `n` generated records through the runner and returns the peak of the heap that survives a full GC,
 * sampled every 20th batch the sink receives (what the run retains, not garbage waiting for collection).
 */
const peakRetainedHeapFor = (n: number) =>
  Effect.gen(function* () {
    const collect = gc
    if (collect === undefined) return yield* Effect.die(new Error("run with --expose-gc (see vitest.config.ts)"))
    collect()
    const baseline = process.memoryUsage().heapUsed
    let peak = 0
    let samples = 0
    const { sink, count } = counting((batches) => {
      if (batches % 20 !== 0) return
      collect()
      samples++
      peak = Math.max(peak, process.memoryUsage().heapUsed - baseline)
    })
    const pipeline = Pipeline.make<Row, Row>({
      name: "volume",
      version: "1.0.0",
      description: "many records",
      source: Memory.source(rows(n), { batchSize: 5000 }),
      transforms: Transform.identity<Row>().pipe(
        Transform.map((r) => ({ ...r, amount: r.amount * 2 })),
        Transform.filter((r) => r.id >= 0)
      ),
      sink
    })
    const summary = yield* Runner.run(pipeline, {})
    assert.strictEqual(summary.recordsWritten, n)
    assert.strictEqual(count(), n)
    assert.isAtLeast(samples, Math.floor(n / 5000 / 20), "the run was sampled while it ran")
    return peak
  }).pipe(Effect.provide(memoryRunner()))

describe("backpressure", () => {
  it.live(
    "5,000,000 records run with a peak heap that does not grow with the record count",
    () =>
      Effect.gen(function* () {
        const small = yield* peakRetainedHeapFor(500_000)
        const large = yield* peakRetainedHeapFor(5_000_000)
        const mib = (n: number) => (n / 2 ** 20).toFixed(1)
        console.log(`peak retained heap above baseline: 500k records ${mib(small)} MiB, 5M records ${mib(large)} MiB`)
        // Ten times the records must not need ten times the memory: allow 1.5x plus 8 MiB of noise.
        assert.isBelow(large, small * 1.5 + 8 * 2 ** 20)
        // And far below what holding the 5M records would take (several hundred MiB).
        assert.isBelow(large, 48 * 2 ** 20)
      }),
    { timeout: 120_000 }
  )

  it.live("a slow sink pauses the source", () =>
    Effect.gen(function* () {
      let pulled = 0
      function* counted(): Generator<{ readonly id: number }> {
        for (let i = 0; i < 1_000_000; i++) {
          pulled++
          yield { id: i }
        }
      }
      const collector = Memory.sink<{ readonly id: number }>()
      const pipeline = Pipeline.make<{ readonly id: number }, { readonly id: number }>({
        name: "slow_sink",
        version: "1.0.0",
        description: "a slow sink",
        source: Memory.source(counted(), { batchSize: 100 }),
        sink: FaultInjection.slowSink(collector.sink, 30),
        options: { batch: { rows: 100 } }
      })
      const handle = yield* Runner.start(pipeline, {})
      yield* Effect.sleep(400)
      const written = collector.records().length
      const ahead = pulled - written
      // Bounded buffers: the source may run ahead by a few batches only, never by the whole input.
      assert.isAbove(written, 0)
      assert.isAtMost(ahead, 20 * 100)
      yield* Effect.sleep(200)
      assert.isAtMost(pulled - collector.records().length, 20 * 100)
      const summary = yield* handle.cancel
      assert.strictEqual(summary.status, "cancelled")
      void Fiber
    }).pipe(Effect.provide(memoryRunner()))
  )
})
