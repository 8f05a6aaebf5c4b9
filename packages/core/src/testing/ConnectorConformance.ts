/**
 * The connector conformance suite: one set of tests every connector runs, so "it works" means the same thing
 * for all of them. Given a harness that makes the connector's source (over chosen records) and/or sink (with a
 * way to read back what it wrote), `suite` registers vitest tests that check it reads or writes every record,
 * resumes from a checkpoint without loss or duplicates, survives a transient fault through retries,
 * dead-letters a bad record and goes on, fences a stale run (transactional sinks), never takes a new run's writes
 * for replays even when a forgetful state store reuses its lease token, reports the guarantee it declares, and
 * never lets a secret reach a log, error, summary, event or dead letter.
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, type Layer, Logger, Option, Schema, type Scope } from "effect"
import * as Memory from "../connectors/memory/Memory.ts"
import * as DeadLetter from "../DeadLetter.ts"
import * as Pipeline from "../Pipeline.ts"
import * as Runner from "../Runner.ts"
import * as RunStore from "../RunStore.ts"
import { guaranteeOf } from "../RunSummary.ts"
import type * as Sink from "../Sink.ts"
import type * as StateStore from "../StateStore.ts"
import * as Transform from "../Transform.ts"
import * as FaultInjection from "./FaultInjection.ts"

/**
 * How the suite drives a connector's source.
 *
 * @category models
 * @since 0.1.0
 */
export interface SourceHarness<A> {
  /** `n` distinct records of the shape the source reads (the suite passes them to `make`). */
  readonly records: (n: number) => ReadonlyArray<A>
  /** Makes a source that reads exactly these records, in this order (writing them to its system if needed). */
  readonly make: (records: ReadonlyArray<A>) => Effect.Effect<Pipeline.AnySource<A>, unknown, Scope.Scope>
  /** A record's identity, to find losses and duplicates. */
  readonly id: (record: A) => string
}

/**
 * How the suite drives a connector's sink.
 *
 * @category models
 * @since 0.1.0
 */
export interface SinkHarness<A> {
  /** `n` distinct records the sink accepts. */
  readonly records: (n: number) => ReadonlyArray<A>
  /** Makes a fresh, empty sink and a way to read back everything it durably wrote. */
  readonly make: () => Effect.Effect<
    { readonly sink: Sink.Sink<A>; readonly readBack: Effect.Effect<ReadonlyArray<unknown>, unknown> },
    unknown,
    Scope.Scope
  >
  /** The identity of a record, and of what `readBack` returns for it. */
  readonly id: (record: unknown) => string
  /** What `readBack` should return for a written record (for lossless round trips); default: the record itself. */
  readonly expected?: ((record: A) => unknown) | undefined
  /** A record the sink refuses by itself (it becomes a dead letter of stage `sink`), if the sink can refuse one. */
  readonly badRecord?: A | undefined
}

/**
 * What `suite` takes.
 *
 * @category models
 * @since 0.1.0
 */
export interface SuiteOptions<A, B> {
  readonly source?: SourceHarness<A> | undefined
  readonly sink?: SinkHarness<B> | undefined
  /** Secret values the connector is configured with (passwords, tokens, connection strings). */
  readonly secrets?: ReadonlyArray<string> | undefined
  /** The runner and stores the runs use (default `Runner.layerMemory`). */
  readonly layer?:
    | Layer.Layer<Runner.Runner | StateStore.StateStore | RunStore.RunStore | DeadLetter.DeadLetterStore, unknown>
    | undefined
  /** How many records the runs move (default 137: several batches of 10, and a ragged end). */
  readonly count?: number | undefined
}

const pipelineOf = <A, B>(
  name: string,
  source: Pipeline.AnySource<A>,
  sink: Sink.Sink<B>,
  transforms?: Transform.Transform<A, B, unknown>
) =>
  Pipeline.make<A, B>({
    name,
    version: "1.0.0",
    description: `conformance: ${name}`,
    source,
    sink,
    ...(transforms === undefined ? {} : { transforms }),
    options: {
      batch: { rows: 10, maxWaitMs: 50 },
      retry: { initialDelayMs: 1, maxDelayMs: 10, maxAttempts: 4 },
      deadLetterBudget: { maxCount: 5 }
    }
  })

