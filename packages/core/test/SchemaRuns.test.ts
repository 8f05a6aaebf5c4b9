import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
// Schema contracts through the runner, on a stream whose shape changes mid-run, and across runs.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Stream } from "effect"
import * as ConnectorCatalog from "../src/ConnectorCatalog.ts"
import * as Memory from "../src/connectors/memory/Memory.ts"
import * as DeadLetter from "../src/DeadLetter.ts"
import * as Pipeline from "../src/Pipeline.ts"
import * as PipelineSpec from "../src/PipelineSpec.ts"
import * as Runner from "../src/Runner.ts"
import type * as SchemaContract from "../src/SchemaContract.ts"
import * as SchemaInference from "../src/SchemaInference.ts"
import * as SecretProvider from "../src/SecretProvider.ts"
import * as Sink from "../src/Sink.ts"
import { memoryRunner } from "./utils.ts"

type Row = Record<string, unknown>

// Two batches of ten with one shape, then a new field appears, then amount turns into a string.
const shifting = (): Array<Row> => [
  ...Array.from({ length: 20 }, (_, i) => ({ id: i, amount: i * 10 })),
  ...Array.from({ length: 10 }, (_, i) => ({ id: 20 + i, amount: 5, email: `u${i}@example.com` })),
  ...Array.from({ length: 10 }, (_, i) => ({ id: 30 + i, amount: "lots" }))
]

const pipelineWith = (records: Array<Row>, collector: Memory.Collector<Row>, contract: SchemaContract.Contract) =>
  Pipeline.make<Row, Row>({
    name: "shifting",
    version: "1.0.0",
    description: "a stream whose shape changes",
    source: Memory.source(records, { batchSize: 10 }),
    sink: collector.sink,
    options: { batch: { rows: 10 }, schemaContract: contract, deadLetterBudget: { maxRatio: 0.5, minRecords: 1 } }
  })

