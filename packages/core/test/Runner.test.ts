import { existsSync, mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option, Random, Schema, Stream } from "effect"
import * as Jsonl from "../src/connectors/jsonl/Jsonl.ts"
import * as Memory from "../src/connectors/memory/Memory.ts"
import * as DeadLetter from "../src/DeadLetter.ts"
import * as Pipeline from "../src/Pipeline.ts"
import * as Runner from "../src/Runner.ts"
import * as RunStore from "../src/RunStore.ts"
import type * as Sink from "../src/Sink.ts"
import * as Source from "../src/Source.ts"
import * as StateStore from "../src/StateStore.ts"
import * as Transform from "../src/Transform.ts"
import * as FaultInjection from "../src/testing/FaultInjection.ts"
import { ids, memoryRunner, probedRunner, range, type StateProbe } from "./utils.ts"

type Row = { readonly id: number }

const pipelineOf = (
  source: Source.Source<Row, number>,
  sink: Memory.Collector<Row>["sink"],
  options?: Pipeline.Options<{}>,
  transforms?: Transform.Transform<Row, Row, unknown>
) =>
  Pipeline.make<Row, Row>({
    name: "copy",
    version: "1.0.0",
    description: "copies rows",
    source,
    sink,
    ...(transforms === undefined ? {} : { transforms }),
    options: { batch: { rows: 10, maxWaitMs: 20 }, retry: { initialDelayMs: 1, maxDelayMs: 5 }, ...options }
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): unknown => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  return Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
}

