import { Batch } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Schedule, Stream } from "effect"
import * as fc from "fast-check"
import { estimateBytes, type Limits, type Numbered, rebatch } from "../src/internal/batcher.ts"

type B = Batch.Batch<number, unknown>

const batch = (
  records: ReadonlyArray<number>,
  options?: { stream?: string; checkpoint?: unknown; bytes?: number }
): B => Batch.make(records, options)

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i)

const limits = (overrides: Partial<Limits>): Limits => ({
  rows: 1_000,
  bytes: 1_000_000_000,
  maxWaitMs: 60_000,
  ...overrides
})

const collect = <E>(upstream: Stream.Stream<B, E>, l: Limits, capacity = 4) =>
  Effect.scoped(Effect.flatMap(rebatch(upstream, l, capacity), Stream.runCollect))

const shape = (out: ReadonlyArray<Numbered<number>>) =>
  out.map((n) => ({ seq: n.seq, stream: n.batch.stream, records: n.batch.records, checkpoint: n.batch.checkpoint }))

class SourceFailed extends Data.TaggedError("SourceFailed")<{ readonly at: number }> {}

describe("rebatch", () => {
  it.effect("splits a big source batch; only the last piece carries its checkpoint", () =>
    Effect.gen(function* () {
      const out = yield* collect(Stream.make(batch(range(0, 8), { checkpoint: "c1" })), limits({ rows: 3 }))
      assert.deepStrictEqual(shape(out), [
        { seq: 0, stream: "default", records: [0, 1, 2], checkpoint: undefined },
        { seq: 1, stream: "default", records: [3, 4, 5], checkpoint: undefined },
        { seq: 2, stream: "default", records: [6, 7], checkpoint: "c1" }
      ])
    })
  )

  it.effect("merges small batches up to `rows`, with the checkpoint of the last batch held whole", () =>
    Effect.gen(function* () {
      const source = Stream.fromIterable(range(0, 5).map((i) => batch([2 * i, 2 * i + 1], { checkpoint: `c${i}` })))
      const out = yield* collect(source, limits({ rows: 5 }))
      assert.deepStrictEqual(shape(out), [
        // c2 is not here: batch 2 (records 4, 5) is split over both output batches.
        { seq: 0, stream: "default", records: [0, 1, 2, 3, 4], checkpoint: "c1" },
        { seq: 1, stream: "default", records: [5, 6, 7, 8, 9], checkpoint: "c4" }
      ])
    })
  )

  it.effect("a batch that fits exactly is passed on whole", () =>
    Effect.gen(function* () {
      const input = batch(range(0, 4), { checkpoint: 1 })
      const out = yield* collect(Stream.make(input, batch(range(4, 4), { checkpoint: 2 })), limits({ rows: 4 }))
      assert.deepStrictEqual(
        shape(out).map((b) => [b.records, b.checkpoint]),
        [
          [range(0, 4), 1],
          [range(4, 4), 2]
        ]
      )
    })
  )

  it.effect("respects `bytes` when splitting and when merging", () =>
    Effect.gen(function* () {
      // Every record is 100 bytes; at most 250 bytes a batch means at most two records.
      const big = yield* collect(
        Stream.make(batch(range(0, 6), { bytes: 600, checkpoint: "c" })),
        limits({ bytes: 250 })
      )
      assert.deepStrictEqual(
        big.map((b) => b.batch.records),
        [
          [0, 1],
          [2, 3],
          [4, 5]
        ]
      )
      assert.deepStrictEqual(
        big.map((b) => b.bytes),
        [200, 200, 200]
      )
      const small = yield* collect(
        Stream.fromIterable(range(0, 5).map((i) => batch([i], { bytes: 100, checkpoint: i }))),
        limits({ bytes: 250 })
      )
      assert.deepStrictEqual(
        small.map((b) => [b.batch.records, b.batch.checkpoint]),
        [
          [[0, 1], 1],
          [[2, 3], 3],
          [[4], 4]
        ]
      )
    })
  )

  it.effect("a single record larger than `bytes` still goes through, alone", () =>
    Effect.gen(function* () {
      const out = yield* collect(
        Stream.make(batch([1], { bytes: 10 }), batch([2], { bytes: 5_000 }), batch([3], { bytes: 10 })),
        limits({ bytes: 100 })
      )
      assert.deepStrictEqual(
        out.map((b) => b.batch.records),
        [[1], [2], [3]]
      )
    })
  )

  it.effect("never mutates the source's record arrays", () =>
    Effect.gen(function* () {
      const a = [1, 2]
      const b = [3]
      const c = [4, 5, 6, 7, 8]
      const out = yield* collect(Stream.make(batch(a), batch(b), batch(c, { checkpoint: "c" })), limits({ rows: 4 }))
      assert.deepStrictEqual(
        out.map((o) => o.batch.records),
        [
          [1, 2, 3, 4],
          [5, 6, 7, 8]
        ]
      )
      assert.deepStrictEqual([a, b, c], [[1, 2], [3], [4, 5, 6, 7, 8]])
    })
  )

  it.effect("estimates bytes when the source does not say", () =>
    Effect.gen(function* () {
      const records = range(0, 10).map((i) => ({ id: i, name: "x".repeat(20) }))
      const per = JSON.stringify(records[0]).length + 1
      assert.strictEqual(estimateBytes(records), per * 10)
      assert.strictEqual(estimateBytes([]), 0)
      assert.strictEqual(estimateBytes([{ big: 10n }]), JSON.stringify({ big: "10" }).length + 1)
      const upstream = Stream.make(Batch.make(records, { checkpoint: "end" }))
      const out = yield* Effect.scoped(
        Effect.flatMap(rebatch(upstream, limits({ bytes: per * 4 }), 4), Stream.runCollect)
      )
      assert.deepStrictEqual(
        out.map((b) => b.batch.records.length),
        [4, 4, 2]
      )
    })
  )

  it.effect("never merges batches of different streams", () =>
    Effect.gen(function* () {
      const out = yield* collect(
        Stream.make(
          batch([1], { stream: "a", checkpoint: "a1" }),
          batch([2], { stream: "b", checkpoint: "b1" }),
          batch([3], { stream: "b" }),
          batch([4], { stream: "a", checkpoint: "a2" })
        ),
        limits({ rows: 100 })
      )
      assert.deepStrictEqual(shape(out), [
        { seq: 0, stream: "a", records: [1], checkpoint: "a1" },
        { seq: 1, stream: "b", records: [2, 3], checkpoint: "b1" },
        { seq: 2, stream: "a", records: [4], checkpoint: "a2" }
      ])
    })
  )

  it.effect("atCheckpointsOnly: never splits a source batch and closes batches only where a checkpoint ends", () =>
    Effect.gen(function* () {
      const out = yield* collect(
        Stream.make(batch([1, 2, 3]), batch([4, 5], { checkpoint: "c1" }), batch([6, 7, 8], { checkpoint: "c2" })),
        limits({ rows: 2, atCheckpointsOnly: true })
      )
      assert.deepStrictEqual(
        out.map((o) => [o.batch.records, o.batch.checkpoint]),
        [
          [[1, 2, 3, 4, 5], "c1"],
          [[6, 7, 8], "c2"]
        ]
      )
    })
  )

  it.effect("empty batches with a checkpoint pass through; empty ones without are dropped", () =>
    Effect.gen(function* () {
      const only = yield* collect(Stream.make(batch([], { checkpoint: "c0" })), limits({}))
      assert.deepStrictEqual(shape(only), [{ seq: 0, stream: "default", records: [], checkpoint: "c0" }])

      const nothing = yield* collect(Stream.make(batch([]), batch([])), limits({}))
      assert.deepStrictEqual(nothing, [])

      const mixed = yield* collect(
        Stream.make(
          batch([1, 2], { stream: "a" }),
          batch([], { stream: "b", checkpoint: "b-moved" }),
          batch([], { stream: "b" })
        ),
        limits({})
      )
      assert.deepStrictEqual(shape(mixed), [
        { seq: 0, stream: "a", records: [1, 2], checkpoint: undefined },
        { seq: 1, stream: "b", records: [], checkpoint: "b-moved" }
      ])
    })
  )

  it.effect("an empty batch of another stream does not relabel the records after it", () =>
    Effect.gen(function* () {
      const out = yield* collect(
        Stream.make(batch([], { stream: "b" }), batch([1], { stream: "a" }), batch([2], { stream: "a" })),
        limits({ rows: 1 })
      )
      assert.deepStrictEqual(
        out.map((o) => [o.batch.stream, o.batch.records]),
        [
          ["a", [1]],
          ["a", [2]]
        ]
      )
    })
  )

  it.effect("a falsy checkpoint (0, null, false) is kept", () =>
    Effect.gen(function* () {
      for (const checkpoint of [0, null, false, ""]) {
        const out = yield* collect(Stream.make(batch([1], { checkpoint })), limits({}))
        assert.strictEqual(out[0]!.batch.checkpoint, checkpoint)
      }
    })
  )

  it.effect("numbers batches 0, 1, 2, … in source order", () =>
    Effect.gen(function* () {
      const source = Stream.fromIterable(range(0, 20).map((i) => batch([i], { stream: i % 2 === 0 ? "x" : "y" })))
      const out = yield* collect(source, limits({}))
      assert.deepStrictEqual(
        out.map((b) => b.seq),
        range(0, 20)
      )
      assert.deepStrictEqual(
        out.flatMap((b) => b.batch.records),
        range(0, 20)
      )
    })
  )

  it.effect("a source failure is propagated after pending records are flushed", () =>
    Effect.gen(function* () {
      const upstream = Stream.concat(
        Stream.make(batch([1, 2], { checkpoint: "c1" }), batch([3])),
        Stream.fail(new SourceFailed({ at: 3 }))
      )
      const seen: Array<Numbered<number>> = []
      const error = yield* Effect.scoped(
        Effect.flatMap(rebatch(upstream, limits({ rows: 100 }), 4), (s) =>
          Stream.runForEach(s, (b) => Effect.sync(() => seen.push(b)))
        )
      ).pipe(Effect.flip)
      assert.instanceOf(error, SourceFailed)
      assert.strictEqual(error.at, 3)
      assert.deepStrictEqual(shape(seen), [{ seq: 0, stream: "default", records: [1, 2, 3], checkpoint: "c1" }])
    })
  )

  it.effect("a failure with nothing pending is propagated at once", () =>
    Effect.gen(function* () {
      const error = yield* collect(Stream.fail(new SourceFailed({ at: 0 })), limits({})).pipe(Effect.flip)
      assert.strictEqual(error.at, 0)
    })
  )

  it.live("flushes a batch `maxWaitMs` after its first record when the source is slow", () =>
    Effect.gen(function* () {
      const t0 = Date.now()
      const upstream = Stream.concat(
        Stream.make(batch([1], { checkpoint: "c1" })),
        Stream.fromEffect(Effect.as(Effect.sleep(300), batch([2], { checkpoint: "c2" })))
      )
      const seen: Array<{ readonly at: number; readonly batch: Numbered<number> }> = []
      yield* Effect.scoped(
        Effect.flatMap(rebatch(upstream, limits({ rows: 100, maxWaitMs: 30 }), 4), (s) =>
          Stream.runForEach(s, (b) => Effect.sync(() => seen.push({ at: Date.now() - t0, batch: b })))
        )
      )
      assert.deepStrictEqual(shape(seen.map((s) => s.batch)), [
        { seq: 0, stream: "default", records: [1], checkpoint: "c1" },
        { seq: 1, stream: "default", records: [2], checkpoint: "c2" }
      ])
      // The first batch left on the timer, long before the second record arrived.
      assert.isAtLeast(seen[0]!.at, 25)
      assert.isBelow(seen[0]!.at, 250)
      assert.isAtLeast(seen[1]!.at, 290)
    })
  )

  it.live("the wait counts from a batch's first record: a steady trickle still closes batches", () =>
    Effect.gen(function* () {
      const upstream = Stream.fromSchedule(Schedule.spaced("10 millis")).pipe(
        Stream.take(15),
        Stream.map((i) => batch([i]))
      )
      const out = yield* collect(upstream, limits({ rows: 100, maxWaitMs: 40 }))
      assert.deepStrictEqual(
        out.flatMap((b) => b.batch.records),
        range(0, 15)
      )
      // A timer reset by every record would never fire (records come every 10 ms): one batch of 15.
      assert.isAtLeast(out.length, 2)
      for (const b of out) assert.isBelow(b.batch.records.length, 15)
    })
  )

  it.live("pulls the source only as far as the bounded buffers allow", () =>
    Effect.gen(function* () {
      let pulled = 0
      const upstream = Stream.fromIterable(range(0, 1000)).pipe(
        Stream.map((i) => batch([i])),
        Stream.tap(() => Effect.sync(() => pulled++))
      )
      yield* Effect.scoped(
        Effect.gen(function* () {
          const out = yield* rebatch(upstream, limits({ rows: 1 }), 2)
          yield* Effect.sleep(50)
          // output queue (2) + the batch being offered + the input queue (1) + the element in hand
          assert.isAtMost(pulled, 6)
          const first = yield* Stream.runCollect(Stream.take(out, 10))
          assert.deepStrictEqual(
            first.map((b) => b.seq),
            range(0, 10)
          )
          yield* Effect.sleep(30)
          assert.isAtMost(pulled, 16)
        })
      )
    })
  )

  it.effect("property: records kept in order, limits respected, checkpoints never ahead of the data", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              size: fc.nat({ max: 12 }),
              checkpoint: fc.boolean(),
              stream: fc.constantFrom("a", "a", "a", "b")
            }),
            { maxLength: 25 }
          ),
          fc.integer({ min: 1, max: 10 }),
          fc.integer({ min: 10, max: 120 }),
          fc.boolean(),
          async (specs, rows, bytes, atCheckpointsOnly) => {
            // Records are numbered globally in input order; every record is 10 bytes; the checkpoint is k.
            let id = 0
            const numbered = specs.map((s, k) => {
              const records = range(id, s.size)
              id += s.size
              return batch(records, {
                stream: s.stream,
                bytes: s.size * 10,
                ...(s.checkpoint ? { checkpoint: k } : {})
              })
            })
            const out = await Effect.runPromise(
              collect(Stream.fromIterable(numbered), { rows, bytes, maxWaitMs: 60_000, atCheckpointsOnly })
            )

            // Records: all there, in order, nothing twice.
            assert.deepStrictEqual(
              out.flatMap((b) => b.batch.records),
              range(0, id)
            )
            // Sequence numbers.
            assert.deepStrictEqual(
              out.map((b) => b.seq),
              range(0, out.length)
            )
            // Where each source batch ends: the global index of its last record + 1.
            const endOf: Array<number> = []
            let acc = 0
            for (const b of numbered) {
              acc += b.records.length
              endOf.push(acc)
            }
            const streamOf = (recordId: number) => numbered.find((b) => b.records.includes(recordId))!.stream
            let written = 0
            let lastCheckpoint = -1
            for (const o of out) {
              const n = o.batch.records.length
              written += n
              // Limits: at most `rows`, at most `bytes` unless a single record (with `atCheckpointsOnly` they
              // apply only at checkpoints); empty only to carry a checkpoint.
              if (!atCheckpointsOnly) {
                assert.isAtMost(n, rows)
                if (n > 1) assert.isAtMost(n * 10, bytes)
              }
              if (n === 0) assert.isDefined(o.batch.checkpoint)
              // One stream per batch.
              for (const r of o.batch.records) assert.strictEqual(streamOf(r), o.batch.stream)
              const cp = o.batch.checkpoint
              if (cp !== undefined) {
                const k = cp as number
                // Never ahead of the data: every record of source batch k is in this or an earlier batch.
                assert.isAtMost(endOf[k]!, written)
                assert.strictEqual(numbered[k]!.stream, o.batch.stream)
                // Checkpoints move forward only.
                assert.isAbove(k, lastCheckpoint)
                lastCheckpoint = k
              }
            }
            // Never held back: the checkpoint of the last checkpointed source batch is released.
            const lastInput = numbered.reduce((last, b, k) => (b.checkpoint !== undefined ? k : last), -1)
            assert.strictEqual(lastCheckpoint, lastInput)
            if (atCheckpointsOnly) {
              // No source batch is split, and a batch ends at a checkpoint unless the stream changes or the source ends.
              for (const b of numbered) {
                if (b.records.length === 0) continue
                const carriers = new Set(out.filter((o) => o.batch.records.some((r) => b.records.includes(r))))
                assert.strictEqual(carriers.size, 1)
              }
              out.forEach((o, j) => {
                const next = out[j + 1]
                if (next !== undefined && next.batch.stream === o.batch.stream) assert.isDefined(o.batch.checkpoint)
              })
            }
            // And a non-empty checkpointed batch's checkpoint (or a later one) rides with its last record.
            numbered.forEach((b, k) => {
              if (b.checkpoint === undefined || b.records.length === 0) return
              const last = b.records[b.records.length - 1]!
              const carrier = out.find((o) => o.batch.records.includes(last))!
              assert.isDefined(carrier.batch.checkpoint)
              assert.isAtLeast(carrier.batch.checkpoint as number, k)
            })
          }
        ),
        { numRuns: 300 }
      )
    )
  )
})