describe("schema contracts in runs", () => {
  it.live("evolve: a new column is added as version 2; an incompatible type change under dataType freeze fails", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<Row>()
      const handle = yield* Runner.start(pipelineWith(shifting(), collector, { columns: "evolve" }), {})
      const events = yield* Stream.runCollect(handle.events)
      const exit = yield* Effect.exit(handle.result)
      const changes = events.flatMap((e) => (e._tag === "SchemaChanged" ? [e.version] : []))
      assert.deepStrictEqual(changes, [1, 2])
      assert.strictEqual(collector.records().length, 30, "the batches before the bad one were written")
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      assert.strictEqual((error as { _tag: string })._tag, "SchemaViolation")
      assert.include((error as Error).message, "amount")
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("freeze: the error shows a readable diff of added, removed and widened fields", () =>
    Effect.gen(function* () {
      const records: Array<Row> = [
        ...Array.from({ length: 10 }, (_, i) => ({ id: i, amount: i, phone: "x" })),
        ...Array.from({ length: 10 }, (_, i) => ({ id: 10 + i, amount: i + 0.5, email: "e" }))
      ]
      const exit = yield* Effect.exit(
        Runner.run(pipelineWith(records, Memory.sink<Row>(), { columns: "freeze", dataType: "evolve" }), {})
      )
      const message = Exit.isFailure(exit) ? (Cause.squash(exit.cause) as Error).message : ""
      assert.include(message, "email")
      assert.include(message, "phone")
      assert.include(message, "amount")
      assert.match(message, /added/i)
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("discardRow: rows that break the contract become dead letters of stage schema; the run goes on", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<Row>()
      const summary = yield* Runner.run(
        pipelineWith(shifting(), collector, { columns: "discardRow", dataType: "discardRow" }),
        {}
      )
      assert.strictEqual(summary.status, "succeeded")
      assert.strictEqual(collector.records().length, 20)
      assert.strictEqual(summary.deadLetters, 20)
      const { letters } = yield* DeadLetter.DeadLetterStore.use((s) => s.list({ runId: summary.runId, limit: 100 }))
      assert.isTrue(letters.every((l) => l.stage === "schema"))
      assert.isTrue(letters.some((l) => l.reason.includes("email")))
      assert.isFalse(
        letters.some((l) => l.reason.includes("lots")),
        "reasons never quote values"
      )
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("discardValue: offending values are dropped, the rows kept, and the summary says so", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<Row>()
      const summary = yield* Runner.run(
        pipelineWith(shifting(), collector, { columns: "discardValue", dataType: "discardValue" }),
        {}
      )
      assert.strictEqual(collector.records().length, 40)
      assert.isTrue(collector.records().every((r) => !("email" in r)))
      assert.isTrue(summary.notes.some((n) => n.includes("discarded values") && n.includes("email")))
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("snapshots persist: a later run under freeze is held to what the earlier run saw", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<Row>()
      const first = Array.from({ length: 10 }, (_, i) => ({ id: i, amount: i }))
      const later = [...first, ...Array.from({ length: 10 }, (_, i) => ({ id: 10 + i, amount: i, extra: true }))]
      const base = (records: Array<Row>, contract: SchemaContract.Contract) =>
        Pipeline.make<Row, Row>({
          name: "persisted",
          version: "1.0.0",
          description: "schema across runs",
          source: Memory.source(records, { batchSize: 10 }),
          sink: collector.sink,
          options: { batch: { rows: 10 }, schemaContract: contract }
        })
      const one = yield* Runner.run(base(first, { columns: "evolve" }), {})
      assert.isTrue(one.notes.some((n) => n.includes("version 1")))
      const exit = yield* Effect.exit(Runner.run(base(later, { columns: "freeze" }), {}))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(Exit.isFailure(exit) ? (Cause.squash(exit.cause) as Error).message : "", "extra")
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("a sink's schema changes become SchemaChanged events with their target and summary notes", () =>
    Effect.gen(function* () {
      // A sink that widens its target on the second batch and reports it (as a SQL sink's evolution would).
      const added = { ...SchemaInference.emptyDiff, added: [{ path: "id", type: "bigint" }] }
      const widened = { ...SchemaInference.emptyDiff, widened: [{ path: "id", from: "integer", to: "bigint" }] }
      const written: Array<number> = []
      const sink = Sink.make<Row>({
        name: "reporting",
        capabilities: { transactional: false, idempotent: false },
        disposition: Sink.append,
        open: () =>
          Effect.succeed({
            write: (batch, context) =>
              Effect.sync((): Sink.WriteResult => {
                written.push(context.seq)
                const change =
                  context.seq === 0
                    ? { target: "db.t", version: 1, diff: added }
                    : context.seq === 1
                      ? { target: "db.t", version: 2, diff: widened }
                      : undefined
                return {
                  written: batch.records.length,
                  ...(change === undefined ? {} : { schemaChanges: [change] })
                }
              })
          })
      })
      const handle = yield* Runner.start(
        Pipeline.make<Row, Row>({
          name: "sink_changes",
          version: "1.0.0",
          description: "a sink reports schema changes",
          source: Memory.source(
            Array.from({ length: 30 }, (_, i) => ({ id: i })),
            { batchSize: 10 }
          ),
          sink,
          options: { batch: { rows: 10 } }
        }),
        {}
      )
      const events = yield* Stream.runCollect(handle.events)
      const summary = yield* handle.result
      assert.deepStrictEqual(written, [0, 1, 2])
      const changed = events.filter((e) => e._tag === "SchemaChanged")
      assert.deepStrictEqual(
        changed.map((e) => [e.stream, e.target, e.version, e.diff]),
        [
          ["default", "db.t", 1, added],
          ["default", "db.t", 2, widened]
        ]
      )
      // Each change is announced before the batch that made it is reported written.
      const tags = events.map((e) => e._tag)
      assert.isBelow(tags.indexOf("SchemaChanged"), tags.indexOf("BatchWritten"))
      assert.deepStrictEqual(
        summary.notes.filter((n) => n.startsWith("sink ")),
        [
          "sink reporting changed db.t to version 1: + added: id (bigint)",
          "sink reporting changed db.t to version 2: ~ widened: id integer → bigint"
        ]
      )
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("nested: { flatten } turns nested objects into parent__child fields", () =>
    Effect.gen(function* () {
      const collector = Memory.sink<Row>()
      yield* Runner.run(
        Pipeline.make<Row, Row>({
          name: "flat",
          version: "1.0.0",
          description: "flattens",
          source: Memory.source([{ id: 1, customer: { name: "a", address: { city: "b" } } }]),
          sink: collector.sink,
          options: { nested: { flatten: 1 } }
        }),
        {}
      )
      assert.deepStrictEqual(Object.keys(collector.records()[0]!).sort(), ["customer__address", "customer__name", "id"])
    }).pipe(Effect.provide(memoryRunner()))
  )
})

describe("Pipeline.fromSpec", () => {
  it.live("builds a runnable pipeline from a YAML spec on the file connectors", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "dm-fromspec-"))
      writeFileSync(join(dir, "in.csv"), "id,amount\n1,5\n2,50\n3,500\n")
      const spec = yield* PipelineSpec.parse(
        [
          "name: big_amounts",
          "version: 1.0.0",
          "description: Keeps amounts over 10",
          `source: { kind: csv, options: { path: ${JSON.stringify(join(dir, "in.csv"))} } }`,
          "transforms:",
          "  - cast: { id: integer, amount: number }",
          '  - filter: "record.amount > 10.0"',
          `sink: { kind: jsonl, options: { path: ${JSON.stringify(join(dir, "out.jsonl"))} } }`
        ].join("\n"),
        { file: "big.yaml" }
      )
      const pipeline = yield* Pipeline.fromSpec(spec, {
        catalog: ConnectorCatalog.builtins,
        secrets: SecretProvider.fromRecord({})
      })
      const summary = yield* Runner.run(pipeline, {})
      assert.strictEqual(summary.recordsWritten, 2)
      assert.deepStrictEqual(
        readFileSync(join(dir, "out.jsonl"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l)),
        [
          { id: 2, amount: 50 },
          { id: 3, amount: 500 }
        ]
      )
    }).pipe(Effect.provide(memoryRunner()))
  )
})
