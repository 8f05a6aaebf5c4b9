import { ConnectorError, Transform } from "@data-mcp/core"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fc from "fast-check"
import { compile, type Retry } from "../src/internal/transformer.ts"

const noRetry: Retry = (effect) => effect

const run = (transform: Transform.Any, records: ReadonlyArray<unknown>, retry: Retry = noRetry) =>
  compile(transform, retry).process(records)

class Boom extends Schema.TaggedError<Boom>()("Boom", { retryable: Schema.Boolean }) {}

describe("Transform", () => {
  describe("synchronous steps", () => {
    it.effect("identity passes records through", () =>
      Effect.gen(function* () {
        const input = [{ a: 1 }, { a: 2 }]
        const out = yield* run(Transform.identity(), input)
        assert.deepStrictEqual(out.records, input)
        assert.deepStrictEqual(out.rejected, [])
      })
    )

    it.effect("map, filter, flatMap", () =>
      Effect.gen(function* () {
        const t = Transform.identity<number>().pipe(
          Transform.map((n) => n * 10),
          Transform.filter((n) => n !== 20),
          Transform.flatMap((n) => [n, n + 1])
        )
        const out = yield* run(t, [1, 2, 3])
        assert.deepStrictEqual(out.records, [10, 11, 30, 31])
        assert.deepStrictEqual(out.rejected, [])
      })
    )

    it.effect("flatMap to nothing drops, to many expands, in order", () =>
      Effect.gen(function* () {
        const t = Transform.identity<number>().pipe(Transform.flatMap((n) => Array.from({ length: n }, () => n)))
        assert.deepStrictEqual((yield* run(t, [0, 2, 1, 0, 3])).records, [2, 2, 1, 3, 3, 3])
      })
    )

    it.effect("rename and drop", () =>
      Effect.gen(function* () {
        const t = Transform.identity<{ userId: number; createdAt: string; secret: string }>().pipe(
          Transform.rename({ userId: "user_id", createdAt: "created_at" }),
          Transform.drop(["secret"])
        )
        const out = yield* run(t, [{ userId: 1, createdAt: "x", secret: "s" }])
        assert.deepStrictEqual(out.records, [{ user_id: 1, created_at: "x" }])
      })
    )

    it.effect("rename can swap two fields", () =>
      Effect.gen(function* () {
        const t = Transform.identity<{ a: number; b: number }>().pipe(Transform.rename({ a: "b", b: "a" }))
        assert.deepStrictEqual((yield* run(t, [{ a: 1, b: 2 }])).records, [{ b: 1, a: 2 }])
      })
    )

    it.effect("steps do not mutate the input records", () =>
      Effect.gen(function* () {
        const input = [{ a: 1, b: 2 }]
        const t = Transform.identity<{ a: number; b: number }>().pipe(
          Transform.rename({ a: "x" }),
          Transform.drop(["b"])
        )
        yield* run(t, input)
        assert.deepStrictEqual(input, [{ a: 1, b: 2 }])
      })
    )

    it.effect("a throwing map dead-letters that record only", () =>
      Effect.gen(function* () {
        const t = Transform.identity<number>().pipe(
          Transform.map((n) => {
            if (n === 2) throw new TypeError("cannot handle this one")
            return n * 2
          })
        )
        const out = yield* run(t, [1, 2, 3])
        assert.deepStrictEqual(out.records, [2, 6])
        assert.strictEqual(out.rejected.length, 1)
        assert.strictEqual(out.rejected[0]!.record, 2)
        assert.strictEqual(out.rejected[0]!.reason, "map threw TypeError: cannot handle this one")
      })
    )

    it.effect("throwing RecordRejected gives its reason, prefixed by the step", () =>
      Effect.gen(function* () {
        const t = Transform.identity<number>().pipe(
          Transform.filter((n) => {
            if (n < 0) throw new Transform.RecordRejected({ reason: "negative amount" })
            return true
          })
        )
        const out = yield* run(t, [1, -1])
        assert.deepStrictEqual(out.records, [1])
        assert.deepStrictEqual(out.rejected, [{ record: -1, reason: "filter: negative amount" }])
      })
    )

    it.effect("the reason names the step that threw, not the last step that ran", () =>
      Effect.gen(function* () {
        const t = Transform.identity<number>().pipe(
          Transform.flatMap(function* (n) {
            yield n
            if (n === 2) throw new RangeError("generator broke")
          }),
          Transform.map((n) => n + 1)
        )
        const out = yield* run(t, [1, 2])
        assert.strictEqual(out.rejected.length, 1)
        assert.strictEqual(out.rejected[0]!.reason, "flatMap threw RangeError: generator broke")
      })
    )

    it.effect("a rejected record contributes no output, even when it failed half-way through a flatMap", () =>
      Effect.gen(function* () {
        const t = Transform.identity<number>().pipe(
          Transform.flatMap((n) => [n * 10, n * 10 + 1]),
          Transform.map((n) => {
            if (n === 21) throw new Error("second output of record 2 fails")
            return n
          })
        )
        const out = yield* run(t, [1, 2, 3])
        assert.deepStrictEqual(out.records, [10, 11, 30, 31])
        assert.deepStrictEqual(
          out.rejected.map((r) => r.record),
          [2]
        )
      })
    )
  })

  describe("validate", () => {
    const Row = Schema.Struct({
      id: Schema.Number,
      email: Schema.String,
      age: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
      address: Schema.Struct({ zip: Schema.String })
    })

    it.effect("decodes matching records", () =>
      Effect.gen(function* () {
        const t = Transform.identity<unknown>().pipe(
          Transform.validate(Schema.Struct({ id: Schema.NumberFromString, name: Schema.String }))
        )
        const out = yield* run(t, [{ id: "7", name: "a" }])
        assert.deepStrictEqual(out.records, [{ id: 7, name: "a" }])
      })
    )

    it.effect("rejects bad records with a reason naming the field but not the value", () =>
      Effect.gen(function* () {
        const good = { id: 1, email: "a@b.c", age: 3, address: { zip: "1000" } }
        const bad = {
          id: "SECRET-ID-4242",
          email: 987654321,
          age: -31337,
          address: { zip: 55501234 }
        }
        const t = Transform.identity<unknown>().pipe(Transform.validate(Row))
        const out = yield* run(t, [good, bad])
        assert.deepStrictEqual(out.records, [good])
        assert.strictEqual(out.rejected.length, 1)
        const { reason, record } = out.rejected[0]!
        assert.strictEqual(record, bad)
        assert.match(reason, /^validate: /)
        for (const field of ["id", "email", "age", "address.zip"]) assert.include(reason, field)
        for (const value of ["SECRET-ID-4242", "987654321", "31337", "55501234"]) assert.notInclude(reason, value)
      })
    )

    it.effect("a missing field is named", () =>
      Effect.gen(function* () {
        const t = Transform.identity<unknown>().pipe(Transform.validate(Row))
        const out = yield* run(t, [{ id: 1, email: "x", age: 1 }])
        assert.strictEqual(out.rejected.length, 1)
        assert.include(out.rejected[0]!.reason, "address")
      })
    )

    it.effect("a refused string value never appears in the reason (property)", () =>
      Effect.sync(() => {
        const compiled = compile(
          Transform.identity<unknown>().pipe(
            Transform.validate(
              Schema.Struct({
                code: Schema.String.check(Schema.isPattern(/^[A-Z]{3}$/)),
                n: Schema.Number
              })
            )
          ),
          noRetry
        )
        fc.assert(
          fc.property(
            fc.string({ minLength: 8 }).filter((s) => !/^[A-Z]{3}$/.test(s)),
            (s) => {
              const out = Effect.runSync(compiled.process([{ code: s, n: s }]))
              assert.strictEqual(out.rejected.length, 1)
              assert.notInclude(out.rejected[0]!.reason, s)
            }
          ),
          { numRuns: 200 }
        )
      })
    )
  })

  describe("mapEffect", () => {
    it.live("keeps record order with random delays, and runs up to `concurrency` at once", () =>
      Effect.gen(function* () {
        let inFlight = 0
        let maxInFlight = 0
        const t = Transform.identity<number>().pipe(
          Transform.mapEffect(
            (n) =>
              Effect.gen(function* () {
                inFlight++
                maxInFlight = Math.max(maxInFlight, inFlight)
                yield* Effect.sleep(1 + Math.floor(Math.random() * 8))
                inFlight--
                return n * 2
              }),
            { concurrency: 4 }
          )
        )
        const input = Array.from({ length: 24 }, (_, i) => i)
        const out = yield* run(t, input)
        assert.deepStrictEqual(
          out.records,
          input.map((n) => n * 2)
        )
        assert.strictEqual(maxInFlight, 4)
        assert.strictEqual(inFlight, 0)
      })
    )

    it.live("concurrency 1 (the default) runs one at a time", () =>
      Effect.gen(function* () {
        let inFlight = 0
        let maxInFlight = 0
        const t = Transform.identity<number>().pipe(
          Transform.mapEffect((n) =>
            Effect.gen(function* () {
              inFlight++
              maxInFlight = Math.max(maxInFlight, inFlight)
              yield* Effect.sleep(1)
              inFlight--
              return n
            })
          )
        )
        const out = yield* run(t, [1, 2, 3, 4])
        assert.deepStrictEqual(out.records, [1, 2, 3, 4])
        assert.strictEqual(maxInFlight, 1)
      })
    )

    it.effect("RecordRejected and InvalidRecord dead-letter the record; the rest go on", () =>
      Effect.gen(function* () {
        const t = Transform.identity<number>().pipe(
          Transform.mapEffect(
            (n): Effect.Effect<number, Transform.RecordRejected | ConnectorError.ConnectorError> =>
              n === 2
                ? Effect.fail(new Transform.RecordRejected({ reason: "no such customer" }))
                : n === 3
                  ? Effect.fail(
                      ConnectorError.make("api", "lookup", new ConnectorError.InvalidRecord({ detail: "bad id" }))
                    )
                  : Effect.succeed(n * 10)
          )
        )
        const out = yield* run(t, [1, 2, 3, 4])
        assert.deepStrictEqual(out.records, [10, 40])
        assert.deepStrictEqual(
          out.rejected.map((r) => r.record),
          [2, 3]
        )
        assert.strictEqual(out.rejected[0]!.reason, "mapEffect: no such customer")
        assert.include(out.rejected[1]!.reason, "mapEffect")
        assert.include(out.rejected[1]!.reason, "InvalidRecord")
      })
    )

    it.effect("a defect (or a function that throws) dead-letters the record", () =>
      Effect.gen(function* () {
        const t = Transform.identity<number>().pipe(
          Transform.mapEffect((n) => {
            if (n === 1) throw new Error("thrown while building the effect")
            return n === 2 ? Effect.die(new Error("died")) : Effect.succeed(n)
          })
        )
        const out = yield* run(t, [1, 2, 3])
        assert.deepStrictEqual(out.records, [3])
        assert.deepStrictEqual(
          out.rejected.map((r) => r.record),
          [1, 2]
        )
        assert.include(out.rejected[0]!.reason, "thrown while building the effect")
        assert.include(out.rejected[1]!.reason, "died")
      })
    )

    it.effect("a non-retryable typed error fails the process effect", () =>
      Effect.gen(function* () {
        const t = Transform.identity<number>().pipe(
          Transform.mapEffect((n) => (n === 2 ? Effect.fail(new Boom({ retryable: false })) : Effect.succeed(n)))
        )
        const error = yield* Effect.flip(run(t, [1, 2, 3]))
        assert.instanceOf(error, Boom)
      })
    )

    it.effect("each effect goes through the supplied retry, named by the step", () =>
      Effect.gen(function* () {
        const operations: Array<string> = []
        const attempts = new Map<number, number>()
        const retry: Retry = (effect, operation) => {
          operations.push(operation)
          return Effect.retry(effect, { times: 3, while: (e) => e instanceof Boom && e.retryable })
        }
        const t = Transform.identity<number>().pipe(
          Transform.mapEffect((n) =>
            Effect.suspend(() => {
              const a = (attempts.get(n) ?? 0) + 1
              attempts.set(n, a)
              return n === 2 && a < 3 ? Effect.fail(new Boom({ retryable: true })) : Effect.succeed(n * 100)
            })
          )
        )
        const out = yield* run(t, [1, 2], retry)
        assert.deepStrictEqual(out.records, [100, 200])
        assert.deepStrictEqual(out.rejected, [])
        assert.deepStrictEqual(operations, ["mapEffect", "mapEffect"])
        assert.strictEqual(attempts.get(2), 3)
        assert.strictEqual(attempts.get(1), 1)
      })
    )

    it.effect("a retryable error that outlasts the retry fails the process", () =>
      Effect.gen(function* () {
        let calls = 0
        const retry: Retry = (effect) => Effect.retry(effect, { times: 2 })
        const t = Transform.identity<number>().pipe(
          Transform.mapEffect(() =>
            Effect.suspend(() => {
              calls++
              return Effect.fail(new Boom({ retryable: true }))
            })
          )
        )
        const error = yield* Effect.flip(run(t, [1], retry))
        assert.instanceOf(error, Boom)
        assert.strictEqual(calls, 3)
      })
    )

    it("concurrency() reports the largest mapEffect concurrency", () => {
      assert.strictEqual(Transform.concurrency(Transform.identity()), 1)
      const t = Transform.identity<number>().pipe(
        Transform.mapEffect((n) => Effect.succeed(n), { concurrency: 3 }),
        Transform.mapEffect((n) => Effect.succeed(n), { concurrency: 8 }),
        Transform.mapEffect((n) => Effect.succeed(n), { concurrency: 0 })
      )
      assert.strictEqual(Transform.concurrency(t), 8)
      assert.deepStrictEqual(
        t.steps.map((s) => (s._tag === "Effect" ? s.concurrency : 0)),
        [3, 8, 1]
      )
    })
  })

  describe("dedupe", () => {
    it.effect("per batch: the first record with a key wins, and each batch starts fresh", () =>
      Effect.gen(function* () {
        const t = Transform.identity<{ id: number; v: string }>().pipe(Transform.dedupe("id"))
        const compiled = compile(t, noRetry)
        const first = yield* compiled.process([
          { id: 1, v: "a" },
          { id: 2, v: "b" },
          { id: 1, v: "c" }
        ])
        assert.deepStrictEqual(first.records, [
          { id: 1, v: "a" },
          { id: 2, v: "b" }
        ])
        assert.deepStrictEqual(first.rejected, [])
        const second = yield* compiled.process([{ id: 1, v: "d" }])
        assert.deepStrictEqual(second.records, [{ id: 1, v: "d" }])
      })
    )

    it.effect("with a window: state persists across batches of one compiled transform", () =>
      Effect.gen(function* () {
        const t = Transform.identity<{ id: number }>().pipe(Transform.dedupe("id", { window: 100 }))
        const compiled = compile(t, noRetry)
        assert.deepStrictEqual((yield* compiled.process([{ id: 1 }, { id: 2 }])).records, [{ id: 1 }, { id: 2 }])
        assert.deepStrictEqual((yield* compiled.process([{ id: 2 }, { id: 3 }, { id: 1 }])).records, [{ id: 3 }])
        // A second compile is a second run: fresh state.
        const other = compile(t, noRetry)
        assert.deepStrictEqual((yield* other.process([{ id: 1 }])).records, [{ id: 1 }])
      })
    )

    it.effect("the window is bounded: the oldest key is forgotten", () =>
      Effect.gen(function* () {
        const compiled = compile(Transform.identity<number>().pipe(Transform.dedupe((n) => n, { window: 2 })), noRetry)
        assert.deepStrictEqual((yield* compiled.process([1, 2, 3])).records, [1, 2, 3])
        // 1 fell out of the window of the last two keys (2, 3); 3 is still in it.
        assert.deepStrictEqual((yield* compiled.process([1, 3])).records, [1])
      })
    )

    it.effect("key functions compare by JSON form; bigint keys work", () =>
      Effect.gen(function* () {
        const t = Transform.identity<{ a: number; b: bigint }>().pipe(Transform.dedupe((r) => ({ a: r.a, b: r.b })))
        const out = yield* run(t, [
          { a: 1, b: 1n },
          { a: 1, b: 1n },
          { a: 1, b: 2n }
        ])
        assert.deepStrictEqual(out.records, [
          { a: 1, b: 1n },
          { a: 1, b: 2n }
        ])
      })
    )

    it.effect("a string key and a number key with the same digits are different keys", () =>
      Effect.gen(function* () {
        const t = Transform.identity<{ id: unknown }>().pipe(Transform.dedupe("id"))
        const out = yield* run(t, [{ id: 1 }, { id: "1" }, { id: true }, { id: "true" }, { id: 1 }])
        assert.deepStrictEqual(out.records, [{ id: 1 }, { id: "1" }, { id: true }, { id: "true" }])
      })
    )

    it.effect("per-batch dedupe after an effect step also resets per batch", () =>
      Effect.gen(function* () {
        const t = Transform.identity<number>().pipe(
          Transform.mapEffect((n) => Effect.succeed(n % 2)),
          Transform.dedupe((n) => n)
        )
        const compiled = compile(t, noRetry)
        assert.deepStrictEqual((yield* compiled.process([1, 2, 3, 4])).records, [1, 0])
        assert.deepStrictEqual((yield* compiled.process([5, 6])).records, [1, 0])
      })
    )
  })

  describe("composition", () => {
    it.effect("a fused chain of many synchronous steps", () =>
      Effect.gen(function* () {
        let t: Transform.Transform<number, number> = Transform.identity<number>()
        for (let i = 0; i < 200; i++) t = t.pipe(Transform.map((n) => n + 1))
        t = t.pipe(Transform.filter((n) => n % 2 === 0))
        const out = yield* run(t, [0, 1, 2, 3])
        assert.deepStrictEqual(out.records, [200, 202])
        assert.strictEqual(t.steps.length, 201)
      })
    )

    it.effect("sync and effect segments interleave; rejections from every segment are collected", () =>
      Effect.gen(function* () {
        const t = Transform.identity<number>().pipe(
          Transform.map((n) => {
            if (n === 1) throw new Error("first segment")
            return n
          }),
          Transform.mapEffect((n) =>
            n === 2 ? Effect.fail(new Transform.RecordRejected({ reason: "second segment" })) : Effect.succeed(n * 10)
          ),
          Transform.flatMap((n) => [n, n + 1]),
          Transform.map((n) => {
            if (n === 31) throw new Transform.RecordRejected({ reason: "third segment" })
            return n
          }),
          Transform.mapEffect((n) => Effect.succeed(`#${n}`), { concurrency: 2 })
        )
        const out = yield* run(t, [0, 1, 2, 3, 4])
        assert.deepStrictEqual(out.records, ["#0", "#1", "#40", "#41"])
        assert.deepStrictEqual(
          out.rejected.map((r) => r.reason),
          ["map threw Error: first segment", "mapEffect: second segment", "map: third segment"]
        )
        assert.deepStrictEqual(
          out.rejected.map((r) => r.record),
          [1, 2, 30]
        )
      })
    )

    it.effect("the data-first form equals the pipe form", () =>
      Effect.gen(function* () {
        type R = { id: number; name: string; tmp: boolean }
        const piped = Transform.identity<R>().pipe(
          Transform.filter((r) => r.id > 0),
          Transform.map((r) => ({ ...r, name: r.name.toUpperCase() })),
          Transform.flatMap((r) => [r, r]),
          Transform.dedupe("id"),
          Transform.rename({ name: "full_name" }),
          Transform.drop(["tmp"]),
          Transform.mapEffect((r) => Effect.succeed({ ...r, ok: true }))
        )
        const f0 = Transform.filter(Transform.identity<R>(), (r) => r.id > 0)
        const f1 = Transform.map(f0, (r) => ({ ...r, name: r.name.toUpperCase() }))
        const f2 = Transform.flatMap(f1, (r) => [r, r])
        const f3 = Transform.dedupe(f2, "id")
        const f4 = Transform.rename(f3, { name: "full_name" })
        const f5 = Transform.drop(f4, ["tmp"])
        const dataFirst = Transform.mapEffect(f5, (r) => Effect.succeed({ ...r, ok: true }))
        assert.deepStrictEqual(
          dataFirst.steps.map((s) => s.name),
          piped.steps.map((s) => s.name)
        )
        const input: Array<R> = [
          { id: 0, name: "zero", tmp: true },
          { id: 1, name: "one", tmp: true },
          { id: 2, name: "two", tmp: false }
        ]
        const expected = [
          { id: 1, full_name: "ONE", ok: true },
          { id: 2, full_name: "TWO", ok: true }
        ]
        assert.deepStrictEqual((yield* run(piped, input)).records, expected)
        assert.deepStrictEqual((yield* run(dataFirst, input)).records, expected)
      })
    )

    it.effect("data-first validate and mapEffect with options", () =>
      Effect.gen(function* () {
        const v = Transform.validate(Transform.identity<unknown>(), Schema.Struct({ n: Schema.Number }))
        const m = Transform.mapEffect(v, (r) => Effect.succeed(r.n + 1), { concurrency: 5 })
        assert.strictEqual(Transform.concurrency(m), 5)
        const out = yield* run(m, [{ n: 1 }, { n: "x" }])
        assert.deepStrictEqual(out.records, [2])
        assert.strictEqual(out.rejected.length, 1)
      })
    )

    it("a transform is immutable: piping does not change the original", () => {
      const base = Transform.identity<number>().pipe(Transform.map((n) => n + 1))
      const longer = base.pipe(Transform.filter((n) => n > 0))
      assert.strictEqual(base.steps.length, 1)
      assert.strictEqual(longer.steps.length, 2)
      assert.isTrue(Transform.isTransform(base))
      assert.isFalse(Transform.isTransform({ steps: [] }))
      assert.isFalse(Transform.isTransform(null))
    })

    it("isRecordRejection", () => {
      assert.isTrue(Transform.isRecordRejection(new Transform.RecordRejected({ reason: "x" })))
      assert.isTrue(Transform.isRecordRejection(ConnectorError.make("a", "b", new ConnectorError.InvalidRecord({}))))
      assert.isFalse(Transform.isRecordRejection(ConnectorError.make("a", "b", new ConnectorError.Timeout({}))))
      assert.isFalse(Transform.isRecordRejection(new Error("x")))
      const rejected = new Transform.RecordRejected({ reason: "why" })
      assert.strictEqual(rejected.message, "why")
      assert.isFalse(rejected.retryable)
    })
  })
})
