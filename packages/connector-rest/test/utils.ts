// Shared by the loopback tests: run a pipeline with the in-memory runner and collect its summary, events and
// what a memory sink received.
import { Memory, Pipeline, type RunEvent, Runner, RunStore, type Sink, type Source } from "@data-mcp/core"
import { assert } from "@effect/vitest"
import { Effect, type Scope } from "effect"

/** Runs a pipeline (fast retries) and returns its exit, the events of its run and the sink's records. */
export const run = <A>(
  // biome-ignore lint/suspicious/noExplicitAny: any checkpoint type
  source: Source.Source<A, any>,
  name: string,
  sink: Sink.Sink<A> | Memory.Collector<unknown> = Memory.sink<unknown>({ transactional: true }),
  rows = 1000
) =>
  Effect.gen(function* () {
    const target = "sink" in sink ? (sink.sink as Sink.Sink<A>) : sink
    const pipeline = Pipeline.make<A, A>({
      name,
      version: "1.0.0",
      description: "rest test",
      source,
      sink: target,
      options: { retry: { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 4 }, batch: { rows, maxWaitMs: 20 } }
    })
    const exit = yield* Effect.exit(Runner.run(pipeline, {}))
    const runs = yield* RunStore.RunStore.use((s) => s.list({ pipeline: name }))
    const events: ReadonlyArray<RunEvent.RunEvent> =
      runs.runs[0] === undefined ? [] : yield* RunStore.RunStore.use((s) => s.events(runs.runs[0]!.id))
    return { exit, events, records: "records" in sink ? sink.records() : [] }
  })

/** Provides the in-memory runner and closes the test's scope (servers) at the end. */
export const provide = <A, E>(effect: Effect.Effect<A, E, Runner.Runner | RunStore.RunStore | Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 })))

/** Asserts `got` holds `expected` distinct ids, each once. */
export const assertOnce = (expected: number, got: ReadonlyArray<unknown>) => {
  const seen = got.map((r) => (r as { id: string }).id)
  assert.strictEqual(new Set(seen).size, seen.length, "no duplicates")
  assert.strictEqual(seen.length, expected, "no loss")
}