describe("Runner", () => {
  it.live("runs a pipeline, then resumes from its checkpoint", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<Row>()
      const pipeline = pipelineOf(Memory.source(range(95), { batchSize: 10 }), collector.sink)
      const first = yield* Runner.run(pipeline, {})
      assert.strictEqual(first.status, "succeeded")
      assert.strictEqual(first.recordsRead, 95)
      assert.strictEqual(first.recordsWritten, 95)
      assert.strictEqual(first.checkpointTo, 95)
      assert.strictEqual(first.guarantee, "at-least-once")
      assert.deepStrictEqual(
        ids(collector.records()),
        range(95).map((r) => r.id)
      )
      const second = yield* Runner.run(pipeline, {})
      assert.strictEqual(second.checkpointFrom, 95)
      assert.strictEqual(second.recordsRead, 0)
      assert.strictEqual(collector.records().length, 95)
      const record = yield* RunStore.RunStore.use((s) => s.get(first.runId))
      assert.strictEqual(record?.status, "succeeded")
      assert.strictEqual(record?.version, "1.0.0")
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("streams events ending with the terminal one", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<Row>()
      const handle = yield* Runner.start(pipelineOf(Memory.source(range(30), { batchSize: 10 }), collector.sink), {})
      const events = yield* Stream.runCollect(handle.events)
      const tags = events.map((e) => e._tag)
      assert.strictEqual(tags[0], "RunStarted")
      assert.strictEqual(tags.at(-1), "RunFinished")
      assert.strictEqual(tags.filter((t) => t === "BatchWritten").length, 3)
      assert.strictEqual(tags.filter((t) => t === "CheckpointSaved").length, 3)
      const stored = yield* RunStore.RunStore.use((s) => s.events(handle.id))
      assert.deepStrictEqual(
        stored.map((e) => e._tag),
        tags
      )
    }).pipe(Effect.provide(memoryRunner()))
  )

  describe("one writer per state key", () => {
    const slow = (n: number) => FaultInjection.slowSource(Memory.source(range(n), { batchSize: 10 }), 15)

    it.live("a second start gets RunConflict naming the live run", () =>
      Effect.gen(function* () {
        const pipeline = pipelineOf(slow(100), Memory.sink<Row>().sink)
        const first = yield* Runner.start(pipeline, {})
        const error = yield* Effect.flip(Runner.start(pipeline, {}))
        assert.instanceOf(error, Runner.RunConflict)
        assert.strictEqual((error as Runner.RunConflict).runId, first.id)
        assert.strictEqual((yield* first.result).status, "succeeded")
      }).pipe(Effect.provide(memoryRunner()))
    )

    it.live("attach returns the live run's handle", () =>
      Effect.gen(function* () {
        const pipeline = pipelineOf(slow(60), Memory.sink<Row>().sink)
        const first = yield* Runner.start(pipeline, {})
        const second = yield* Runner.start(pipeline, {}, { onConflict: "attach" })
        assert.strictEqual(second.id, first.id)
        assert.strictEqual((yield* second.result).runId, first.id)
      }).pipe(Effect.provide(memoryRunner()))
    )

    it.live("queue waits for the live run, then resumes after it", () =>
      Effect.gen(function* () {
        const collector = Memory.sink<Row>()
        const pipeline = pipelineOf(slow(60), collector.sink)
        const first = yield* Runner.start(pipeline, {})
        const second = yield* Runner.start(pipeline, {}, { onConflict: "queue" })
        assert.notStrictEqual(second.id, first.id)
        const queued = yield* RunStore.RunStore.use((s) => s.get(second.id))
        assert.strictEqual(queued?.status, "queued")
        const [a, b] = [yield* first.result, yield* second.result]
        assert.strictEqual(a.recordsRead, 60)
        assert.strictEqual(b.checkpointFrom, 60)
        assert.strictEqual(b.recordsRead, 0)
        assert.strictEqual(collector.records().length, 60)
      }).pipe(Effect.provide(memoryRunner()))
    )

    it.live("different params are different state keys and run side by side", () =>
      Effect.gen(function* () {
        const pipeline = Pipeline.make<Row, Row, { shard: number }>({
          name: "sharded",
          version: "1.0.0",
          description: "one state per shard",
          params: Schema.Struct({ shard: Schema.Number }),
          source: ({ shard }) => slow(30 + shard),
          sink: Memory.sink<Row>().sink,
          options: { batch: { rows: 10, maxWaitMs: 20 } }
        })
        const a = yield* Runner.start(pipeline, { shard: 1 })
        const b = yield* Runner.start(pipeline, { shard: 2 })
        assert.notStrictEqual(a.stateKey, b.stateKey)
        assert.strictEqual((yield* a.result).recordsRead, 31)
        assert.strictEqual((yield* b.result).recordsRead, 32)
      }).pipe(Effect.provide(memoryRunner()))
    )
  })

  it.live("a fenced-out run fails without writing a checkpoint", () => {
    const probe: StateProbe = { paused: false, saves: [] }
    return Effect.gen(function* () {
      const collector = Memory.sink<Row>()
      const source = FaultInjection.slowSource(Memory.source(range(400), { batchSize: 10 }), 20)
      const pipeline = pipelineOf(source, collector.sink)
      const handle = yield* Runner.start(pipeline, {})
      yield* Effect.sleep(120)
      probe.paused = true // the run stalls: it stops renewing its lease
      yield* Effect.sleep(400) // past the 150 ms lease
      const store = yield* StateStore.StateStore
      const intruder = yield* store.acquire(handle.stateKey, { runId: "intruder", ttlMs: 60_000 })
      const savesBefore = probe.saves.length
      const error = failureOf(yield* Effect.exit(handle.result))
      assert.instanceOf(error, StateStore.StateError)
      assert.strictEqual((error as StateStore.StateError).reason, "Fenced")
      assert.isTrue(intruder.token > (probe.saves[0]?.token ?? 0))
      // nothing was saved by the stale run after the takeover
      assert.strictEqual(probe.saves.length, savesBefore)
      assert.isTrue(probe.saves.every((s) => s.token < intruder.token))
      const summary = (yield* RunStore.RunStore.use((s) => s.get(handle.id)))?.summary
      assert.strictEqual(summary?.status, "failed")
      assert.strictEqual(summary?.error?._tag, "StateError")
    }).pipe(Effect.provide(probedRunner(probe, { leaseTtlMs: 150 })))
  })

  it.live(
    "with mapEffect concurrency 8 and random delays, checkpoints and Source.commit go in source order, after durability",
    () => {
      const probe: StateProbe = { paused: false, saves: [] }
      return Effect.gen(function* () {
        const collector = Memory.sink<Row>({ maxConcurrentWrites: 4 })
        const commits: Array<{ readonly checkpoint: number; readonly durable: boolean }> = []
        const inner = Memory.source(range(400), { batchSize: 10 })
        const source: Source.Source<Row, number> = {
          ...inner,
          commit: (checkpoint) =>
            Effect.sync(() => {
              const written = new Set(collector.records().map((r) => r.id))
              const saved = probe.saves.some((s) => s.checkpoint === checkpoint)
              let durable = saved
              for (let id = 0; id < checkpoint; id++) if (!written.has(id)) durable = false
              commits.push({ checkpoint, durable })
            })
        }
        const slowSink = FaultInjection.slowSink(collector.sink, () => Math.floor(Math.random() * 8))
        const transforms = Transform.identity<Row>().pipe(
          Transform.mapEffect(
            (r) =>
              Effect.as(
                Effect.flatMap(Random.nextIntBetween(0, 6), (ms) => Effect.sleep(ms)),
                r
              ),
            {
              concurrency: 8
            }
          )
        )
        const summary = yield* Runner.run(pipelineOf(source, slowSink, { concurrency: 8 }, transforms), {})
        assert.strictEqual(summary.recordsWritten, 400)
        const saved = probe.saves.map((s) => s.checkpoint as number)
        assert.isAbove(saved.length, 5)
        assert.deepStrictEqual(
          saved,
          [...saved].sort((a, b) => a - b)
        )
        assert.strictEqual(saved.at(-1), 400)
        assert.deepStrictEqual(
          commits.map((c) => c.checkpoint),
          saved
        )
        assert.isTrue(commits.every((c) => c.durable))
      }).pipe(Effect.provide(probedRunner(probe)))
    }
  )

  it.live("cancel stops the run, never checkpoints past unwritten data, and a re-run resumes", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<Row>({ transactional: true })
      const source = Memory.source(range(300), { batchSize: 10 })
      const pipeline = pipelineOf(source, FaultInjection.slowSink(collector.sink, 10))
      const handle = yield* Runner.start(pipeline, {})
      yield* Effect.sleep(80)
      const cancelled = yield* handle.cancel
      assert.strictEqual(cancelled.status, "cancelled")
      const written = collector.records().length
      assert.isBelow(written, 300)
      const stored = yield* StateStore.StateStore.use((s) => s.load(handle.stateKey))
      assert.isAtMost(stored as number, written)
      const again = yield* Runner.run(pipeline, {})
      assert.strictEqual(again.status, "succeeded")
      assert.deepStrictEqual(
        ids(collector.records()),
        range(300).map((r) => r.id)
      )
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("a run past its timeout fails with RunTimeout and keeps what it checkpointed", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<Row>()
      const source = FaultInjection.slowSource(Memory.source(range(200), { batchSize: 10 }), 20)
      const exit = yield* Effect.exit(Runner.run(pipelineOf(source, collector.sink, { timeoutMs: 150 }), {}))
      const error = failureOf(exit)
      assert.instanceOf(error, Runner.RunTimeout)
      assert.isBelow(collector.records().length, 200)
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("maxConcurrentRuns: over the limit and the queue, a run is refused with retryAfterSeconds", () =>
    Effect.gen(function* () {
      const slow = (name: string) =>
        Pipeline.make<Row, Row>({
          name,
          version: "1.0.0",
          description: "slow",
          source: FaultInjection.slowSource(Memory.source(range(30), { batchSize: 10 }), 20),
          sink: Memory.sink<Row>().sink
        })
      const a = yield* Runner.start(slow("a"), {})
      const b = yield* Runner.start(slow("b"), {})
      const error = yield* Effect.flip(Runner.start(slow("c"), {}))
      assert.instanceOf(error, Runner.RunRejected)
      assert.isAbove((error as Runner.RunRejected).retryAfterSeconds, 0)
      const bQueued = yield* RunStore.RunStore.use((s) => s.get(b.id))
      assert.strictEqual(bQueued?.status, "queued")
      assert.strictEqual((yield* a.result).status, "succeeded")
      assert.strictEqual((yield* b.result).status, "succeeded")
    }).pipe(Effect.provide(memoryRunner({ maxConcurrentRuns: 1, maxQueuedRuns: 1 })))
  )

  it.live("a pipeline's maxConcurrentRuns queues its own runs only", () =>
    Effect.gen(function* () {
      const pipeline = Pipeline.make<Row, Row, { shard: number }>({
        name: "limited",
        version: "1.0.0",
        description: "one at a time",
        params: Schema.Struct({ shard: Schema.Number }),
        source: () => FaultInjection.slowSource(Memory.source(range(20), { batchSize: 10 }), 20),
        sink: Memory.sink<Row>().sink,
        options: { maxConcurrentRuns: 1 }
      })
      const a = yield* Runner.start(pipeline, { shard: 1 })
      const b = yield* Runner.start(pipeline, { shard: 2 })
      yield* Effect.sleep(10)
      assert.strictEqual((yield* RunStore.RunStore.use((s) => s.get(b.id)))?.status, "queued")
      const [sa, sb] = [yield* a.result, yield* b.result]
      assert.isAtMost(Date.parse(sa.finishedAt), Date.parse(sb.startedAt) + 5 + sb.durationMs)
    }).pipe(Effect.provide(memoryRunner()))
  )

  describe("dead letters", () => {
    const Even = Transform.identity<Row>().pipe(
      Transform.map((r) => {
        if (r.id % 10 === 3) throw new Transform.RecordRejected({ reason: "ends in 3" })
        return r
      })
    )

    it.live("are stored with their reason before the checkpoint passes them; the run goes on", () =>
      Effect.gen(function* () {
        const collector = Memory.sink<Row>()
        const summary = yield* Runner.run(
          pipelineOf(Memory.source(range(50), { batchSize: 10 }), collector.sink, {}, Even),
          {}
        )
        assert.strictEqual(summary.deadLetters, 5)
        assert.strictEqual(summary.recordsWritten, 45)
        const { letters } = yield* DeadLetter.DeadLetterStore.use((s) => s.list({ runId: summary.runId }))
        assert.deepStrictEqual(
          letters.map((l) => (DeadLetter.decodeRecord(l.record) as Row).id).sort((a, b) => a - b),
          [3, 13, 23, 33, 43]
        )
        assert.isTrue(letters.every((l) => l.stage === "transform" && l.reason.includes("ends in 3")))
      }).pipe(Effect.provide(memoryRunner()))
    )

    it.live("over the budget, the run fails with DeadLetterBudgetExceeded", () =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(
          Runner.run(
            pipelineOf(
              Memory.source(range(50), { batchSize: 10 }),
              Memory.sink<Row>().sink,
              { deadLetterBudget: { maxCount: 2 } },
              Even
            ),
            {}
          )
        )
        assert.instanceOf(failureOf(exit), DeadLetter.BudgetExceeded)
      }).pipe(Effect.provide(memoryRunner()))
    )

    it.live("a ratio budget applies once enough records were read", () =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(
          Runner.run(
            pipelineOf(
              Memory.source(range(200), { batchSize: 10 }),
              Memory.sink<Row>().sink,
              { deadLetterBudget: { maxRatio: 0.05, minRecords: 50 } },
              Even
            ),
            {}
          )
        )
        assert.instanceOf(failureOf(exit), DeadLetter.BudgetExceeded)
      }).pipe(Effect.provide(memoryRunner()))
    )

    it.live("invalid source records become dead letters of stage source", () =>
      Effect.gen(function* () {
        const collector = Memory.sink<unknown>()
        const records: Array<unknown> = [{ id: 1 }, Source.invalidRecord("not JSON", "{oops"), { id: 2 }]
        const summary = yield* Runner.run(
          Pipeline.make({
            name: "mixed",
            version: "1.0.0",
            description: "has a bad line",
            source: Memory.source(records),
            sink: collector.sink
          }),
          {}
        )
        assert.strictEqual(summary.deadLetters, 1)
        assert.strictEqual(collector.records().length, 2)
        const { letters } = yield* DeadLetter.DeadLetterStore.use((s) => s.list({}))
        assert.strictEqual(letters[0]?.stage, "source")
        assert.deepStrictEqual(DeadLetter.decodeRecord(letters[0]!.record), { raw: "{oops" })
      }).pipe(Effect.provide(memoryRunner()))
    )
  })

  describe("retries", () => {
    it.live("a transient sink fault is retried and the run succeeds", () =>
      Effect.gen(function* () {
        const collector = Memory.sink<Row>({ transactional: true })
        const [sink, counter] = FaultInjection.sink(collector.sink, { on: [2, 3], kind: "transient" })
        const summary = yield* Runner.run(pipelineOf(Memory.source(range(40), { batchSize: 10 }), sink), {})
        assert.strictEqual(summary.retries, 2)
        assert.strictEqual(counter.faults(), 2)
        assert.deepStrictEqual(
          ids(collector.records()),
          range(40).map((r) => r.id)
        )
      }).pipe(Effect.provide(memoryRunner()))
    )

    it.live("Retry-After is honoured", () =>
      Effect.gen(function* () {
        const [sink] = FaultInjection.sink(Memory.sink<Row>().sink, { on: 1, kind: "transient", retryAfterMs: 120 })
        const handle = yield* Runner.start(pipelineOf(Memory.source(range(10)), sink), {})
        const events = yield* Stream.runCollect(handle.events)
        const retry = events.find((e) => e._tag === "RetryScheduled")
        assert.strictEqual(retry?._tag === "RetryScheduled" ? retry.delayMs : -1, 120)
        assert.isAtLeast((yield* handle.result).durationMs, 110)
      }).pipe(Effect.provide(memoryRunner()))
    )

    it.live("a fatal sink fault fails the run at once with the ConnectorError", () =>
      Effect.gen(function* () {
        const [sink, counter] = FaultInjection.sink(Memory.sink<Row>().sink, { on: 2, kind: "fatal" })
        const error = failureOf(
          yield* Effect.exit(Runner.run(pipelineOf(Memory.source(range(40), { batchSize: 10 }), sink), {}))
        )
        assert.strictEqual((error as { _tag: string })._tag, "ConnectorError")
        assert.isFalse((error as { retryable: boolean }).retryable)
        assert.strictEqual(counter.calls(), 2)
      }).pipe(Effect.provide(memoryRunner()))
    )

    it.live("a transient source fault resumes after the last record read, with no duplicates", () =>
      Effect.gen(function* () {
        const collector = Memory.sink<Row>({ transactional: true })
        const [source] = FaultInjection.source(Memory.source(range(60), { batchSize: 10 }), {
          on: [3, 5],
          kind: "transient"
        })
        const summary = yield* Runner.run(pipelineOf(source, collector.sink), {})
        assert.strictEqual(summary.retries, 2)
        assert.deepStrictEqual(
          ids(collector.records()),
          range(60).map((r) => r.id)
        )
      }).pipe(Effect.provide(memoryRunner()))
    )
  })

  it.live("a stored checkpoint that fails the source's schema is refused, never reset", () =>
    Effect.gen(function* () {
      const pipeline = pipelineOf(Memory.source(range(10)), Memory.sink<Row>().sink)
      const key = Pipeline.stateKey(pipeline, {})
      yield* StateStore.StateStore.use((s) => s.set(key, "not-an-offset"))
      const error = failureOf(yield* Effect.exit(Runner.run(pipeline, {})))
      assert.instanceOf(error, StateStore.StateError)
      assert.strictEqual((error as StateStore.StateError).reason, "InvalidCheckpoint")
      assert.strictEqual(yield* StateStore.StateStore.use((s) => s.load(key)), "not-an-offset")
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("transactional sinks: the sink's checkpoint is the authority on resume; the summary says exactly-once", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<Row>({ transactional: true })
      const pipeline = pipelineOf(Memory.source(range(30), { batchSize: 10 }), collector.sink)
      const first = yield* Runner.run(pipeline, {})
      assert.strictEqual(first.guarantee, "exactly-once")
      // The state store lost its checkpoint (say, a restored backup); the sink's own state wins.
      yield* StateStore.StateStore.use((s) => s.set(first.stateKey, undefined))
      const second = yield* Runner.run(pipeline, {})
      assert.strictEqual(second.checkpointFrom, 30)
      assert.strictEqual(collector.records().length, 30)
      assert.deepStrictEqual(collector.checkpoint(first.stateKey), Option.some(30))
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("a bounded backfill (end) never moves the pipeline's own state", () =>
    Effect.gen(function* () {
      const pipeline = pipelineOf(Memory.source(range(20), { batchSize: 10 }), Memory.sink<Row>().sink)
      const backfill = yield* Runner.run(pipeline, {}, { end: 20 })
      assert.strictEqual(backfill.status, "succeeded")
      assert.strictEqual(yield* StateStore.StateStore.use((s) => s.load(Pipeline.stateKey(pipeline, {}))), undefined)
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("bad params fail fast with a ConfigError and start no run", () =>
    Effect.gen(function* () {
      const pipeline = Pipeline.make<Row, Row, { n: number }>({
        name: "strict",
        version: "1.0.0",
        description: "strict params",
        params: Schema.Struct({ n: Schema.Number }),
        source: () => Memory.source(range(1)),
        sink: Memory.sink<Row>().sink
      })
      const error = yield* Effect.flip(Runner.start(pipeline, { n: 1, extra: "secret-value" }))
      assert.strictEqual((error as { _tag: string })._tag, "ConfigError")
      assert.notInclude((error as Error).message, "secret-value")
      const page = yield* RunStore.RunStore.use((s) => s.list({}))
      assert.strictEqual(page.runs.length, 0)
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("purge marks runs whose heartbeat stopped as abandoned", () =>
    Effect.gen(function* () {
      const store = yield* RunStore.RunStore
      const old = new Date(Date.now() - 3_600_000).toISOString()
      yield* store.create({
        id: "run_dead",
        pipeline: "copy",
        version: "1.0.0",
        stateKey: "copy:x",
        status: "running",
        params: {},
        guarantee: "at-least-once",
        createdAt: old,
        updatedAt: old,
        heartbeatAt: old
      })
      const result = yield* Runner.Runner.use((r) => r.purge)
      assert.strictEqual(result.abandoned, 1)
      assert.strictEqual((yield* store.get("run_dead"))?.status, "abandoned")
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("runs are detached: interrupting the caller does not stop the run", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<Row>()
      const pipeline = pipelineOf(
        FaultInjection.slowSource(Memory.source(range(40), { batchSize: 10 }), 10),
        collector.sink
      )
      const fiber = yield* Effect.forkChild(Runner.start(pipeline, {}), { startImmediately: true })
      const handle = yield* Fiber.join(fiber)
      const waiter = yield* Effect.forkChild(handle.result, { startImmediately: true })
      yield* Fiber.interrupt(waiter)
      assert.strictEqual((yield* handle.result).recordsWritten, 40)
    }).pipe(Effect.provide(memoryRunner()))
  )
})

describe("replace dispositions", () => {
  it.live(
    "a replace reads from the beginning and checkpoints only after it published; a failed one leaves nothing half done",
    () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "dm-replace-"))
        const path = join(dir, "out.jsonl")
        const records = range(40)
        const [failing] = FaultInjection.sink(Jsonl.sink({ path, disposition: "replace" }), { on: 3, kind: "fatal" })
        const make = (sink: Sink.Sink<unknown>) =>
          Pipeline.make<Row, Row>({
            name: "refresh",
            version: "1.0.0",
            description: "full refresh",
            source: Memory.source(records, { batchSize: 10 }),
            sink,
            options: { batch: { rows: 10 } }
          })
        const failed = yield* Effect.exit(Runner.run(make(failing), {}))
        assert.isTrue(Exit.isFailure(failed))
        assert.isFalse(existsSync(path), "the failed replace published nothing")
        const key = Pipeline.stateKey(make(failing), {})
        assert.strictEqual(yield* StateStore.StateStore.use((s) => s.load(key)), undefined)
        const ok = yield* Runner.run(make(Jsonl.sink({ path, disposition: "replace" })), {})
        assert.strictEqual(ok.checkpointFrom, null)
        assert.strictEqual(ok.recordsWritten, 40)
        assert.strictEqual(readFileSync(path, "utf8").trim().split("\n").length, 40)
        assert.strictEqual(yield* StateStore.StateStore.use((s) => s.load(key)), 40)
        // Run again: a replace is a full refresh, never a resume.
        const again = yield* Runner.run(make(Jsonl.sink({ path, disposition: "replace" })), {})
        assert.strictEqual(again.checkpointFrom, null)
        assert.strictEqual(again.recordsRead, 40)
        assert.strictEqual(readFileSync(path, "utf8").trim().split("\n").length, 40)
      }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("a finish fenced by a newer run fails the run with that StateError, not retried, saving no checkpoint", () =>
    Effect.gen(function* () {
      let finishes = 0
      const sink: Sink.Sink<Row> = {
        name: "fenced-finish",
        capabilities: { transactional: false, idempotent: false },
        disposition: { type: "replace" },
        open: (context) =>
          Effect.succeed({
            write: (batch) => Effect.succeed({ written: batch.records.length }),
            finish: Effect.suspend(() => {
              finishes++
              return Effect.fail(
                new StateStore.StateError({ reason: "Fenced", key: context.stateKey, detail: "a newer run wrote" })
              )
            })
          })
      }
      const pipeline = Pipeline.make<Row, Row>({
        name: "fenced_finish",
        version: "1.0.0",
        description: "a replace whose finish is fenced",
        source: Memory.source(range(5)),
        sink,
        options: { retry: { initialDelayMs: 1, maxDelayMs: 5 } }
      })
      const exit = yield* Effect.exit(Runner.run(pipeline, {}))
      const error = failureOf(exit)
      assert.instanceOf(error, StateStore.StateError)
      assert.strictEqual((error as StateStore.StateError).reason, "Fenced")
      assert.strictEqual(finishes, 1, "a fenced finish is not retried")
      const key = Pipeline.stateKey(pipeline, {})
      assert.strictEqual(yield* StateStore.StateStore.use((s) => s.load(key)), undefined)
    }).pipe(Effect.provide(memoryRunner()))
  )
})

describe("rate limits", () => {
  it.live("a sink's rate limit paces writes, shared by every run of the same sink instance", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<Row>()
      const make = (name: string) =>
        Pipeline.make<Row, Row>({
          name,
          version: "1.0.0",
          description: "paced",
          source: Memory.source(range(60), { batchSize: 10 }),
          sink: collector.sink,
          options: { batch: { rows: 10 }, rateLimit: { sink: { perSecond: 200, burst: 20 } } }
        })
      const started = Date.now()
      const [a, b] = yield* Effect.all([Runner.run(make("paced_a"), {}), Runner.run(make("paced_b"), {})], {
        concurrency: 2
      })
      const elapsed = Date.now() - started
      assert.strictEqual(a.recordsWritten + b.recordsWritten, 120)
      // 120 records at 200/s with a burst of 20 take at least (120 - 20) / 200 s = 500 ms when the bucket is shared.
      assert.isAtLeast(elapsed, 450)
    }).pipe(Effect.provide(memoryRunner()))
  )
})

it.live("cancel after a run failed reports the failed run's summary", () =>
  Effect.gen(function* () {
    const [sink] = FaultInjection.sink(Memory.sink<Row>().sink, { on: 1, kind: "fatal" })
    const handle = yield* Runner.start(
      Pipeline.make<Row, Row>({
        name: "fails",
        version: "1.0.0",
        description: "fails",
        source: Memory.source(range(5)),
        sink
      }),
      {}
    )
    yield* Effect.exit(handle.result)
    const summary = yield* handle.cancel
    assert.strictEqual(summary.status, "failed")
    assert.strictEqual(summary.error?._tag, "ConnectorError")
  }).pipe(Effect.provide(memoryRunner()))
)
