import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import { ConfigError } from "../../src/Config.ts"
import { isInvalidRecord } from "../../src/connectors/internal/invalid.ts"
import * as Jsonl from "../../src/connectors/jsonl/Jsonl.ts"
import * as Timestamp from "../../src/Timestamp.ts"
import { listDir, openContext, readAll, readContext, recordsOf, tempDir, writeAll, writeContext } from "./utils.ts"

const file = (name: string, content: string): string => {
  const target = path.join(tempDir(), name)
  fs.writeFileSync(target, content)
  return target
}

describe("Jsonl.source", () => {
  it.effect("reads one object per line, skipping blank lines, with CRLF, a BOM and no final newline", () =>
    Effect.gen(function* () {
      const target = file("events.jsonl", '\uFEFF{"id":1}\r\n\r\n  \n{"id":2,"tags":["a"]}\n{"id":3,"s":"é ✓"}')
      const batches = yield* readAll(Jsonl.source({ path: target }))
      assert.strictEqual(batches[0]?.stream, "events")
      assert.deepStrictEqual(recordsOf(batches), [{ id: 1 }, { id: 2, tags: ["a"] }, { id: 3, s: "é ✓" }])
      assert.deepStrictEqual(batches.at(-1)?.checkpoint, { bytes: fs.statSync(target).size, records: 3 })
    })
  )

  it.effect(
    "resuming from any checkpoint, including mid-file in a large file, skips exactly the delivered records",
    () =>
      Effect.gen(function* () {
        const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ id: i, text: "ü".repeat(i % 37) }))
        const target = file("big.jsonl", `${lines.join("\n")}\n`)
        const source = Jsonl.source({ path: target, batchSize: 1500 })
        const batches = yield* readAll(source)
        const all = recordsOf(batches)
        assert.strictEqual(all.length, 20_000)
        assert.deepStrictEqual(all[12_345], { id: 12_345, text: "ü".repeat(12_345 % 37) })
        for (const batch of batches.slice(0, -1)) {
          const rest = recordsOf(yield* readAll(source, batch.checkpoint))
          assert.strictEqual(rest.length, 20_000 - batch.checkpoint!.records)
          assert.deepStrictEqual(rest[0], all[batch.checkpoint!.records])
        }
      })
  )

  it.effect("a malformed line becomes an invalid record in place: not a failure, not dropped", () =>
    Effect.gen(function* () {
      const target = file("bad.jsonl", '{"id":1}\n{"id": oops\n[1,2]\n"text"\n{"id":5}\n')
      const source = Jsonl.source({ path: target, batchSize: 2 })
      const batches = yield* readAll(source)
      const all = recordsOf(batches)
      assert.strictEqual(all.length, 5)
      assert.deepStrictEqual(all[0], { id: 1 })
      assert.deepStrictEqual(all[4], { id: 5 })
      const bad = all.slice(1, 4)
      assert.isTrue(bad.every(isInvalidRecord))
      const [notJson, array] = bad
      if (isInvalidRecord(notJson) && isInvalidRecord(array)) {
        assert.strictEqual(notJson.raw, '{"id": oops')
        assert.strictEqual(notJson.reason, "record 2 at byte 9 is not valid JSON")
        assert.notInclude(notJson.reason, "oops")
        assert.include(array.reason, "not a JSON object")
      }
      const rest = recordsOf(yield* readAll(source, batches[1]!.checkpoint))
      assert.deepStrictEqual(rest, [all[4]])
    })
  )

  it.effect("a missing file fails with ConnectorError NotFound", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(readAll(Jsonl.source({ path: path.join(tempDir(), "missing.jsonl") })))
      assert.strictEqual(error.reason._tag, "NotFound")
    })
  )

  it.effect("stops early: taking one batch of a large file reads only its start", () =>
    Effect.gen(function* () {
      const target = file("many.jsonl", `${Array.from({ length: 50_000 }, (_, i) => `{"id":${i}}`).join("\n")}\n`)
      const first = yield* Stream.runCollect(
        Jsonl.source({ path: target, batchSize: 10 }).read(undefined, readContext()).pipe(Stream.take(1))
      )
      assert.deepStrictEqual(first[0]?.checkpoint, { bytes: 90, records: 10 })
    })
  )

  it("a bad option fails fast with a ConfigError naming the field", () => {
    for (const [options, field] of [
      [{ path: "x.jsonl", batchSize: 1.5 }, "batchSize"],
      [{ path: "x.jsonl", encoding: "utf8" }, "encoding"],
      [{ path: 42 }, "path"]
    ] as const) {
      try {
        Jsonl.source(options as never)
        assert.fail("expected a ConfigError")
      } catch (error) {
        assert.instanceOf(error, ConfigError)
        assert.strictEqual((error as ConfigError).path, field)
      }
    }
  })
})

