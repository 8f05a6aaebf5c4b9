/**
 * Parquet files, in pure JavaScript: a source that reads a file row group by row group with `hyparquet`, and a
 * sink that writes one with `hyparquet-writer`. The source checkpoints by row offset, so a resumed read starts
 * at the first row not delivered whatever the row-group layout. Parquet files cannot be appended to, so the
 * sink supports `replace` only: it streams row groups into a temp file next to the target and renames it over
 * the target at the end of the run.
 *
 * @since 0.1.0
 */
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import type { Scope } from "effect"
import { Effect, Schema, Stream } from "effect"
import { type AsyncBuffer, type FileMetaData, parquetMetadataAsync, parquetReadObjects } from "hyparquet"
import { ByteWriter, ParquetWriter } from "hyparquet-writer"
import * as Batch from "../../Batch.ts"
import * as Checkpoint from "../../Checkpoint.ts"
import * as Config from "../../Config.ts"
import * as ConnectorError from "../../ConnectorError.ts"
import * as Sink from "../../Sink.ts"
import * as Source from "../../Source.ts"
import type { StateError } from "../../StateStore.ts"
import * as Timestamp from "../../Timestamp.ts"
import { classify, fail, openOutput, tryFs } from "../internal/files.ts"
import { batchSizeOf, NonEmpty, PositiveInt, streamNameOf, untilEnd } from "../internal/options.ts"
import { rowProblem } from "../internal/values.ts"
import { type Column, type ColumnType, columnTypes, convert, element, infer, Mismatch } from "./internal/columns.ts"

/**
 * A Parquet record: column name → value.
 *
 * @category models
 * @since 0.1.0
 */
export type Row = Readonly<Record<string, unknown>>

/**
 * The options of `Parquet.source`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SourceOptions = Schema.Struct({
  path: NonEmpty.annotate({ description: "The Parquet file to read." }),
  columns: Schema.optionalKey(
    Schema.Array(Schema.String)
      .check(Schema.isMinLength(1))
      .annotate({ description: "The columns to read (default all)." })
  ),
  batchSize: Schema.optionalKey(
    PositiveInt.annotate({ description: "Records per batch (default: the runner's batch size hint, else 1000)." })
  ),
  stream: Schema.optionalKey(
    NonEmpty.annotate({ description: "The stream name (default: the file name without extension)." })
  ),
  name: Schema.optionalKey(
    NonEmpty.annotate({ description: 'The source name in errors and logs (default "parquet").' })
  )
})

/**
 * The options of `Parquet.source`.
 *
 * @category models
 * @since 0.1.0
 */
export type SourceOptions = typeof SourceOptions.Type

const floorDiv = (a: bigint, b: bigint): bigint => {
  const q = a / b
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q
}

const isoDate = (days: number): string => new Date(days * 86_400_000).toISOString().slice(0, 10)

// Lossless conversions: timestamps as `Timestamp` (nanoseconds are floored to microseconds), dates as
// "YYYY-MM-DD" strings (no `Date`, whose zone handling would shift them).
const parsers = {
  timestampFromMilliseconds: (millis: bigint) => Timestamp.fromEpochMicros(BigInt(millis) * 1000n),
  timestampFromMicroseconds: (micros: bigint) => Timestamp.fromEpochMicros(BigInt(micros)),
  timestampFromNanoseconds: (nanos: bigint) => Timestamp.fromEpochMicros(floorDiv(BigInt(nanos), 1000n)),
  dateFromDays: (days: number) => isoDate(days)
}

/** Top-level columns whose timestamps have no time zone (`isAdjustedToUTC: false`). */
const wallClockColumns = (metadata: FileMetaData): ReadonlyArray<string> => {
  const out: Array<string> = []
  const root = metadata.schema[0]
  let index = 1
  for (let child = 0; child < (root?.num_children ?? 0); child++) {
    const el = metadata.schema[index]
    if (el === undefined) break
    if (el.logical_type?.type === "TIMESTAMP" && !el.logical_type.isAdjustedToUTC) out.push(el.name)
    index += subtreeSize(metadata, index)
  }
  return out
}

