import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { ConfigError } from "../../src/Config.ts"
import * as Csv from "../../src/connectors/csv/Csv.ts"
import { isInvalidRecord } from "../../src/connectors/internal/invalid.ts"
import * as Jsonl from "../../src/connectors/jsonl/Jsonl.ts"
import * as DeadLetter from "../../src/DeadLetter.ts"
import * as Pipeline from "../../src/Pipeline.ts"
import * as Runner from "../../src/Runner.ts"
import * as Timestamp from "../../src/Timestamp.ts"
import { memoryRunner } from "../utils.ts"
import { listDir, openContext, readAll, recordsOf, tempDir, writeAll, writeContext } from "./utils.ts"

const configErrorPath = (f: () => unknown): string => {
  try {
    f()
  } catch (error) {
    assert.instanceOf(error, ConfigError)
    return (error as ConfigError).path
  }
  return assert.fail("expected a ConfigError")
}

const file = (name: string, content: string | Buffer): string => {
  const target = path.join(tempDir(), name)
  fs.writeFileSync(target, content)
  return target
}

/** Every record (valid or not) in order, as JSON, for exact comparisons. */
const show = (records: ReadonlyArray<unknown>) =>
  records.map((r) => (isInvalidRecord(r) ? { invalid: r.reason, raw: r.raw } : r))