describe("Jsonl.sink", () => {
  it.effect("appends across runs and reads back, values kept exact", () =>
    Effect.gen(function* () {
      const target = path.join(tempDir(), "out.jsonl")
      const sink = Jsonl.sink({ path: target })
      const ts = Timestamp.fromISOString("2026-01-02T03:04:05.123456Z")
      yield* writeAll(sink, [[{ id: 1, big: 2n ** 70n, ts }], [{ id: 2, bytes: Buffer.from([0, 1, 254]) }]])
      yield* writeAll(sink, [[{ id: 3, nested: { at: ts, n: 1n } }]], openContext({ runId: "run-2" }))
      assert.strictEqual(
        fs.readFileSync(target, "utf8"),
        [
          '{"id":1,"big":"1180591620717411303424","ts":"2026-01-02T03:04:05.123456Z"}',
          '{"id":2,"bytes":"AAH+"}',
          '{"id":3,"nested":{"at":"2026-01-02T03:04:05.123456Z","n":"1"}}',
          ""
        ].join("\n")
      )
      const back = recordsOf(yield* readAll(Jsonl.source({ path: target })))
      assert.strictEqual(back.length, 3)
      assert.strictEqual(BigInt((back[0] as { big: string }).big), 2n ** 70n)
    })
  )

  it.effect("appending to a file without a final newline starts a new line; unserialisable records are rejected", () =>
    Effect.gen(function* () {
      const target = file("partial.jsonl", '{"id":0}')
      const cyclic: Record<string, unknown> = { id: 9 }
      cyclic.self = cyclic
      const [result] = yield* writeAll(Jsonl.sink({ path: target }), [[{ id: 1 }, cyclic, { id: 2 }]])
      assert.deepStrictEqual(result, {
        written: 2,
        rejected: [{ index: 1, reason: "the record cannot be serialised as JSON" }]
      })
      assert.strictEqual(fs.readFileSync(target, "utf8"), '{"id":0}\n{"id":1}\n{"id":2}\n')
    })
  )

  it.effect(
    "replace is atomic: untouched until finish; a failed run leaves no temp file and the target unchanged",
    () =>
      Effect.gen(function* () {
        const dir = tempDir()
        const target = path.join(dir, "snap.jsonl")
        fs.writeFileSync(target, '{"old":true}\n')
        const sink = Jsonl.sink({ path: target, disposition: "replace" })
        const failed = yield* Effect.exit(
          Effect.scoped(
            Effect.gen(function* () {
              const writer = yield* sink.open(openContext())
              yield* writer.write({ stream: "default", records: [{ id: 1 }] }, writeContext(0))
              assert.strictEqual(listDir(dir).length, 2)
              return yield* Effect.fail("boom")
            })
          )
        )
        assert.isTrue(Exit.isFailure(failed))
        assert.deepStrictEqual(listDir(dir), ["snap.jsonl"])
        assert.strictEqual(fs.readFileSync(target, "utf8"), '{"old":true}\n')
        yield* Effect.scoped(
          Effect.gen(function* () {
            const writer = yield* sink.open(openContext({ runId: "run-2" }))
            yield* writer.write({ stream: "default", records: [{ id: 1 }] }, writeContext(0))
            assert.strictEqual(fs.readFileSync(target, "utf8"), '{"old":true}\n')
            yield* writer.finish!
          })
        )
        assert.strictEqual(fs.readFileSync(target, "utf8"), '{"id":1}\n')
        assert.deepStrictEqual(listDir(dir), ["snap.jsonl"])
      })
  )
})
