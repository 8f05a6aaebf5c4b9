import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Jsonl from "../src/connectors/jsonl/Jsonl.ts"
import * as Memory from "../src/connectors/memory/Memory.ts"
import * as DeadLetter from "../src/DeadLetter.ts"
import * as Pipeline from "../src/Pipeline.ts"
import * as Runner from "../src/Runner.ts"
import * as RunStore from "../src/RunStore.ts"
import * as Sink from "../src/Sink.ts"
import * as StateStore from "../src/StateStore.ts"
import * as Transform from "../src/Transform.ts"
import * as FaultInjection from "../src/testing/FaultInjection.ts"
import { memoryRunner, range } from "./utils.ts"

type Row = { readonly id: number }

// Version 1 throws on ids divisible by `every`; version 2 only on those in `still`.
const pipelineOf = (version: string, fails: (id: number) => boolean, sink: Sink.Sink<unknown>) =>
  Pipeline.make<Row, unknown>({
    name: "orders",
    version,
    description: "copies orders",
    source: Memory.source(range(20), { batchSize: 5 }),
    transforms: Transform.identity<Row>().pipe(
      Transform.map((r: Row) => {
        if (fails(r.id)) throw new Error(`bad order ${r.id}`)
        return { ...r, v: version }
      })
    ),
    sink
  })

// The ids of the records a fixed version (1.1.0) wrote.
const fixedIds = (collector: Memory.Collector<unknown>) =>
  collector
    .records()
    .filter((r) => (r as { v: string }).v === "1.1.0")
    .map((r) => (r as Row).id)

// Runs version 1.0.0 once, dead-lettering the ids `fails` picks; returns the sink the records went to.
const deadLetterSome = (fails: (id: number) => boolean) =>
  Effect.gen(function* () {
    const collector = Memory.sink<unknown>()
    const summary = yield* Runner.run(pipelineOf("1.0.0", fails, collector.sink), {})
    return { collector, summary }
  })

const letters = Effect.map(
  DeadLetter.DeadLetterStore.use((s) => s.list({ pipeline: "orders", limit: 1000 })),
  (page) => page.letters
)