describe("Csv.source", () => {
  it.effect("reads every record as an object of strings, keyed by the header", () =>
    Effect.gen(function* () {
      const target = file("orders.csv", "id,name,amount\n1,Ada,10.50\n2,Alan,3\n")
      const batches = yield* readAll(Csv.source({ path: target }))
      assert.strictEqual(batches.length, 1)
      assert.strictEqual(batches[0]?.stream, "orders")
      assert.deepStrictEqual(recordsOf(batches), [
        { id: "1", name: "Ada", amount: "10.50" },
        { id: "2", name: "Alan", amount: "3" }
      ])
      assert.deepStrictEqual(batches[0]?.checkpoint, { bytes: fs.statSync(target).size, records: 2 })
    })
  )

  it.effect("resumes after exactly the delivered records, with quoted multi-line fields, CRLF and a BOM", () =>
    Effect.gen(function* () {
      const content =
        '\uFEFFid,note\r\n1,"multi\r\nline, with comma"\r\n2,plain\r\n\r\n3,"say ""hi"""\r\n4,"a\nb\nc"\r\n5,last'
      const target = file("notes.csv", content)
      const source = Csv.source({ path: target, batchSize: 1 })
      const batches = yield* readAll(source)
      const all = recordsOf(batches)
      assert.deepStrictEqual(all, [
        { id: "1", note: "multi\r\nline, with comma" },
        { id: "2", note: "plain" },
        { id: "3", note: 'say "hi"' },
        { id: "4", note: "a\nb\nc" },
        { id: "5", note: "last" }
      ])
      for (const [i, batch] of batches.entries()) {
        assert.strictEqual(batch.checkpoint?.records, i + 1)
        const rest = recordsOf(yield* readAll(source, batch.checkpoint))
        assert.deepStrictEqual(rest, all.slice(i + 1))
      }
    })
  )

  it.effect("a checkpoint mid-file in a large file resumes exactly (fields straddling read chunks)", () =>
    Effect.gen(function* () {
      const rows = Array.from({ length: 6000 }, (_, i) => `${i},"line ${i}\nsecond, line ""${"x".repeat(i % 50)}"""`)
      const target = file("big.csv", `id,text\n${rows.join("\n")}\n`)
      assert.isAbove(fs.statSync(target).size, 4 * 64 * 1024)
      const source = Csv.source({ path: target, batchSize: 700 })
      const batches = yield* readAll(source)
      const all = recordsOf(batches) as Array<Csv.Row>
      assert.strictEqual(all.length, 6000)
      assert.deepStrictEqual(
        all.map((r) => Number(r.id)),
        Array.from({ length: 6000 }, (_, i) => i)
      )
      assert.strictEqual(all[4321]?.text, `line 4321\nsecond, line "${"x".repeat(4321 % 50)}"`)
      for (const batch of [batches[1]!, batches[4]!, batches[7]!]) {
        const rest = recordsOf(yield* readAll(source, batch.checkpoint)) as Array<Csv.Row>
        assert.strictEqual(rest.length, 6000 - batch.checkpoint!.records)
        assert.deepStrictEqual(rest[0], all[batch.checkpoint!.records])
      }
    })
  )

  it.effect("a malformed row becomes an invalid record in place: not a failure, not dropped", () =>
    Effect.gen(function* () {
      const target = file("bad.csv", "id,name\n1,Ada\n2\n3,Grace,extra\n4,Hedy\n")
      const source = Csv.source({ path: target, batchSize: 2 })
      const batches = yield* readAll(source)
      const all = recordsOf(batches)
      assert.strictEqual(all.length, 4)
      assert.deepStrictEqual(all[0], { id: "1", name: "Ada" })
      assert.isTrue(isInvalidRecord(all[1]))
      assert.isTrue(isInvalidRecord(all[2]))
      assert.deepStrictEqual(all[3], { id: "4", name: "Hedy" })
      if (isInvalidRecord(all[1]) && isInvalidRecord(all[2])) {
        assert.strictEqual(all[1].raw, "2")
        assert.strictEqual(all[2].raw, "3,Grace,extra")
        assert.include(all[1].reason, "record 2")
        assert.include(all[2].reason, "3 fields, expected 2")
        assert.notInclude(all[2].reason, "Grace") // reasons never quote values
      }
      // resuming after the first batch (which ends on the invalid record) skips it
      const rest = recordsOf(yield* readAll(source, batches[0]!.checkpoint))
      assert.deepStrictEqual(show(rest), show(all.slice(2)))
    })
  )

  it.effect(
    "stray quotes are kept as text by default, flagged with relaxQuotes: false; an unclosed quote keeps all its text",
    () =>
      Effect.gen(function* () {
        const target = file("quotes.csv", 'id,size\n1,5" screen\n2,"ok"\n3,"never closed\n4,x\n')
        const relaxed = recordsOf(yield* readAll(Csv.source({ path: target })))
        assert.deepStrictEqual(relaxed.slice(0, 2), [
          { id: "1", size: '5" screen' },
          { id: "2", size: "ok" }
        ])
        const unclosed = relaxed[2]
        assert.isTrue(isInvalidRecord(unclosed))
        if (isInvalidRecord(unclosed)) assert.strictEqual(unclosed.raw, '3,"never closed\n4,x')
        const strict = recordsOf(yield* readAll(Csv.source({ path: target, relaxQuotes: false })))
        assert.isTrue(isInvalidRecord(strict[0]))
        assert.deepStrictEqual(strict[1], { id: "2", size: "ok" })
      })
  )

  it.effect("header: false takes the columns option; columns replace a header row", () =>
    Effect.gen(function* () {
      const target = file("plain.csv", "1;Ada\n2;Alan\n")
      const records = recordsOf(
        yield* readAll(Csv.source({ path: target, header: false, columns: ["id", "name"], delimiter: ";" }))
      )
      assert.deepStrictEqual(records, [
        { id: "1", name: "Ada" },
        { id: "2", name: "Alan" }
      ])
      const withHeader = file("h.csv", "a,b\n1,2\n")
      const renamed = recordsOf(yield* readAll(Csv.source({ path: withHeader, columns: ["x", "y"] })))
      assert.deepStrictEqual(renamed, [{ x: "1", y: "2" }])
    })
  )

  it.effect("cast: auto converts numbers, booleans and empty cells, keeping ambiguous text", () =>
    Effect.gen(function* () {
      const target = file("typed.csv", "a,b,c,d,e,f,g\n42,-1.5,true,,007,12345678901234567890,1e3\n")
      const [row] = recordsOf(yield* readAll(Csv.source({ path: target, cast: "auto" })))
      assert.deepStrictEqual(row, { a: 42, b: -1.5, c: true, d: null, e: "007", f: 12345678901234567890n, g: 1000 })
    })
  )

  it.effect("a missing file fails with ConnectorError NotFound", () =>
    Effect.gen(function* () {
      const source = Csv.source({ path: path.join(tempDir(), "missing.csv") })
      const error = yield* Effect.flip(readAll(source))
      assert.strictEqual(error._tag, "ConnectorError")
      assert.strictEqual(error.reason._tag, "NotFound")
      assert.isFalse(error.retryable)
      assert.strictEqual((yield* Effect.flip(source.check!())).reason._tag, "NotFound")
    })
  )

  it.effect("a checkpoint past the end of the file (truncated or replaced) fails instead of reading nothing", () =>
    Effect.gen(function* () {
      const target = file("short.csv", "id\n1\n")
      const error = yield* Effect.flip(readAll(Csv.source({ path: target }), { bytes: 1000, records: 50 }))
      assert.include(error.message, "past the end")
    })
  )

  it.effect("discover and estimate read only the header and the file size", () =>
    Effect.gen(function* () {
      const target = file("d.csv", "id,name\n1,Ada\n")
      const source = Csv.source({ path: target })
      const [info] = yield* source.discover!()
      assert.deepStrictEqual(info, {
        name: "d",
        jsonSchema: { type: "object", properties: { id: { type: "string" }, name: { type: "string" } } }
      })
      assert.deepStrictEqual(yield* source.estimate!({ bytes: 8, records: 0 }), { bytes: 6 })
    })
  )

  it("a bad option fails fast with a ConfigError naming the field", () => {
    assert.strictEqual(
      configErrorPath(() => Csv.source({ path: "x.csv", header: false })),
      "columns"
    )
    assert.strictEqual(
      configErrorPath(() => Csv.source({ path: "x.csv", batchSize: -3 })),
      "batchSize"
    )
    assert.strictEqual(
      configErrorPath(() => Csv.source({ path: "x.csv", delimeter: ";" } as never)),
      "delimeter"
    )
    assert.strictEqual(
      configErrorPath(() => Csv.sink({ path: "x.csv", disposition: "merge" as never })),
      "disposition"
    )
    assert.strictEqual(
      configErrorPath(() => Csv.source({ path: "" })),
      "path"
    )
  })
})

