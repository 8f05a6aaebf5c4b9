// Encoded batches: rows that travel from source to sink undecoded when no stage needs them as records.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, Stream } from "effect"
import * as Batch from "../src/Batch.ts"
import * as DeadLetter from "../src/DeadLetter.ts"
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

/** Two encoded rows whose decodings are counted. */
const countingBatch = () => {
  const counted = {
    decodes: 0,
    batch: Batch.makeEncoded<Row>(
      { format: FORMAT, columns: [], rows: 2, chunks: [encode(range(2))] },
      {
        decode: () => {
          counted.decodes++
          return range(2)
        }
      }
    )
  }
  return counted
}

describe("encoded batches", () => {
  it("only the batch made by makeEncoded counts as encoded; its records decode once, on first access", () => {
    const counted = countingBatch()
    const batch = counted.batch
    assert.strictEqual(Batch.size(batch), 2)
    assert.strictEqual(counted.decodes, 0, "size does not decode")
    assert.strictEqual(Batch.encodedOf(batch)?.rows, 2)
    assert.deepStrictEqual(batch.records, range(2))
    assert.deepStrictEqual(batch.records, range(2))
    assert.strictEqual(counted.decodes, 1, "decoded once")
    const copy = { ...batch, records: batch.records.map((r) => ({ id: r.id * 10 })) }
    assert.isDefined(copy.encoded, "a spread copies the field")
    assert.isUndefined(Batch.encodedOf(copy), "but the copy is taken by its records")
    assert.strictEqual(Batch.size(copy), 2)
    assert.isUndefined(Batch.encodedOf(Batch.withRecords(batch, [])))
  })

  it("takeRecords decodes without keeping the records on the batch, unless they were read already", () => {
    const counted = countingBatch()
    const batch = counted.batch
    const first = Batch.takeRecords(batch)
    const second = Batch.takeRecords(batch)
    assert.deepStrictEqual(first, range(2))
    assert.notStrictEqual(first, second, "nothing kept: each take decodes")
    assert.strictEqual(counted.decodes, 2)
    const read = batch.records
    assert.strictEqual(Batch.takeRecords(batch), read, "once read through the getter, the kept records are taken")
    assert.strictEqual(counted.decodes, 3)
    const plain = Batch.make(range(3))
    assert.strictEqual(Batch.takeRecords(plain), plain.records)
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

  describe("early encoding (Writer.encode)", () => {
    interface Written {
      readonly encoded: boolean
      readonly rows: ReadonlyArray<Row>
      readonly checkpointTo: unknown
    }

    /** Encodes ahead: refuses ids ≡ 3 (mod 7) one by one; leaves batches holding an id ≥ `writeAt` to `write`. */
    const encodingSink = (
      written: Array<Written>,
      options: { readonly transactional?: boolean; readonly writeAt?: number } = {}
    ): Sink.Sink<Row> => ({
      name: "encoding",
      capabilities: { transactional: options.transactional ?? false, idempotent: false },
      disposition: { type: "append" },
      open: () =>
        Effect.succeed({
          encode: (records: ReadonlyArray<Row>) => {
            if (records.some((r) => r.id >= (options.writeAt ?? 1000))) return undefined
            const kept = records.filter((r) => r.id % 7 !== 3)
            const rejected = records.flatMap((r, index) => (r.id % 7 === 3 ? [{ index, reason: "sevens" }] : []))
            return {
              encoded: { format: FORMAT, columns: [], rows: kept.length, chunks: [encode(kept)] },
              rejected
            }
          },
          write: (batch, context) =>
            Effect.sync(() => {
              const rows = batch.encoded === undefined ? batch.records : parse(batch.encoded.chunks)
              written.push({ encoded: batch.encoded !== undefined, rows, checkpointTo: context.checkpointTo })
              return { written: rows.length }
            })
        })
    })

    const source = (rows: ReadonlyArray<Row>, batchSize: number): Source.Source<Row, number> =>
      Source.make<Row, number>({
        name: "rows",
        checkpointSchema: Schema.Number,
        read: (from) => {
          const pages: Array<Batch.Batch<Row, number>> = []
          for (let at = from ?? 0; at < rows.length; at += batchSize)
            pages.push(
              Batch.make(rows.slice(at, at + batchSize), { checkpoint: Math.min(at + batchSize, rows.length) })
            )
          return Stream.fromIterable(pages)
        }
      })

    // Rejects ids ≡ 0 (mod 5) in the transform; doubles the rest's ids + 1 (odd ids, so a second pass would show).
    const transforms = Transform.identity<Row>().pipe(
      Transform.map((r) => {
        if (r.id % 5 === 0) throw new Error("fives")
        return { id: r.id * 2 + 1 }
      })
    )
    const expected = (n: number) =>
      range(n)
        .filter((r) => r.id % 5 !== 0)
        .map((r) => ({ id: r.id * 2 + 1 }))
        .filter((r) => r.id % 7 !== 3)

    it.live("a source's encoded batches decode once on their way through a transform", () =>
      Effect.gen(function* () {
        const written: Array<Written> = []
        let decodes = 0
        // Always encoded (as a COPY-reading source hands over its pages), in batches at and above the slice size.
        const encodedSource = Source.make<Row, number>({
          name: "encoded",
          checkpointSchema: Schema.Number,
          read: (from) => {
            const rows = range(1500)
            const pages: Array<Batch.Batch<Row, number>> = []
            for (let at = from ?? 0, size = 512; at < rows.length; at += size, size = size === 512 ? 700 : 512) {
              const page = rows.slice(at, at + size)
              pages.push(
                Batch.makeEncoded<Row, number>(
                  { format: FORMAT, columns: [], rows: page.length, chunks: [encode(page)] },
                  {
                    checkpoint: at + page.length,
                    decode: () => {
                      decodes++
                      return parse([encode(page)])
                    }
                  }
                )
              )
            }
            return Stream.fromIterable(pages)
          }
        })
        const summary = yield* Runner.run(
          pipelineOf(encodedSource, encodingSink(written, { writeAt: Number.POSITIVE_INFINITY }), {
            transforms,
            options: { deadLetterBudget: { maxRatio: 1 } },
            name: "decode-once"
          }),
          {}
        )
        assert.strictEqual(summary.status, "succeeded")
        assert.strictEqual(decodes, 3, "one decode per source batch")
        assert.deepStrictEqual(
          written.flatMap((w) => w.rows),
          expected(1500)
        )
      }).pipe(Effect.provide(memoryRunner()))
    )

    it.live("transformed records are encoded ahead, joined up to the batch limits, refusals dead-lettered", () =>
      Effect.gen(function* () {
        const written: Array<Written> = []
        const summary = yield* Runner.run(
          pipelineOf(source(range(100), 10), encodingSink(written), {
            transforms,
            options: { batch: { rows: 30, maxWaitMs: 1000 } },
            name: "early"
          }),
          {}
        )
        assert.strictEqual(summary.status, "succeeded")
        assert.isTrue(
          written.every((w) => w.encoded),
          "every write came encoded"
        )
        assert.isBelow(written.length, 10, "the ten source batches were joined")
        assert.deepStrictEqual(
          written.flatMap((w) => w.rows),
          expected(100)
        )
        assert.strictEqual(summary.recordsRead, 100)
        assert.strictEqual(summary.recordsWritten, expected(100).length)
        assert.strictEqual(summary.checkpointTo, 100)
        const { letters } = yield* DeadLetter.DeadLetterStore.use((s) => s.list({ runId: summary.runId }))
        const byStage = (stage: string) => letters.filter((l) => l.stage === stage).length
        assert.strictEqual(byStage("transform"), 20, "ids ≡ 0 (mod 5)")
        assert.strictEqual(byStage("sink"), range(100).filter((r) => r.id % 5 !== 0 && (r.id * 2 + 1) % 7 === 3).length)
        assert.strictEqual(summary.deadLetters, letters.length)
        assert.isTrue(
          letters.filter((l) => l.stage === "sink").every((l) => ((l.record as Row).id * 1) % 7 === 3),
          "a sink dead letter holds the refused (transformed) record"
        )
      }).pipe(Effect.provide(memoryRunner()))
    )

    it.live("a batch the sink will not encode ahead reaches write as records, transformed once", () =>
      Effect.gen(function* () {
        const written: Array<Written> = []
        const rows = [...range(20), { id: 1000 }, ...range(20, 21)]
        const summary = yield* Runner.run(
          pipelineOf(source(rows, 10), encodingSink(written), {
            transforms: Transform.identity<Row>().pipe(Transform.map((r) => ({ id: r.id * 2 + 1 }))),
            name: "early_fallback"
          }),
          {}
        )
        assert.strictEqual(summary.status, "succeeded")
        // The refused-ahead batch (the third source batch) went as records: 2001 is 1000 doubled once, so it was
        // not transformed twice; the batches around it went encoded.
        const asRecords = written.filter((w) => !w.encoded)
        assert.strictEqual(asRecords.length, 1)
        assert.deepStrictEqual(
          asRecords[0]!.rows.map((r) => r.id),
          [2001, 43, 45, 47, 49, 51, 53, 55, 57, 59]
        )
        assert.isTrue(written[0]!.encoded && written.at(-1)!.encoded)
        const ahead = (ids: ReadonlyArray<number>) => ids.map((id) => id * 2 + 1).filter((id) => id % 7 !== 3)
        assert.deepStrictEqual(
          written.flatMap((w) => w.rows.map((r) => r.id)),
          [
            ...ahead(range(20).map((r) => r.id)),
            2001,
            ...range(9, 21).map((r) => r.id * 2 + 1),
            ...ahead(range(11, 30).map((r) => r.id))
          ]
        )
        assert.strictEqual(summary.checkpointTo, rows.length)
      }).pipe(Effect.provide(memoryRunner()))
    )

    it.live("the next batches are processed while a write waits on I/O", () =>
      Effect.gen(function* () {
        // A write that waits on I/O (a timer here, a database in real life) and an encode that takes CPU time:
        // the early stage must keep encoding while a write waits, rather than only between writes.
        const log: Array<string> = []
        const busy = (ms: number) => {
          const until = performance.now() + ms
          while (performance.now() < until) {}
        }
        const sink: Sink.Sink<Row> = {
          name: "slow",
          capabilities: { transactional: true, idempotent: false },
          disposition: { type: "append" },
          open: () =>
            Effect.succeed({
              encode: (records: ReadonlyArray<Row>) => {
                busy(2)
                log.push("encode")
                return {
                  encoded: { format: FORMAT, columns: [], rows: records.length, chunks: [encode(records)] },
                  rejected: []
                }
              },
              write: (batch) =>
                Effect.gen(function* () {
                  log.push("write")
                  yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 10)))
                  log.push("written")
                  return { written: batch.encoded?.rows ?? batch.records.length }
                })
            })
        }
        const summary = yield* Runner.run(
          pipelineOf(source(range(300), 10), sink, {
            transforms: Transform.identity<Row>().pipe(Transform.map((r) => r)),
            options: { batch: { rows: 50, maxWaitMs: 1000 } },
            name: "early_overlap"
          }),
          {}
        )
        assert.strictEqual(summary.status, "succeeded")
        assert.strictEqual(summary.recordsWritten, 300)
        // Encodes between a write and its end: the two overlapped.
        let overlapped = 0
        let inWrite = false
        for (const entry of log) {
          if (entry === "write") inWrite = true
          else if (entry === "written") inWrite = false
          else if (inWrite) overlapped++
        }
        assert.isAbove(overlapped, 10, "encodes ran while writes waited")
      }).pipe(Effect.provide(memoryRunner()))
    )

    it.live("transactional: large source batches are processed in slices, every write ends at a checkpoint", () =>
      Effect.gen(function* () {
        const written: Array<Written> = []
        const summary = yield* Runner.run(
          pipelineOf(
            source(range(3000), 1500),
            encodingSink(written, { transactional: true, writeAt: Number.POSITIVE_INFINITY }),
            {
              transforms,
              options: { batch: { rows: 500, maxWaitMs: 1000 }, deadLetterBudget: { maxRatio: 1 } },
              name: "early_tx"
            }
          ),
          {}
        )
        assert.strictEqual(summary.status, "succeeded")
        assert.deepStrictEqual(
          written.flatMap((w) => w.rows),
          expected(3000)
        )
        assert.deepStrictEqual(
          written.map((w) => w.checkpointTo),
          [1500, 3000],
          "one write per source batch: never cut between checkpoints"
        )
      }).pipe(Effect.provide(memoryRunner()))
    )
  })
})