describe("Runner.replayDeadLetters", () => {
  it.effect("replays through the fixed version: records land, letters go, the checkpoint stays", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<unknown>()
      const broken = pipelineOf("1.0.0", (id) => id % 4 === 0, collector.sink)
      const first = yield* Runner.run(broken, {})
      assert.strictEqual(first.deadLetters, 5)
      const key = first.stateKey
      const checkpoint = yield* StateStore.StateStore.use((s) => s.load(key))
      const fixed = pipelineOf("1.1.0", () => false, collector.sink)
      const result = yield* Runner.replayDeadLetters(fixed, {})
      assert.strictEqual(result.letters, 5)
      assert.strictEqual(result.succeeded, 5)
      assert.strictEqual(result.failedAgain, 0)
      assert.strictEqual(result.pending, 0)
      assert.strictEqual(result.runs.length, 1)
      const run = result.runs[0]!
      assert.strictEqual(run.status, "succeeded")
      assert.strictEqual(run.stateKey, `${key}/replay`)
      assert.match(run.notes[0]!, /^replay of 5 dead letter/)
      assert.deepStrictEqual((yield* letters).length, 0)
      assert.deepStrictEqual(fixedIds(collector), [0, 4, 8, 12, 16])
      // recorded in the run store, and the pipeline's own checkpoint did not move
      assert.strictEqual((yield* RunStore.RunStore.use((s) => s.get(run.runId)))?.status, "succeeded")
      assert.deepStrictEqual(yield* StateStore.StateStore.use((s) => s.load(key)), checkpoint)
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.effect("records that still fail stay, with the new reason and no duplicates", () =>
    Effect.gen(function* () {
      const { collector } = yield* deadLetterSome((id) => id % 4 === 0)
      const before = yield* letters
      const target = before.find((l) => (DeadLetter.decodeRecord(l.record) as Row).id === 8)!
      const partly = pipelineOf("1.1.0", (id) => id === 8 || id === 16, collector.sink)
      const result = yield* Runner.replayDeadLetters(partly, {})
      assert.strictEqual(result.succeeded, 3)
      assert.strictEqual(result.failedAgain, 2)
      const after = yield* letters
      assert.strictEqual(after.length, 2)
      const again = after.find((l) => l.id === `${target.id}~r1`)!
      assert.match(again.reason, /bad order 8/)
      assert.strictEqual(again.version, "1.1.0")
      // a second replay with only one id: the other letter is untouched, the id chain goes on
      const second = yield* Runner.replayDeadLetters(partly, { ids: [again.id, "nope"] })
      assert.deepStrictEqual(second.notFound, ["nope"])
      assert.strictEqual(second.failedAgain, 1)
      const ids = (yield* letters).map((l) => l.id).sort()
      assert.strictEqual(ids.length, 2)
      assert.include(ids, `${target.id}~r2`)
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.effect("a sink failure mid-replay loses nothing: written letters are gone, the rest stay", () =>
    Effect.gen(function* () {
      const { collector } = yield* deadLetterSome((id) => id % 2 === 0)
      assert.strictEqual((yield* letters).length, 10)
      const [failing] = FaultInjection.sink(collector.sink, { on: 4, kind: "fatal" })
      const result = yield* Runner.replayDeadLetters(
        pipelineOf("1.1.0", () => false, failing),
        {}
      )
      assert.strictEqual(result.runs[0]!.status, "failed")
      assert.strictEqual(result.succeeded, 3)
      assert.strictEqual(result.pending, 7)
      const left = (yield* letters).map((l) => (DeadLetter.decodeRecord(l.record) as Row).id)
      const landed = fixedIds(collector)
      assert.deepStrictEqual(
        [...landed, ...left].sort((a, b) => a - b),
        [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
      )
      // and a second replay finishes the job
      const rest = yield* Runner.replayDeadLetters(
        pipelineOf("1.1.0", () => false, collector.sink),
        {}
      )
      assert.strictEqual(rest.succeeded, 7)
      assert.strictEqual((yield* letters).length, 0)
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("interrupting a replay cancels its run safely; nothing is lost", () =>
    Effect.gen(function* () {
      const { collector } = yield* deadLetterSome((id) => id % 2 === 0)
      const slow = FaultInjection.slowSink(collector.sink, 30)
      const fiber = yield* Effect.forkChild(
        Runner.replayDeadLetters(
          pipelineOf("1.1.0", () => false, slow),
          {}
        ),
        {
          startImmediately: true
        }
      )
      yield* Effect.sleep("100 millis")
      yield* Fiber.interrupt(fiber)
      const landed = fixedIds(collector)
      const left = (yield* letters).map((l) => (DeadLetter.decodeRecord(l.record) as Row).id)
      assert.isAbove(left.length, 0)
      // every record is written or still a dead letter (a write in flight may be in both: at-least-once)
      const all = new Set([...landed, ...left])
      assert.deepStrictEqual(
        [...all].sort((a, b) => a - b),
        [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
      )
      assert.isAtMost(landed.length + left.length, 11)
      const runs = yield* RunStore.RunStore.use((s) => s.list({ pipeline: "orders" }))
      assert.strictEqual(runs.runs[0]!.status, "cancelled")
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.effect("refuses a replace sink", () =>
    Effect.gen(function* () {
      const replacing = { ...Memory.sink<unknown>().sink, disposition: Sink.replace }
      const error = yield* Effect.flip(
        Runner.replayDeadLetters(
          pipelineOf("1.0.0", () => false, replacing),
          {}
        )
      )
      assert.strictEqual(error._tag, "ReplayError")
    }).pipe(Effect.provide(memoryRunner()))
  )
})

describe("Runner.replayDeadLetters with file stores and a file sink", () => {
  it.live("the fixed records land in the file; the dead letters are gone from disk", () =>
    Effect.gen(function* () {
      const directory = mkdtempSync(join(tmpdir(), "replay-"))
      const out = join(directory, "out.jsonl")
      const sink = Jsonl.sink({ path: out })
      const layer = Runner.layerFile({ directory: join(directory, ".data-mcp") }, { purgeIntervalMs: 0 })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const first = yield* Runner.run(
            pipelineOf("1.0.0", (id) => id % 5 === 0, sink),
            {}
          )
          assert.strictEqual(first.deadLetters, 4)
        }).pipe(Effect.provide(layer))
      )
      // a new process: the letters are read back from disk and replayed through the fixed version
      const result = yield* Effect.scoped(
        Runner.replayDeadLetters(
          pipelineOf("1.1.0", () => false, sink),
          {}
        ).pipe(Effect.provide(layer))
      )
      assert.strictEqual(result.succeeded, 4)
      const lines = readFileSync(out, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { id: number; v: string })
      assert.strictEqual(lines.length, 20)
      assert.deepStrictEqual(
        lines.filter((l) => l.v === "1.1.0").map((l) => l.id),
        [0, 5, 10, 15]
      )
      const left = yield* Effect.scoped(
        letters.pipe(Effect.provide(DeadLetter.layerFile({ directory: join(directory, ".data-mcp") })))
      )
      assert.strictEqual(left.length, 0)
    })
  )
})