describe("Csv.sink", () => {
  it.effect("appends across runs, writing the header once, and reads back", () =>
    Effect.gen(function* () {
      const target = path.join(tempDir(), "out.csv")
      const sink = Csv.sink({ path: target })
      assert.deepStrictEqual(sink.capabilities, { transactional: false, idempotent: false, maxConcurrentWrites: 1 })
      yield* writeAll(sink, [[{ id: 1, name: "Ada" }], [{ id: 2, name: "Alan, Turing" }]])
      yield* writeAll(sink, [[{ id: 3, name: 'say "hi"\nbye' }]], openContext({ runId: "run-2" }))
      assert.strictEqual(fs.readFileSync(target, "utf8"), 'id,name\n1,Ada\n2,"Alan, Turing"\n3,"say ""hi""\nbye"\n')
      assert.deepStrictEqual(recordsOf(yield* readAll(Csv.source({ path: target }))), [
        { id: "1", name: "Ada" },
        { id: "2", name: "Alan, Turing" },
        { id: "3", name: 'say "hi"\nbye' }
      ])
    })
  )

  it.effect("appending follows an existing header's column order and completes a last line without newline", () =>
    Effect.gen(function* () {
      const target = file("existing.csv", "name,id\nAda,1")
      yield* writeAll(Csv.sink({ path: target }), [[{ id: 2, name: "Alan" }]])
      assert.strictEqual(fs.readFileSync(target, "utf8"), "name,id\nAda,1\nAlan,2\n")
      const mismatch = yield* Effect.flip(writeAll(Csv.sink({ path: target, columns: ["id", "name"] }), [[{ id: 3 }]]))
      assert.include(mismatch.message, "does not match the header")
    })
  )

  it.effect("writes values losslessly: bigint and Timestamp as exact strings, binary as base64", () =>
    Effect.gen(function* () {
      const target = path.join(tempDir(), "values.csv")
      const ts = Timestamp.fromISOString("2026-01-02T03:04:05.123456Z")
      const wall = Timestamp.fromISOString("2026-01-02 03:04:05.000001")
      yield* writeAll(Csv.sink({ path: target }), [
        [
          {
            big: 12345678901234567890n,
            ts,
            wall,
            bytes: new Uint8Array([1, 2, 255]),
            date: new Date("2026-01-02T00:00:00Z"),
            obj: { a: 1n, b: [true] },
            none: null,
            flag: false
          }
        ]
      ])
      const [row] = recordsOf(yield* readAll(Csv.source({ path: target }))) as Array<Csv.Row>
      assert.deepStrictEqual(row, {
        big: "12345678901234567890",
        ts: "2026-01-02T03:04:05.123456Z",
        wall: "2026-01-02T03:04:05.000001",
        bytes: "AQL/",
        date: "2026-01-02T00:00:00.000Z",
        obj: '{"a":"1","b":[true]}',
        none: "",
        flag: "false"
      })
      assert.strictEqual(Timestamp.fromISOString(row!.ts!).micros, ts.micros)
    })
  )

  it.effect("a record with a field that is not a column is rejected, never written without it", () =>
    Effect.gen(function* () {
      const target = path.join(tempDir(), "strict.csv")
      const [result] = yield* writeAll(Csv.sink({ path: target, columns: ["id"] }), [
        [{ id: 1 }, { id: 2, secret: "value" }, { id: new Date(Number.NaN) }]
      ])
      assert.strictEqual(result?.written, 1)
      assert.deepStrictEqual(
        result?.rejected?.map((r) => r.index),
        [1, 2]
      )
      assert.notInclude(result?.rejected?.[0]?.reason ?? "", "value")
      assert.strictEqual(fs.readFileSync(target, "utf8"), "id\n1\n")
    })
  )

  it.effect("replace is atomic: the target is untouched until finish", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const target = path.join(dir, "snap.csv")
      fs.writeFileSync(target, "id\nold\n")
      const sink = Csv.sink({ path: target, disposition: "replace" })
      assert.strictEqual(sink.disposition.type, "replace")
      yield* Effect.scoped(
        Effect.gen(function* () {
          const writer = yield* sink.open(openContext())
          yield* writer.write({ stream: "default", records: [{ id: 1 }, { id: 2 }] }, writeContext(0))
          assert.strictEqual(fs.readFileSync(target, "utf8"), "id\nold\n")
          assert.strictEqual(listDir(dir).length, 2) // the target and one staging file
          yield* writer.finish!
        })
      )
      assert.strictEqual(fs.readFileSync(target, "utf8"), "id\n1\n2\n")
      assert.deepStrictEqual(listDir(dir), ["snap.csv"])
    })
  )

  it.effect("replace: if the run fails, the temp file is removed and the target is unchanged", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const target = path.join(dir, "snap.csv")
      fs.writeFileSync(target, "id\nold\n")
      const exit = yield* Effect.exit(
        Effect.scoped(
          Effect.gen(function* () {
            const writer = yield* Csv.sink({ path: target, disposition: "replace" }).open(openContext())
            yield* writer.write({ stream: "default", records: [{ id: 1 }] }, writeContext(0))
            return yield* Effect.fail("boom")
          })
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(listDir(dir), ["snap.csv"])
      assert.strictEqual(fs.readFileSync(target, "utf8"), "id\nold\n")
    })
  )

  it.effect("replace with no records publishes a header-only file when the columns are known", () =>
    Effect.gen(function* () {
      const target = path.join(tempDir(), "empty.csv")
      yield* writeAll(Csv.sink({ path: target, disposition: "replace", columns: ["id", "name"] }), [])
      assert.strictEqual(fs.readFileSync(target, "utf8"), "id,name\n")
    })
  )

  it.effect("a missing directory fails with ConnectorError NotFound", () =>
    Effect.gen(function* () {
      const target = path.join(tempDir(), "nope", "out.csv")
      const error = yield* Effect.flip(writeAll(Csv.sink({ path: target }), [[{ id: 1 }]]))
      assert.strictEqual(error._tag, "ConnectorError")
      if (error._tag === "ConnectorError") assert.strictEqual(error.reason._tag, "NotFound")
    })
  )
})

