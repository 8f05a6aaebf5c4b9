// Encoded batches: rows that travel from source to sink undecoded when no stage needs them as records.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, Stream } from "effect"
import * as Batch from "../src/Batch.ts"
import * as Pipeline from "../src/Pipeline.ts"
import * as Runner from "../src/Runner.ts"
import type * as Sink from "../src/Sink.ts"
import * as Source from "../src/Source.ts"
import * as Transform from "../src/Transform.ts"
import { memoryRunner, range } from "./utils.ts"

type Row = { readonly id: number }

const FORMAT = "test/jsonl"
const encode = (rows: ReadonlyArray<Row>) => Buffer.from(rows.map((r) => `${JSON.stringify(r)}\n`).join(""))
const parse = (chunks: ReadonlyArray<Uint8Array>): Array<Row> =>
  Buffer.concat(chunks)
    .toString("utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Row)

interface Probe {
  /** The `encodings` of every read's context. */
  readonly asked: Array<ReadonlyArray<string> | undefined>
  decodes: number
  encodedWrites: number
  recordWrites: number
  readonly written: Array<Row>
}

const newProbe = (): Probe => ({ asked: [], decodes: 0, encodedWrites: 0, recordWrites: 0, written: [] })

/** Pages of 10 rows, encoded when the runner asks for FORMAT; the checkpoint is the rows read so far. */
const pagedSource = (rows: ReadonlyArray<Row>, probe: Probe): Source.Source<Row, number> =>
  Source.make<Row, number>({
    name: "paged",
    checkpointSchema: Schema.Number,
    read: (from, context) => {
      probe.asked.push(context.encodings)
      const encoded = context.encodings?.includes(FORMAT) === true
      const pages: Array<Batch.Batch<Row, number>> = []
      for (let at = from ?? 0; at < rows.length; at += 10) {
        const page = rows.slice(at, at + 10)
        const checkpoint = at + page.length
        pages.push(
          encoded
            ? Batch.makeEncoded<Row, number>(
                {
                  format: FORMAT,
                  columns: [{ name: "id", type: "number" }],
                  rows: page.length,
                  chunks: [encode(page)]
                },
                {
                  checkpoint,
                  decode: () => {
                    probe.decodes++
                    return page
                  }
                }
              )
            : Batch.make(page, { checkpoint })
        )
      }
      return Stream.fromIterable(pages)
    }
  })

/** Loads FORMAT as is (when `encodings` lists it) and records otherwise. */
const loadingSink = (probe: Probe, encodings: ReadonlyArray<string> = [FORMAT]): Sink.Sink<Row> => ({
  name: "loading",
  capabilities: { transactional: false, idempotent: false, encodings },
  disposition: { type: "append" },
  open: () =>
    Effect.succeed({
      write: (batch) =>
        Effect.sync(() => {
          if (batch.encoded !== undefined) {
            probe.encodedWrites++
            const rows = parse(batch.encoded.chunks)
            probe.written.push(...rows)
            return { written: rows.length }
          }
          probe.recordWrites++
          probe.written.push(...batch.records)
          return { written: batch.records.length }
        })
    })
})

const pipelineOf = (
  source: Source.Source<Row, number>,
  sink: Sink.Sink<Row>,
  extra?: {
    readonly transforms?: Transform.Transform<Row, Row, unknown>
    readonly options?: Pipeline.Options<{}>
    readonly name?: string
  }
) =>
  Pipeline.make<Row, Row>({
    name: extra?.name ?? "encoded",
    version: "1.0.0",
    description: "copies rows, encoded when it can",
    source,
    sink,
    ...(extra?.transforms === undefined ? {} : { transforms: extra.transforms }),
    options: { batch: { rows: 10, maxWaitMs: 20 }, ...extra?.options }
  })

describe("encoded batches", () => {
  it("only the batch made by makeEncoded counts as encoded; its records decode once, on first access", () => {
    let decodes = 0
    const batch = Batch.makeEncoded<Row>(
      { format: FORMAT, columns: [], rows: 2, chunks: [encode(range(2))] },
      {
        decode: () => {
          decodes++
          return range(2)
        }
      }
    )
    assert.strictEqual(Batch.size(batch), 2)
    assert.strictEqual(decodes, 0, "size does not decode")
    assert.strictEqual(Batch.encodedOf(batch)?.rows, 2)
    assert.deepStrictEqual(batch.records, range(2))
    assert.deepStrictEqual(batch.records, range(2))
    assert.strictEqual(decodes, 1, "decoded once")
    const copy = { ...batch, records: batch.records.map((r) => ({ id: r.id * 10 })) }
    assert.isDefined(copy.encoded, "a spread copies the field")
    assert.isUndefined(Batch.encodedOf(copy), "but the copy is taken by its records")
    assert.strictEqual(Batch.size(copy), 2)
    assert.isUndefined(Batch.encodedOf(Batch.withRecords(batch, [])))
  })

  it.live("no transform and a sink that loads the encoding: rows go through undecoded, checkpoints as usual", () =>
    Effect.gen(function* () {
      const probe = newProbe()
      const pipeline = pipelineOf(pagedSource(range(95), probe), loadingSink(probe))
      const summary = yield* Runner.run(pipeline, {})
      assert.strictEqual(summary.status, "succeeded")
      assert.deepStrictEqual(probe.asked, [[FORMAT]])
      assert.strictEqual(probe.decodes, 0, "nothing decoded")
      assert.strictEqual(probe.recordWrites, 0)
      assert.strictEqual(probe.encodedWrites, 10)
      assert.deepStrictEqual(probe.written, range(95))
      assert.strictEqual(summary.recordsRead, 95)
      assert.strictEqual(summary.recordsWritten, 95)
      assert.strictEqual(summary.checkpointTo, 95)
      // The next run resumes after the checkpoint.
      const again = yield* Runner.run(pipeline, {})
      assert.strictEqual(again.recordsRead, 0)
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("a transform, a schema contract or a sink without the encoding: the source is not asked", () =>
    Effect.gen(function* () {
      const withMap = newProbe()
      const doubled = Transform.identity<Row>().pipe(Transform.map((r) => ({ id: r.id * 2 })))
      yield* Runner.run(pipelineOf(pagedSource(range(25), withMap), loadingSink(withMap), { transforms: doubled }), {})
      assert.deepStrictEqual(withMap.asked, [undefined])
      assert.strictEqual(withMap.encodedWrites, 0)
      assert.deepStrictEqual(
        withMap.written,
        range(25).map((r) => ({ id: r.id * 2 }))
      )

      const withContract = newProbe()
      yield* Runner.run(
        pipelineOf(pagedSource(range(25), withContract), loadingSink(withContract), {
          options: { schemaContract: { columns: "evolve" } },
          name: "with_contract"
        }),
        {}
      )
      assert.deepStrictEqual(withContract.asked, [undefined])
      assert.deepStrictEqual(withContract.written, range(25))

      const plainSink = newProbe()
      yield* Runner.run(
        pipelineOf(pagedSource(range(25), plainSink), loadingSink(plainSink, []), { name: "plain_sink" }),
        {}
      )
      assert.deepStrictEqual(plainSink.asked, [undefined])
      assert.strictEqual(plainSink.encodedWrites, 0)
      assert.deepStrictEqual(plainSink.written, range(25))
    }).pipe(Effect.provide(memoryRunner()))
  )

  it.live("a source wrapper that rebuilds batches keeps its records: the copies are written as records", () =>
    Effect.gen(function* () {
      const probe = newProbe()
      const inner = pagedSource(range(30), probe)
      const wrapped: Source.Source<Row, number> = {
        ...inner,
        read: (from, context) =>
          Stream.map(inner.read(from, context), (b) => ({ ...b, records: b.records.map((r) => ({ id: r.id + 1000 })) }))
      }
      const summary = yield* Runner.run(pipelineOf(wrapped, loadingSink(probe)), {})
      assert.strictEqual(summary.status, "succeeded")
      assert.deepStrictEqual(probe.asked, [[FORMAT]], "the inner source was asked")
      assert.strictEqual(probe.decodes, 3, "the wrapper read every page's records")
      assert.strictEqual(probe.encodedWrites, 0, "no copy went on as encoded")
      assert.deepStrictEqual(
        probe.written,
        range(30).map((r) => ({ id: r.id + 1000 }))
      )
    }).pipe(Effect.provide(memoryRunner()))
  )
})
