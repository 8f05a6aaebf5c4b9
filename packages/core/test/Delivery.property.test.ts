// Property: whatever the source, batch sizes, transient fault positions and cancellation points, re-running a
// pipeline until it succeeds delivers every record exactly once to a transactional sink, and at least once
// (nothing lost) to a plain one.
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import * as fc from "fast-check"
import * as Memory from "../src/connectors/memory/Memory.ts"
import * as Pipeline from "../src/Pipeline.ts"
import * as Runner from "../src/Runner.ts"
import type * as Sink from "../src/Sink.ts"
import * as Transform from "../src/Transform.ts"
import * as FaultInjection from "../src/testing/FaultInjection.ts"
import { memoryRunner, range } from "./utils.ts"

type Row = { readonly id: number }

interface Scenario {
  readonly records: number
  readonly sourceBatch: number
  readonly rows: number
  readonly concurrency: number
  readonly sinkFaults: ReadonlyArray<number>
  readonly sinkFaultsAfter: ReadonlyArray<number>
  readonly sourceFaults: ReadonlyArray<number>
  readonly fatalWrite: number | undefined
  readonly cancelAfterWrites: ReadonlyArray<number>
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  records: fc.integer({ min: 0, max: 250 }),
  sourceBatch: fc.integer({ min: 1, max: 40 }),
  rows: fc.integer({ min: 1, max: 60 }),
  concurrency: fc.integer({ min: 1, max: 4 }),
  sinkFaults: fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 4 }),
  sinkFaultsAfter: fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 3 }),
  sourceFaults: fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 4 }),
  fatalWrite: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }),
  cancelAfterWrites: fc.uniqueArray(fc.integer({ min: 1, max: 20 }), { maxLength: 2 })
})

/** Runs the pipeline until a run succeeds (at most 12 runs), cancelling runs at the scenario's points. */
const runToCompletion = (s: Scenario, transactional: boolean) =>
  Effect.gen(function* () {
    const collector = Memory.sink<Row>({ transactional, maxConcurrentWrites: transactional ? 1 : 3 })
    const [faultySource] = FaultInjection.source(Memory.source(range(s.records), { batchSize: s.sourceBatch }), {
      on: s.sourceFaults,
      kind: "transient"
    })
    let sink: Sink.Sink<Row> = collector.sink
    ;[sink] = FaultInjection.sink(sink, { on: s.sinkFaults, kind: "transient" })
    ;[sink] = FaultInjection.sink(sink, { on: s.sinkFaultsAfter, kind: "transient", when: "after" })
    if (s.fatalWrite !== undefined) [sink] = FaultInjection.sink(sink, { on: s.fatalWrite, kind: "fatal" })
    // Count writes to trigger cancellations.
    let writes = 0
    let cancelAt: Deferred.Deferred<void> | undefined
    const counted: Sink.Sink<Row> = {
      ...sink,
      open: (context) =>
        Effect.map(sink.open(context), (writer) => ({
          ...writer,
          write: (batch, writeContext) =>
            Effect.tap(writer.write(batch, writeContext), () =>
              Effect.suspend(() => {
                writes++
                return cancelAt !== undefined && s.cancelAfterWrites.includes(writes)
                  ? Deferred.succeed(cancelAt, undefined)
                  : Effect.void
              })
            )
        }))
    }
    const pipeline = Pipeline.make<Row, Row>({
      name: "prop",
      version: "1.0.0",
      description: "property",
      source: faultySource,
      transforms: Transform.identity<Row>().pipe(
        Transform.mapEffect((r) => Effect.succeed(r), { concurrency: s.concurrency })
      ),
      sink: counted,
      options: {
        batch: { rows: s.rows, maxWaitMs: 5 },
        retry: { initialDelayMs: 0, maxDelayMs: 1, maxAttempts: 4 },
        deadLetterBudget: { maxCount: 0 }
      }
    })
    const statuses: Array<string> = []
    for (let attempt = 0; attempt < 12; attempt++) {
      cancelAt = yield* Deferred.make<void>()
      const handle = yield* Runner.start(pipeline, {})
      const canceller = yield* Effect.forkChild(Effect.andThen(Deferred.await(cancelAt), handle.cancel), {
        startImmediately: true
      })
      const exit = yield* Effect.exit(handle.result)
      yield* Fiber.interrupt(canceller)
      const status = exit._tag === "Success" ? exit.value.status : "failed"
      statuses.push(status)
      if (status === "succeeded") break
    }
    return { collector, statuses }
  }).pipe(Effect.provide(memoryRunner()))

const counts = (records: ReadonlyArray<Row>) => {
  const m = new Map<number, number>()
  for (const r of records) m.set(r.id, (m.get(r.id) ?? 0) + 1)
  return m
}

describe("delivery guarantees across faults, cancellations and re-runs", () => {
  it("a transactional sink receives every record exactly once", { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const { collector, statuses } = await Effect.runPromise(runToCompletion(s, true))
        expect(statuses.at(-1)).toBe("succeeded")
        const seen = counts(collector.records())
        expect(seen.size).toBe(s.records)
        for (let id = 0; id < s.records; id++) expect(seen.get(id)).toBe(1)
      }),
      { numRuns: 60 }
    )
  })

  it("a plain sink receives every record at least once, nothing lost", { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const { collector, statuses } = await Effect.runPromise(runToCompletion(s, false))
        expect(statuses.at(-1)).toBe("succeeded")
        const seen = counts(collector.records())
        for (let id = 0; id < s.records; id++) expect(seen.get(id) ?? 0).toBeGreaterThanOrEqual(1)
        expect([...seen.keys()].every((id) => id >= 0 && id < s.records)).toBe(true)
      }),
      { numRuns: 60 }
    )
  })
})
