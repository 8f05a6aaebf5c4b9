// The shared connector conformance suite, run by the built-in file and generator connectors. (The memory
// connector runs it in test/Conformance.memory.test.ts.) Replace sinks (Parquet; CSV and JSONL in replace mode)
// run the sink half too: the runner makes every replace run a full refresh.
import * as fs from "node:fs"
import * as path from "node:path"
import { stringify } from "csv-stringify/sync"
import { Effect, Stream } from "effect"
import * as Csv from "../../src/connectors/csv/Csv.ts"
import * as Generator from "../../src/connectors/generator/Generator.ts"
import { isInvalidRecord } from "../../src/connectors/internal/invalid.ts"
import * as Jsonl from "../../src/connectors/jsonl/Jsonl.ts"
import * as Parquet from "../../src/connectors/parquet/Parquet.ts"
import type * as Source from "../../src/Source.ts"
import * as Timestamp from "../../src/Timestamp.ts"
import * as ConnectorConformance from "../../src/testing/ConnectorConformance.ts"
import { readContext, tempDir, writeAll } from "./utils.ts"

type TextRow = { readonly id: string; readonly name: string }
const textRows = (n: number): ReadonlyArray<TextRow> =>
  Array.from({ length: n }, (_, i) => ({ id: `r${i}`, name: i % 4 === 0 ? `multi\nline, "quoted" ${i}` : `name ${i}` }))

type TypedRow = { readonly id: string; readonly name: string; readonly big: bigint; readonly at: Timestamp.Timestamp }
const typedRows = (n: number): ReadonlyArray<TypedRow> =>
  Array.from({ length: n }, (_, i) => ({
    id: `r${i}`,
    name: `name, "${i}"\n`,
    big: BigInt(i) * 10n ** 18n + 7n,
    at: Timestamp.fromEpochMicros(1_767_323_045_123_456n + BigInt(i))
  }))
const typedAsText = (r: TypedRow) => ({ id: r.id, name: r.name, big: r.big.toString(), at: r.at.toISOString() })

const idOf = (r: unknown) => (r as { readonly id: string }).id

/** Reads a whole file source back, dropping nothing (an invalid record would fail the id comparison). */
const readBack = <A, C>(source: Source.Source<A, C>) =>
  Effect.map(Stream.runCollect(source.read(undefined, readContext())), (batches) =>
    batches.flatMap((b) => b.records.map((r) => (isInvalidRecord(r) ? { id: `invalid: ${r.reason}` } : r)))
  )

ConnectorConformance.suite<TextRow, TypedRow>("csv", {
  source: {
    records: textRows,
    make: (records) =>
      Effect.sync(() => {
        const target = path.join(tempDir(), "in.csv")
        fs.writeFileSync(
          target,
          stringify(
            records.map((r) => [r.id, r.name]),
            { header: true, columns: ["id", "name"] }
          )
        )
        return Csv.source({ path: target, batchSize: 7 }) as Source.Source<TextRow, Csv.CsvCheckpoint>
      }),
    id: (r) => r.id
  },
  sink: {
    records: typedRows,
    make: () =>
      Effect.sync(() => {
        const target = path.join(tempDir(), "out.csv")
        return {
          sink: Csv.sink({ path: target, columns: ["id", "name", "big", "at"] }),
          readBack: Effect.suspend(() =>
            fs.existsSync(target) ? readBack(Csv.source({ path: target })) : Effect.succeed([])
          )
        }
      }),
    id: idOf,
    expected: typedAsText,
    badRecord: { ...typedRows(1)[0]!, id: "bad", extra: "not a column" } as TypedRow
  }
})

ConnectorConformance.suite<TextRow, TypedRow>("jsonl", {
  source: {
    records: textRows,
    make: (records) =>
      Effect.sync(() => {
        const target = path.join(tempDir(), "in.jsonl")
        fs.writeFileSync(target, records.map((r) => `${JSON.stringify(r)}\n`).join(""))
        return Jsonl.source({ path: target, batchSize: 7 }) as unknown as Source.Source<TextRow, Jsonl.JsonlCheckpoint>
      }),
    id: (r) => r.id
  },
  sink: {
    records: typedRows,
    make: () =>
      Effect.sync(() => {
        const target = path.join(tempDir(), "out.jsonl")
        return {
          sink: Jsonl.sink({ path: target }),
          readBack: Effect.suspend(() =>
            fs.existsSync(target) ? readBack(Jsonl.source({ path: target })) : Effect.succeed([])
          )
        }
      }),
    id: idOf,
    expected: typedAsText
  }
})

type ParquetRow = { readonly id: string; readonly n: bigint; readonly at: Timestamp.Timestamp }

ConnectorConformance.suite<ParquetRow, ParquetRow>("parquet", {
  source: {
    records: (n) =>
      Array.from({ length: n }, (_, i) => ({
        id: `r${i}`,
        n: BigInt(i) - 2n ** 40n,
        at: Timestamp.fromEpochMicros(1_767_323_045_000_001n * BigInt(i % 3))
      })),
    make: (records) =>
      Effect.gen(function* () {
        const target = path.join(tempDir(), "in.parquet")
        yield* writeAll(Parquet.sink({ path: target, rowGroupSize: 20 }), [records])
        return Parquet.source({ path: target, batchSize: 7 }) as unknown as Source.Source<ParquetRow, number>
      }),
    id: (r) => r.id
  },
  sink: {
    records: (n) =>
      Array.from({ length: n }, (_, i) => ({
        id: `r${i}`,
        n: BigInt(i) - 2n ** 40n,
        at: Timestamp.fromEpochMicros(1_767_323_045_000_001n + BigInt(i))
      })),
    make: () =>
      Effect.sync(() => {
        const target = path.join(tempDir(), "out.parquet")
        return {
          sink: Parquet.sink({ path: target, rowGroupSize: 16 }),
          readBack: Effect.suspend(() =>
            fs.existsSync(target) ? readBack(Parquet.source({ path: target })) : Effect.succeed([])
          )
        }
      }),
    id: idOf
  }
})

for (const [kind, extension, make] of [
  [
    "csv-replace",
    "csv",
    (target: string) => Csv.sink({ path: target, disposition: "replace", columns: ["id", "name", "big", "at"] })
  ],
  ["jsonl-replace", "jsonl", (target: string) => Jsonl.sink({ path: target, disposition: "replace" })]
] as const) {
  ConnectorConformance.suite<TypedRow, TypedRow>(kind, {
    sink: {
      records: typedRows,
      make: () =>
        Effect.sync(() => {
          const target = path.join(tempDir(), `out.${extension}`)
          const source = () => (extension === "csv" ? Csv.source({ path: target }) : Jsonl.source({ path: target }))
          return {
            sink: make(target),
            readBack: Effect.suspend(() => (fs.existsSync(target) ? readBack(source()) : Effect.succeed([])))
          }
        }),
      id: idOf,
      expected: typedAsText
    }
  })
}

ConnectorConformance.suite<Generator.Row, Generator.Row>("generator", {
  source: {
    records: (n) =>
      Effect.runSync(
        Stream.runCollect(Generator.source({ count: n, seed: 11 }).read(undefined, readContext()))
      ).flatMap((b) => [...b.records]),
    make: (records) => Effect.succeed(Generator.source({ count: records.length, seed: 11, batchSize: 7 })),
    id: (r) => String(r.id)
  }
})