const subtreeSize = (metadata: FileMetaData, index: number): number => {
  const el = metadata.schema[index]
  let size = 1
  for (let i = 0; i < (el?.num_children ?? 0); i++) size += subtreeSize(metadata, index + size)
  return size
}

/** An `AsyncBuffer` over an open file handle: one descriptor, one consistent version of the file. */
const fileBuffer = (handle: fsp.FileHandle, size: number): AsyncBuffer => ({
  byteLength: size,
  slice: async (start: number, end?: number) => {
    const length = Math.max(0, (end ?? size) - start)
    const buffer = new ArrayBuffer(length)
    let read = 0
    while (read < length) {
      const { bytesRead } = await handle.read(
        new Uint8Array(buffer, read, length - read),
        0,
        length - read,
        start + read
      )
      if (bytesRead === 0) break
      read += bytesRead
    }
    return buffer
  }
})

/**
 * A source that reads a Parquet file row group by row group.
 *
 * **Details**
 *
 * The checkpoint is the row offset (rows delivered). A read opens the file once (so it sees one version even
 * if the file is replaced meanwhile), reads the footer, skips whole row groups before the offset and decodes
 * one row group at a time, which it then splits into batches of `batchSize`: memory holds one row group. Types
 * are kept: INT64 as bigint, timestamps as `Timestamp` (zoned unless the column is not UTC-adjusted), dates as
 * `"YYYY-MM-DD"`, unannotated binary as `Uint8Array`. `hyparquet` reads DECIMAL columns as JS numbers, so
 * decimals beyond 15 significant digits lose precision. A checkpoint past the end of the file fails the
 * read (the file was replaced); a missing file fails with `ConnectorError` `NotFound`.
 *
 * **Example** (Reading events.parquet)
 *
 * ```ts
 * import { Parquet } from "@data-mcp/core"
 *
 * const events = Parquet.source({ path: "data/events.parquet", columns: ["id", "at"] })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const source = (options: SourceOptions): Source.Source<Row, number> => {
  const config = Config.decodeSync("parquet", SourceOptions, options)
  const name = config.name ?? "parquet"
  const path = nodePath.resolve(config.path)
  const what = `file ${config.path}`
  const stream = config.stream ?? streamNameOf(config.path)
  const decodeError = (operation: string) => (cause: unknown) =>
    ConnectorError.make(
      name,
      operation,
      typeof cause === "object" && cause !== null && "code" in cause
        ? classify(cause, what)
        : new ConnectorError.Unknown({ detail: `${what} could not be decoded as Parquet`, cause })
    )

  const openFile = (operation: string) =>
    Effect.gen(function* () {
      const handle = yield* Effect.acquireRelease(
        tryFs(name, operation, what, () => fsp.open(path, "r")),
        (h) => Effect.promise(() => h.close().catch(() => undefined))
      )
      const size = (yield* tryFs(name, operation, what, () => handle.stat())).size
      const file = fileBuffer(handle, size)
      const metadata = yield* Effect.tryPromise({
        try: () => parquetMetadataAsync(file),
        catch: decodeError(operation)
      })
      return { file, metadata }
    })

  const read = (from: number | undefined, context: Source.ReadContext) => {
    const batchSize = batchSizeOf(config.batchSize, context)
    const start = from ?? 0
    const end = typeof context.end === "number" ? context.end : undefined
    const batches = Stream.unwrap(
      Effect.gen(function* () {
        const { file, metadata } = yield* openFile("read")
        const total = Number(metadata.num_rows)
        if (start > total) {
          return yield* fail(
            name,
            "read",
            `the checkpoint (row ${start}) is past the end of ${what} (${total} rows): the file was replaced; reset the pipeline's state to read it again`
          )
        }
        const wallClock = wallClockColumns(metadata)
        const groups: Array<{ readonly from: number; readonly to: number }> = []
        let groupStart = 0
        for (const group of metadata.row_groups) {
          const groupEnd = groupStart + Number(group.num_rows)
          if (groupEnd > start && groupEnd > groupStart)
            groups.push({ from: Math.max(start, groupStart), to: groupEnd })
          groupStart = groupEnd
        }
        const readGroup = (group: { readonly from: number; readonly to: number }) =>
          Effect.tryPromise({
            try: () =>
              parquetReadObjects({
                file,
                metadata,
                rowStart: group.from,
                rowEnd: group.to,
                parsers,
                utf8: false,
                ...(config.columns === undefined ? {} : { columns: [...config.columns] })
              }),
            catch: decodeError("read")
          }).pipe(
            Effect.map((rows) => {
              if (wallClock.length > 0) {
                for (const row of rows) {
                  for (const column of wallClock) {
                    const value = row[column]
                    if (value instanceof Timestamp.Timestamp) row[column] = new Timestamp.Timestamp(value.micros, false)
                  }
                }
              }
              const out: Array<Batch.Batch<Row, number>> = []
              for (let i = 0; i < rows.length; i += batchSize) {
                const records = rows.slice(i, i + batchSize)
                out.push(Batch.make<Row, number>(records, { stream, checkpoint: group.from + i + records.length }))
              }
              return out
            })
          )
        return Stream.flatMap(Stream.fromIterable(groups), (group) =>
          Stream.flatMap(Stream.fromEffect(readGroup(group)), (out) => Stream.fromIterable(out))
        )
      })
    )
    return untilEnd(batches, end, (checkpoint) => checkpoint)
  }

  return Source.make<Row, number>({
    name,
    checkpointSchema: Checkpoint.offset,
    read,
    estimate: (from) =>
      Effect.scoped(
        Effect.map(openFile("estimate"), ({ file, metadata }) => ({
          rows: Math.max(0, Number(metadata.num_rows) - (from ?? 0)),
          bytes: file.byteLength,
          to: Number(metadata.num_rows)
        }))
      ),
    discover: () =>
      Effect.scoped(
        Effect.map(openFile("discover"), ({ metadata }) => {
          const properties: Record<string, Checkpoint.Json> = {}
          const root = metadata.schema[0]
          let index = 1
          for (let child = 0; child < (root?.num_children ?? 0); child++) {
            const el = metadata.schema[index]
            if (el === undefined) break
            properties[el.name] = {
              description: `parquet ${el.logical_type?.type ?? el.converted_type ?? el.type ?? "group"}`
            }
            index += subtreeSize(metadata, index)
          }
          return [{ name: stream, jsonSchema: { type: "object", properties } }]
        })
      ),
    check: () => tryFs(name, "check", what, () => fsp.access(path, fsp.constants.R_OK))
  })
}

/**
 * A Parquet column type of the sink. `TIMESTAMP` is UTC-adjusted microseconds (`Timestamp` with a zone, or
 * `Date`); `TIMESTAMP_NTZ` is wall-clock microseconds (`Timestamp` without a zone); `DATE` takes
 * `"YYYY-MM-DD"` strings or `Date`; `INT64` takes bigint or safe integers; `JSON` takes any serialisable value.
 *
 * @category models
 * @since 0.1.0
 */