const occurrences = (values: ReadonlyArray<string>) => {
  const m = new Map<string, number>()
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1)
  return m
}

const assertExactlyOnce = (expected: ReadonlyArray<string>, actual: ReadonlyArray<string>) => {
  const seen = occurrences(actual)
  const missing = expected.filter((id) => !seen.has(id))
  const duplicated = [...seen].filter(([, n]) => n > 1).map(([id]) => id)
  assert.deepStrictEqual(
    { missing: missing.slice(0, 5), duplicated: duplicated.slice(0, 5) },
    { missing: [], duplicated: [] }
  )
  assert.strictEqual(actual.length, expected.length)
}

const assertAtLeastOnce = (expected: ReadonlyArray<string>, actual: ReadonlyArray<string>) => {
  const seen = new Set(actual)
  assert.deepStrictEqual(expected.filter((id) => !seen.has(id)).slice(0, 5), [])
}

/** Everything a run leaves behind that a person or an agent could read. */
const exposedText = (summaryOrError: unknown, runId: string | undefined) =>
  Effect.gen(function* () {
    const runs = yield* RunStore.RunStore
    const letters = yield* DeadLetter.DeadLetterStore
    const parts: Array<unknown> = [summaryOrError]
    if (summaryOrError instanceof Error) parts.push(summaryOrError.message, String(summaryOrError))
    if (runId !== undefined) {
      parts.push(yield* runs.get(runId), yield* runs.events(runId))
      parts.push(yield* letters.list({ runId }))
    }
    return parts
      .map((p) => (typeof p === "string" ? p : JSON.stringify(p, (_, v) => (typeof v === "bigint" ? `${v}` : v))))
      .join("\n")
  })