describe("Csv with the runner", () => {
  it.live("a bad row is dead-lettered; re-runs read only rows appended since, exactly once", () =>
    Effect.gen(function* () {
      const dir = tempDir()
      const input = path.join(dir, "in.csv")
      const output = path.join(dir, "out.jsonl")
      fs.writeFileSync(input, "id,name\n1,Ada\n2\n3,Grace\n")
      const pipeline = Pipeline.make({
        name: "csv-to-jsonl",
        version: "1.0.0",
        description: "copies a CSV file to JSON Lines",
        source: Csv.source({ path: input }),
        sink: Jsonl.sink({ path: output }),
        options: { batch: { rows: 2, maxWaitMs: 20 } }
      })
      const first = yield* Runner.run(pipeline, {})
      assert.strictEqual(first.deadLetters, 1)
      const { letters } = yield* DeadLetter.DeadLetterStore.use((s) => s.list({}))
      assert.strictEqual(letters[0]?.stage, "source")
      assert.deepStrictEqual(DeadLetter.decodeRecord(letters[0]!.record), { raw: "2" })
      fs.appendFileSync(input, "4,Hedy\n")
      yield* Runner.run(pipeline, {})
      yield* Runner.run(pipeline, {})
      assert.deepStrictEqual(
        fs
          .readFileSync(output, "utf8")
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line).id),
        ["1", "3", "4"]
      )
    }).pipe(Effect.provide(memoryRunner()))
  )
})