export type ParquetType = ColumnType

/**
 * The options of `Parquet.sink`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SinkOptions = Schema.Struct({
  path: NonEmpty.annotate({ description: "The Parquet file to write." }),
  disposition: Schema.optionalKey(
    Schema.Literal("replace").annotate({
      description: 'Only "replace": a Parquet file cannot be appended to; it is swapped in at the end of the run.'
    })
  ),
  schema: Schema.optionalKey(
    Schema.Record(Schema.String, Schema.Literals(columnTypes)).annotate({
      description:
        "Column name → type, in order (default: inferred from the first batch: number → DOUBLE, bigint → INT64, string, boolean, Timestamp, Date, binary, others → JSON)."
    })
  ),
  rowGroupSize: Schema.optionalKey(
    PositiveInt.annotate({ description: "Rows per row group; also the rows held in memory (default 10000)." })
  ),
  codec: Schema.optionalKey(
    Schema.Literals(["SNAPPY", "UNCOMPRESSED"]).annotate({ description: 'The compression codec (default "SNAPPY").' })
  ),
  name: Schema.optionalKey(NonEmpty.annotate({ description: 'The sink name in errors and logs (default "parquet").' }))
})

/**
 * The options of `Parquet.sink`.
 *
 * @category models
 * @since 0.1.0
 */