/**
 * Registers the conformance tests for a connector.
 *
 * **Example** (The CSV connector)
 *
 * ```ts
 * import { ConnectorConformance } from "@data-mcp/core/testing"
 *
 * ConnectorConformance.suite("csv", {
 *   source: { records: makeRows, make: (rows) => writeCsvThenSource(rows), id: (r) => r.id },
 *   sink: { records: makeRows, make: () => csvSinkAndReader(), id: (r: any) => r.id }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const suite = <A, B>(kind: string, options: SuiteOptions<A, B>): void => {
  const layer = options.layer ?? Runner.layerMemory({ purgeIntervalMs: 0 })
  const count = options.count ?? 137
  const provide = <X, E>(
    effect: Effect.Effect<
      X,
      E,
      Runner.Runner | RunStore.RunStore | DeadLetter.DeadLetterStore | StateStore.StateStore | Scope.Scope
    >
  ) => effect.pipe(Effect.scoped, Effect.provide(layer))
  const secrets = options.secrets ?? []

  describe(`${kind} conformance`, () => {
    const sourceHarness = options.source
    if (sourceHarness !== undefined) {
      describe("source", () => {
        const ids = (records: ReadonlyArray<A>) => records.map(sourceHarness.id)

        it.live("reads all records", () =>
          provide(
            Effect.gen(function* () {
              const records = sourceHarness.records(count)
              const collector = Memory.sink<A>({ transactional: true })
              const summary = yield* Runner.run(
                pipelineOf(`${kind}_read_all`, yield* sourceHarness.make(records), collector.sink),
                {}
              )
              assert.strictEqual(summary.status, "succeeded")
              assert.strictEqual(summary.recordsRead, count)
              assertExactlyOnce(ids(records), ids(collector.records()))
            })
          )
        )

        it.live("resumes from a checkpoint without loss or duplicates", () =>
          provide(
            Effect.gen(function* () {
              const records = sourceHarness.records(count)
              const source = yield* sourceHarness.make(records)
              const collector = Memory.sink<A>({ transactional: true })
              const [failing] = FaultInjection.source(source, { on: 4, kind: "fatal", when: "after" })
              const first = yield* Effect.exit(Runner.run(pipelineOf(`${kind}_resume`, failing, collector.sink), {}))
              assert.isTrue(Exit.isFailure(first), "the first run fails at the injected fault")
              const partial = collector.records().length
              assert.isAbove(partial, 0, "the first run wrote some records before failing")
              assert.isBelow(partial, count)
              const second = yield* Runner.run(pipelineOf(`${kind}_resume`, source, collector.sink), {})
              assert.notStrictEqual(second.checkpointFrom, null, "the second run resumes from a checkpoint")
              assert.isBelow(second.recordsRead, count, "the second run does not start over")
              assertExactlyOnce(ids(records), ids(collector.records()))
            })
          )
        )

        it.live("retries a transient fault", () =>
          provide(
            Effect.gen(function* () {
              const records = sourceHarness.records(count)
              const [flaky, counter] = FaultInjection.source(yield* sourceHarness.make(records), {
                on: [2, 5],
                kind: "transient"
              })
              const collector = Memory.sink<A>({ transactional: true })
              const summary = yield* Runner.run(pipelineOf(`${kind}_transient`, flaky, collector.sink), {})
              assert.strictEqual(summary.status, "succeeded")
              assert.strictEqual(counter.faults(), 2)
              assert.isAtLeast(summary.retries, 2)
              assertExactlyOnce(ids(records), ids(collector.records()))
            })
          )
        )

        it.live("dead-letters a bad record and goes on", () =>
          provide(
            Effect.gen(function* () {
              const records = sourceHarness.records(count)
              const bad = sourceHarness.id(records[3]!)
              const collector = Memory.sink<A>({ transactional: true })
              const rejectOne = Transform.identity<A>().pipe(
                Transform.map((r: A) => {
                  if (sourceHarness.id(r) === bad)
                    throw new Transform.RecordRejected({ reason: "conformance: rejected" })
                  return r
                })
              )
              const summary = yield* Runner.run(
                pipelineOf(`${kind}_dead_letter`, yield* sourceHarness.make(records), collector.sink, rejectOne),
                {}
              )
              assert.strictEqual(summary.deadLetters, 1)
              assertExactlyOnce(
                ids(records).filter((id) => id !== bad),
                ids(collector.records())
              )
              const { letters } = yield* DeadLetter.DeadLetterStore.use((s) => s.list({ runId: summary.runId }))
              assert.strictEqual(letters.length, 1)
              assert.strictEqual(sourceHarness.id(DeadLetter.decodeRecord(letters[0]!.record) as A), bad)
            })
          )
        )
      })
    }

    const sinkHarness = options.sink
    if (sinkHarness !== undefined) {
      describe("sink", () => {
        const idsOf = (values: ReadonlyArray<unknown>) => values.map(sinkHarness.id)
        const expected = (r: B) => (sinkHarness.expected === undefined ? r : sinkHarness.expected(r))

        it.live("writes all records, losslessly", () =>
          provide(
            Effect.gen(function* () {
              const records = sinkHarness.records(count)
              const { sink, readBack } = yield* sinkHarness.make()
              const summary = yield* Runner.run(pipelineOf(`${kind}_write_all`, Memory.source(records), sink), {})
              assert.strictEqual(summary.status, "succeeded")
              assert.strictEqual(summary.recordsWritten, count)
              assert.strictEqual(summary.guarantee, guaranteeOf(sink.capabilities))
              const written = yield* readBack
              assertExactlyOnce(idsOf(records), idsOf(written))
              const byId = new Map(written.map((w) => [sinkHarness.id(w), w]))
              for (const record of records) assert.deepStrictEqual(byId.get(sinkHarness.id(record)), expected(record))
            })
          )
        )

        it.live(
          "re-runs after a failed run without loss (no duplicates when transactional; a full refresh for replace)",
          () =>
            provide(
              Effect.gen(function* () {
                const records = sinkHarness.records(count)
                const { sink, readBack } = yield* sinkHarness.make()
                const source = Memory.source(records, { batchSize: 10 })
                const [failing] = FaultInjection.sink(sink, { on: 4, kind: "fatal" })
                const first = yield* Effect.exit(Runner.run(pipelineOf(`${kind}_sink_resume`, source, failing), {}))
                assert.isTrue(Exit.isFailure(first))
                const second = yield* Runner.run(pipelineOf(`${kind}_sink_resume`, source, sink), {})
                const written = idsOf(yield* readBack)
                if (sink.disposition.type === "replace") {
                  // A replace is a full refresh: the failed run published nothing; the re-run publishes everything once.
                  assert.strictEqual(second.checkpointFrom, null)
                  assertExactlyOnce(idsOf(records), written)
                } else {
                  assert.notStrictEqual(second.checkpointFrom, null, "the re-run resumes from a checkpoint")
                  if (sink.capabilities.transactional) assertExactlyOnce(idsOf(records), written)
                  else assertAtLeastOnce(idsOf(records), written)
                }
              })
            )
        )

        it.live("a new run is never taken for a replay, even with a reused lease token (a restarted store)", () =>
          Effect.gen(function* () {
            const records = sinkHarness.records(count)
            const { sink, readBack } = yield* sinkHarness.make()
            const cut = Math.floor(count / 2)
            // Each run in its own fresh in-memory stores: both hold lease token 1 and number batches from 0.
            const runIn = (input: ReadonlyArray<B>) =>
              Runner.run(pipelineOf(`${kind}_sink_restart`, Memory.source(input, { batchSize: 10 }), sink), {}).pipe(
                Effect.provide(Runner.layerMemory({ purgeIntervalMs: 0 }))
              )
            assert.strictEqual((yield* runIn(records.slice(0, cut))).status, "succeeded")
            assert.strictEqual((yield* runIn(records)).status, "succeeded")
            const written = idsOf(yield* readBack)
            // Transactional sinks resume from their own checkpoint and write the rest once; a replace publishes
            // everything once; other sinks, whose position the forgotten store held, may repeat the first half.
            if (sink.capabilities.transactional || sink.disposition.type === "replace")
              assertExactlyOnce(idsOf(records), written)
            else assertAtLeastOnce(idsOf(records), written)
          }).pipe(Effect.scoped)
        )

        it.live("retries a transient fault", () =>
          provide(
            Effect.gen(function* () {
              const records = sinkHarness.records(count)
              const { sink, readBack } = yield* sinkHarness.make()
              const [flaky, counter] = FaultInjection.sink(sink, { on: [2, 3], kind: "transient" })
              const summary = yield* Runner.run(
                pipelineOf(`${kind}_sink_transient`, Memory.source(records, { batchSize: 10 }), flaky),
                {}
              )
              assert.strictEqual(summary.status, "succeeded")
              assert.strictEqual(counter.faults(), 2)
              assertExactlyOnce(idsOf(records), idsOf(yield* readBack))
            })
          )
        )

        it.live("dead-letters a bad record and goes on", () =>
          provide(
            Effect.gen(function* () {
              const records = sinkHarness.records(count)
              const rejected = sinkHarness.id(records[5])
              const input: Array<B> = [...records]
              if (sinkHarness.badRecord !== undefined) input.splice(7, 0, sinkHarness.badRecord)
              const { sink, readBack } = yield* sinkHarness.make()
              const rejectOne = Transform.identity<B>().pipe(
                Transform.filter((r: B) => {
                  if (sinkHarness.id(r) === rejected)
                    throw new Transform.RecordRejected({ reason: "conformance: rejected" })
                  return true
                })
              )
              const summary = yield* Runner.run(
                pipelineOf(`${kind}_sink_dead_letter`, Memory.source(input), sink, rejectOne),
                {}
              )
              const expectedLetters = sinkHarness.badRecord === undefined ? 1 : 2
              assert.strictEqual(summary.deadLetters, expectedLetters)
              const { letters } = yield* DeadLetter.DeadLetterStore.use((s) => s.list({ runId: summary.runId }))
              assert.deepStrictEqual(
                letters.map((l) => l.stage).sort(),
                sinkHarness.badRecord === undefined ? ["transform"] : ["sink", "transform"]
              )
              assertExactlyOnce(
                idsOf(records).filter((id) => id !== rejected),
                idsOf(yield* readBack)
              )
            })
          )
        )

        it.live("fences a stale run (transactional sinks) or declares it cannot", () =>
          provide(
            Effect.gen(function* () {
              const { sink, readBack } = yield* sinkHarness.make()
              if (!sink.capabilities.transactional) {
                // Nothing to fence: the summary must not claim more than the sink gives.
                const summary = yield* Runner.run(
                  pipelineOf(`${kind}_guarantee`, Memory.source(sinkHarness.records(3)), sink),
                  {}
                )
                assert.notStrictEqual(summary.guarantee, "exactly-once")
                return
              }
              const records = sinkHarness.records(4)
              const lease = (token: number): StateStore.Lease => ({
                key: `${kind}:fence`,
                runId: `run-${token}`,
                token,
                expiresAt: Date.now() + 60_000
              })
              const stale = yield* sink.open({
                runId: "run-1",
                pipeline: `${kind}_fence`,
                stateKey: `${kind}:fence`,
                lease: lease(1)
              })
              const fresh = yield* sink.open({
                runId: "run-2",
                pipeline: `${kind}_fence`,
                stateKey: `${kind}:fence`,
                lease: lease(2)
              })
              yield* fresh.write(
                { stream: "default", records: records.slice(0, 2), checkpoint: 2 },
                { seq: 0, checkpointFrom: null, checkpointTo: 2 }
              )
              const error = yield* Effect.flip(
                stale.write(
                  { stream: "default", records: records.slice(2), checkpoint: 4 },
                  { seq: 0, checkpointFrom: null, checkpointTo: 4 }
                )
              )
              assert.strictEqual((error as { _tag: string })._tag, "StateError")
              assert.strictEqual((error as StateStore.StateError).reason, "Fenced")
              assert.deepStrictEqual(idsOf(yield* readBack).sort(), idsOf(records.slice(0, 2)).sort())
              if (fresh.loadCheckpoint !== undefined)
                assert.deepStrictEqual(yield* fresh.loadCheckpoint, Option.some(2))
            })
          )
        )
      })
    }

    it.live("never prints a secret", () =>
      provide(
        Effect.gen(function* () {
          const apiKey = `sk-conformance-${Math.random().toString(36).slice(2)}`
          const all = [apiKey, ...secrets]
          const logged: Array<string> = []
          const capture = Logger.layer([
            Logger.make((entry) => {
              logged.push(JSON.stringify(entry.message, (_, v) => (typeof v === "bigint" ? `${v}` : v)))
              logged.push(String(entry.cause))
            })
          ])
          const collector = Memory.sink<unknown>({ transactional: true })
          const source =
            sourceHarness === undefined
              ? (Memory.source(sinkHarness!.records(20)) as Pipeline.AnySource<unknown>)
              : ((yield* sourceHarness.make(sourceHarness.records(20))) as Pipeline.AnySource<unknown>)
          const sink =
            sinkHarness === undefined ? collector.sink : ((yield* sinkHarness.make()).sink as Sink.Sink<unknown>)
          const [failing] = FaultInjection.sink(sink, { on: 2, kind: "fatal" })
          const pipeline = Pipeline.make<unknown, unknown, { apiKey: string }>({
            name: `${kind}_secrets`,
            version: "1.0.0",
            description: "a pipeline with a secret param",
            params: Schema.Struct({ apiKey: Schema.String }),
            source: () => source,
            sink: () => failing,
            options: { sensitive: ["apiKey"], batch: { rows: 5 } }
          })
          const exit = yield* Effect.exit(Runner.run(pipeline, { apiKey }).pipe(Effect.provide(capture)))
          assert.isTrue(Exit.isFailure(exit))
          const error = Exit.isFailure(exit) ? exit.cause : undefined
          const runs = yield* RunStore.RunStore.use((s) => s.list({ pipeline: `${kind}_secrets` }))
          const text = [
            yield* exposedText(error === undefined ? undefined : String(error), runs.runs[0]?.id),
            JSON.stringify(runs),
            logged.join("\n")
          ].join("\n")
          assert.isAbove(logged.length, 0, "the failed run logged something")
          for (const secret of all) assert.notInclude(text, secret)
        })
      )
    )
  })
}