export type SinkOptions = typeof SinkOptions.Type

const DEFAULT_ROW_GROUP_SIZE = 10_000

/** The columns of a first batch: keys in first-seen order, typed by their first non-null value. */
const inferColumns = (records: ReadonlyArray<unknown>): Array<Column> => {
  const types = new Map<string, ColumnType | undefined>()
  for (const record of records) {
    if (typeof record !== "object" || record === null || Array.isArray(record)) continue
    for (const [key, value] of Object.entries(record)) {
      if (types.get(key) === undefined) types.set(key, infer(value))
    }
  }
  return [...types].map(([name, type]) => ({ name, type: type ?? "STRING" }))
}

/**
 * A sink that writes a Parquet file, replacing the target atomically at the end of the run.
 *
 * **Details**
 *
 * Columns come from `schema`, or are inferred from the first batch written (a column that is null throughout
 * that batch becomes STRING); every column is nullable. Each record is checked against the columns as it is
 * written: a field that is not a column, or a value of the wrong type, rejects that record alone (a dead
 * letter) rather than failing the run. Rows are buffered until `rowGroupSize` of them are ready, encoded as one
 * row group and streamed into a temp file in the target's directory; `finish` writes the footer, fsyncs, and
 * renames the temp file over the target (then fsyncs the directory). Until then the target is untouched, and
 * if the run fails the temp file is removed.
 *
 * Memory: one row group of values plus its encoded bytes, whatever the file size (`hyparquet-writer` cannot
 * stream below a row group, and keeps the footer's column metadata, small, until `finish`). Parquet files are
 * not appendable, so `append` is not offered, and a `replace` run cannot resume mid-way: staged row groups do
 * not survive a failed run.
 *
 * **Example** (Writing a typed Parquet file)
 *
 * ```ts
 * import { Parquet } from "@data-mcp/core"
 *
 * const sink = Parquet.sink({
 *   path: "out/events.parquet",
 *   schema: { id: "INT64", name: "STRING", score: "DOUBLE", ok: "BOOLEAN", at: "TIMESTAMP" }
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const sink = (options: SinkOptions): Sink.Sink<object> => {
  const config = Config.decodeSync("parquet", SinkOptions, options)
  const name = config.name ?? "parquet"
  const path = nodePath.resolve(config.path)
  const what = `file ${config.path}`
  const rowGroupSize = config.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE
  const codec = config.codec ?? "SNAPPY"
  const configured: Array<Column> | undefined =
    config.schema === undefined ? undefined : Object.entries(config.schema).map(([name, type]) => ({ name, type }))

  const open = (
    context: Sink.OpenContext
  ): Effect.Effect<Sink.Writer<object>, ConnectorError.ConnectorError | StateError, Scope.Scope> =>
    Effect.gen(function* () {
      const output = yield* openOutput({ connector: name, path, disposition: "replace", runId: context.runId })
      let columns: ReadonlyArray<Column> | undefined = configured
      let known = new Set<string>()
      let pending: Array<Array<unknown>> = []
      let pendingRows = 0
      const bytes = new ByteWriter()
      let writer: ParquetWriter | undefined

      const start = (cols: ReadonlyArray<Column>) => {
        columns = cols
        known = new Set(cols.map((c) => c.name))
        pending = cols.map(() => [])
        writer = new ParquetWriter({
          writer: bytes,
          schema: [{ name: "root", num_children: cols.length }, ...cols.map(element)],
          codec,
          createdBy: "data-mcp"
        })
      }

      // Takes the bytes encoded so far out of the in-memory writer.
      const drain = (): Uint8Array => {
        const out = bytes.getBytes().slice()
        bytes.index = 0
        return out
      }

      const encode = (f: () => void) =>
        Effect.try({
          try: () => {
            f()
            return drain()
          },
          catch: (cause) =>
            ConnectorError.make(name, "write", new ConnectorError.Unknown({ detail: `encoding ${what} failed`, cause }))
        })

      // Encodes buffered rows as row groups of `rowGroupSize` (and, with `all`, the remainder as a last, smaller
      // group) and appends them to the staging file.
      const flush = (all: boolean) =>
        Effect.suspend(() => {
          if (writer === undefined || columns === undefined) return Effect.void
          const rows = all ? pendingRows : pendingRows - (pendingRows % rowGroupSize)
          if (rows === 0) return Effect.void
          const pq = writer
          const cols = columns
          const data = pending.map((values) => values.slice(0, rows))
          pending = pending.map((values) => values.slice(rows))
          pendingRows -= rows
          return Effect.flatMap(
            encode(() =>
              pq.write({
                columnData: cols.map((c, i) => ({ name: c.name, data: data[i] as Array<unknown> })),
                rowGroupSize
              })
            ),
            (chunk) => output.append(chunk)
          )
        })

      const write = (batch: Batch.Batch<object>) =>
        Effect.suspend(() => {
          if (writer === undefined) start(columns ?? inferColumns(batch.records))
          const cols = columns as ReadonlyArray<Column>
          const rejected: Array<{ index: number; reason: string }> = []
          let written = 0
          batch.records.forEach((record, index) => {
            const problem = rowProblem(record, known, what)
            if (problem !== undefined) {
              rejected.push({ index, reason: problem })
              return
            }
            const values: Array<unknown> = []
            for (const column of cols) {
              const value = convert(column.type, (record as Record<string, unknown>)[column.name])
              if (value instanceof Mismatch) {
                rejected.push({
                  index,
                  reason: `field ${JSON.stringify(column.name)}: ${value.reason} (${column.type})`
                })
                return
              }
              values.push(value)
            }
            for (let i = 0; i < values.length; i++) (pending[i] as Array<unknown>).push(values[i])
            pendingRows++
            written++
          })
          const result: Sink.WriteResult = rejected.length > 0 ? { written, rejected } : { written }
          return pendingRows >= rowGroupSize ? Effect.as(flush(false), result) : Effect.succeed(result)
        })

      const finish = Effect.suspend(() => {
        if (writer === undefined) {
          if (columns === undefined) {
            return fail(
              name,
              "finish",
              `no records and no schema: cannot write ${what} without columns; pass the schema option`
            )
          }
          start(columns)
        }
        const pq = writer as ParquetWriter
        return flush(true).pipe(
          Effect.andThen(encode(() => pq.finish())),
          Effect.flatMap((chunk) => output.append(chunk)),
          Effect.andThen(output.publish)
        )
      })

      return { write, finish } satisfies Sink.Writer<object>
    })

  return Sink.make<object>({
    name,
    capabilities: { transactional: false, idempotent: false, maxConcurrentWrites: 1 },
    disposition: Sink.replace,
    open,
    check: () =>
      tryFs(name, "check", `directory of ${what}`, () => fsp.access(nodePath.dirname(path), fsp.constants.W_OK))
  })
}
