/**
 * CSV files: a source that streams a file with `csv-parse` and a sink that writes one with `csv-stringify`.
 * Records are objects of strings keyed by the header (casting is the pipeline's job; `cast: "auto"` is an
 * opt-in convenience). The source checkpoints by byte offset plus record count, so a resumed read starts
 * exactly after the last delivered record, even with quoted multi-line fields; a malformed row becomes an
 * invalid record, not a failure. The sink appends (fsynced before each write succeeds) or replaces the file
 * atomically at the end of the run.
 *
 * @since 0.1.0
 */
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
import { stringify } from "csv-stringify/sync"
import type { Scope } from "effect"
import { Effect, Schema, Stream } from "effect"
import type * as Batch from "../../Batch.ts"
import type * as Checkpoint from "../../Checkpoint.ts"
import * as Config from "../../Config.ts"
import * as ConnectorError from "../../ConnectorError.ts"
import * as SchemaInference from "../../SchemaInference.ts"
import * as Sink from "../../Sink.ts"
import * as Source from "../../Source.ts"
import type { StateError } from "../../StateStore.ts"
import {
  type ByteCheckpoint,
  ByteCheckpointSchema,
  type Entry,
  reiterable,
  toBatches
} from "../internal/byteBatches.ts"
import { classify, fail, lastByte, openOutput, sizeOrUndefined, tryFs } from "../internal/files.ts"
import { type InvalidRecord, invalidRecord } from "../internal/invalid.ts"
import { batchSizeOf, NonEmpty, PositiveInt, streamNameOf, untilEnd } from "../internal/options.ts"
import { rowProblem, toCell, unwritable } from "../internal/values.ts"
import { entries, readFirst, type Syntax } from "./internal/reader.ts"

/**
 * A CSV record: column name → the cell's text.
 *
 * @category models
 * @since 0.1.0
 */
export type Row = Readonly<Record<string, string>>

/**
 * A cell after `cast: "auto"`.
 *
 * @category models
 * @since 0.1.0
 */
export type Cell = string | number | bigint | boolean | null

/**
 * A CSV record read with `cast: "auto"`.
 *
 * @category models
 * @since 0.1.0
 */
export type CastRow = Readonly<Record<string, Cell>>

/**
 * The position of a CSV read: the byte offset just after the last delivered record, and how many records
 * (including invalid ones) were delivered before it.
 *
 * **Details**
 *
 * A byte offset lets a resumed read seek straight to the next record instead of re-parsing the file, and it
 * is exact whatever the quoting (a quoted field may span lines, so line numbers would not be). The record
 * count is kept for progress and for the record numbers in invalid-record reasons. A checkpoint past the end
 * of the file (the file was truncated or replaced) fails the read rather than silently reading nothing.
 *
 * @category models
 * @since 0.1.0
 */
export type CsvCheckpoint = ByteCheckpoint

/**
 * The schema of `CsvCheckpoint`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const CsvCheckpoint: Checkpoint.CheckpointSchema<CsvCheckpoint> = ByteCheckpointSchema

const Encoding = Schema.Literals(["utf8", "utf-8", "utf16le", "latin1", "ascii"])
const Char = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(1))

/**
 * The options of `Csv.source`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SourceOptions = Schema.Struct({
  path: NonEmpty.annotate({ description: "The CSV file to read." }),
  delimiter: Schema.optionalKey(NonEmpty.annotate({ description: 'The field delimiter (default ",").' })),
  quote: Schema.optionalKey(Char.annotate({ description: 'The quote character (default ").' })),
  header: Schema.optionalKey(
    Schema.Boolean.annotate({ description: "Whether the first row names the columns (default true)." })
  ),
  columns: Schema.optionalKey(
    Schema.Array(Schema.String)
      .check(Schema.isMinLength(1))
      .annotate({ description: "Column names; required when header is false, replaces the header row otherwise." })
  ),
  batchSize: Schema.optionalKey(
    PositiveInt.annotate({ description: "Records per batch (default: the runner's batch size hint, else 1000)." })
  ),
  encoding: Schema.optionalKey(Encoding.annotate({ description: 'The file encoding (default "utf8").' })),
  cast: Schema.optionalKey(
    Schema.Literals(["none", "auto"]).annotate({
      description:
        '"auto" converts integers, decimals, booleans and empty cells (to null); default "none" keeps strings.'
    })
  ),
  relaxQuotes: Schema.optionalKey(
    Schema.Boolean.annotate({
      description:
        "Keep a stray quote (inside an unquoted field, or text after a closing quote) as literal text (default true); false makes such a row an invalid record."
    })
  ),
  stream: Schema.optionalKey(
    NonEmpty.annotate({ description: "The stream name (default: the file name without extension)." })
  ),
  name: Schema.optionalKey(NonEmpty.annotate({ description: 'The source name in errors and logs (default "csv").' }))
}).check(
  Schema.makeFilter((o: { readonly header?: boolean; readonly columns?: ReadonlyArray<string> }) =>
    o.header === false && o.columns === undefined
      ? { path: ["columns"], issue: "columns is required when header is false" }
      : undefined
  )
)

/**
 * The options of `Csv.source`.
 *
 * @category models
 * @since 0.1.0
 */
export type SourceOptions = typeof SourceOptions.Type

const INTEGER = /^-?(?:0|[1-9]\d*)$/
const DECIMAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?$/

const castAuto = (text: string): Cell => {
  if (text === "") return null
  if (text === "true" || text === "TRUE" || text === "True") return true
  if (text === "false" || text === "FALSE" || text === "False") return false
  if (INTEGER.test(text)) {
    const n = Number(text)
    return Number.isSafeInteger(n) ? n : BigInt(text)
  }
  if (DECIMAL.test(text) && text.replace(/[-.]|[eE].*$/g, "").replace(/^0+/, "").length <= 15) {
    const n = Number(text)
    if (Number.isFinite(n)) return n
  }
  return text
}

const toRecord = (names: ReadonlyArray<string>, fields: ReadonlyArray<string>, cast: boolean): CastRow => {
  const row: Record<string, Cell> = {}
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string
    const text = fields[i] as string
    const value = cast ? castAuto(text) : text
    if (name === "__proto__")
      Object.defineProperty(row, name, { value, enumerable: true, writable: true, configurable: true })
    else row[name] = value
  }
  return row
}

const sameColumns = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean =>
  a.length === b.length && a.every((name, i) => name === b[i])

/**
 * A source that streams a CSV file in batches.
 *
 * **Details**
 *
 * The file is read with `fs.createReadStream` and parsed incrementally; memory holds one chunk and one batch.
 * A row with the wrong number of fields is emitted as an `InvalidRecord` carrying its raw text — the runner
 * dead-letters it — and reading goes on. A stray quote is kept as literal text by default (`relaxQuotes`),
 * so no character is lost; a quote that is never closed turns the rest of the file into one invalid record
 * (with all of its text, held in memory: csv-parse's record size limit would silently stop the parse, so none
 * is set). With `relaxQuotes: false` a stray quote makes an invalid record instead, but
 * csv-parse then only reports the text read up to the error, and text after a closing quote can swallow the
 * following rows into that record: prefer the default unless you need strict files. Empty lines are
 * skipped. A missing file fails with `ConnectorError` `NotFound`.
 *
 * **Example** (Reading orders.csv)
 *
 * ```ts
 * import { Csv } from "@data-mcp/core"
 *
 * const orders = Csv.source({ path: "data/orders.csv", batchSize: 5000 })
 * const typed = Csv.source({ path: "data/orders.csv", cast: "auto" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export function source(
  options: SourceOptions & { readonly cast: "auto" }
): Source.Source<CastRow | InvalidRecord, CsvCheckpoint>
export function source(
  options: SourceOptions & { readonly cast?: "none" | undefined }
): Source.Source<Row | InvalidRecord, CsvCheckpoint>
export function source(options: SourceOptions): Source.Source<CastRow | InvalidRecord, CsvCheckpoint>
export function source(options: SourceOptions): Source.Source<CastRow | InvalidRecord, CsvCheckpoint> {
  const config = Config.decodeSync("csv", SourceOptions, options)
  const name = config.name ?? "csv"
  const path = nodePath.resolve(config.path)
  const what = `file ${config.path}`
  const stream = config.stream ?? streamNameOf(config.path)
  const header = config.header ?? true
  const cast = config.cast === "auto"
  const syntax: Syntax = {
    delimiter: config.delimiter ?? ",",
    quote: config.quote ?? '"',
    encoding: config.encoding === "utf-8" ? "utf8" : (config.encoding ?? "utf8"),
    relaxQuotes: config.relaxQuotes ?? true
  }
  const failRead = (detail: string) => fail(name, "read", detail)
  const toError = (cause: unknown) =>
    ConnectorError.isConnectorError(cause) ? cause : ConnectorError.make(name, "read", classify(cause, what))

  const headerNames = (operation: string) =>
    Effect.flatMap(
      tryFs(name, operation, what, () => readFirst(path, syntax)),
      (first) =>
        first === undefined
          ? Effect.succeed(undefined)
          : first._tag === "Malformed"
            ? fail(name, operation, `the header row of ${what} is malformed (${first.code})`)
            : Effect.succeed({ names: first.fields, end: first.end })
    )

  const read = (from: CsvCheckpoint | undefined, context: Source.ReadContext) => {
    const batchSize = batchSizeOf(config.batchSize, context)
    const start = from ?? { bytes: 0, records: 0 }
    const end =
      typeof context.end === "object" &&
      context.end !== null &&
      "bytes" in context.end &&
      typeof context.end.bytes === "number"
        ? context.end.bytes
        : undefined
    const batches = Stream.unwrap(
      Effect.gen(function* () {
        const size = yield* tryFs(name, "read", what, () => fsp.stat(path).then((s) => s.size))
        if (start.bytes > size) {
          return yield* failRead(
            `the checkpoint (byte ${start.bytes}) is past the end of ${what} (${size} bytes): the file was truncated or replaced; reset the pipeline's state to read it again`
          )
        }
        let names: ReadonlyArray<string> | undefined = config.columns
        const readsHeader = header && start.bytes === 0
        if (header && start.bytes > 0) {
          const found = yield* headerNames("read")
          if (found === undefined || start.bytes < found.end) {
            return yield* failRead(`the checkpoint (byte ${start.bytes}) is inside the header of ${what}`)
          }
          names = names ?? found.names
        }

        const consumed = { bytes: 0 }
        async function* chunks(): AsyncGenerator<ReadonlyArray<Entry<CastRow | InvalidRecord>>> {
          let needHeader = readsHeader
          let recordNo = start.records
          let recordStart = start.bytes
          for await (const chunk of entries(path, start.bytes, syntax, consumed)) {
            const out: Array<Entry<CastRow | InvalidRecord>> = []
            for (const entry of chunk) {
              if (needHeader) {
                needHeader = false
                if (entry._tag === "Malformed") {
                  throw ConnectorError.make(
                    name,
                    "read",
                    new ConnectorError.Unknown({ detail: `the header row of ${what} is malformed (${entry.code})` })
                  )
                }
                names = names ?? entry.fields
                recordStart = entry.end
                continue
              }
              recordNo++
              if (entry._tag === "Malformed") {
                const reason = `malformed CSV record ${recordNo} after byte ${recordStart} (${entry.code})`
                out.push({ value: invalidRecord(reason, entry.raw), end: undefined })
                continue
              }
              const at = recordStart
              recordStart = entry.end
              const columns = names as ReadonlyArray<string>
              if (entry.fields.length !== columns.length) {
                const reason = `CSV record ${recordNo} at byte ${at} has ${entry.fields.length} fields, expected ${columns.length}`
                out.push({ value: invalidRecord(reason, entry.raw), end: entry.end })
                continue
              }
              out.push({ value: toRecord(columns, entry.fields, cast), end: entry.end })
            }
            if (out.length > 0) yield out
          }
        }

        const iterable = reiterable(() =>
          toBatches(
            { chunks: chunks(), endOffset: () => start.bytes + consumed.bytes },
            { stream, batchSize, from: start }
          )
        )
        return Stream.fromAsyncIterable(iterable, toError)
      })
    )
    return untilEnd(batches, end, (checkpoint) => checkpoint.bytes)
  }

  return Source.make<CastRow | InvalidRecord, CsvCheckpoint>({
    name,
    checkpointSchema: CsvCheckpoint,
    read,
    estimate: (from) =>
      Effect.map(
        tryFs(name, "estimate", what, () => fsp.stat(path)),
        (stats) => ({
          bytes: Math.max(0, stats.size - (from?.bytes ?? 0))
        })
      ),
    discover: () =>
      Effect.gen(function* () {
        const names = config.columns ?? (header ? (yield* headerNames("discover"))?.names : undefined) ?? []
        const properties: Record<string, Checkpoint.Json> = {}
        for (const column of names) properties[column] = { type: "string" }
        return [{ name: stream, jsonSchema: { type: "object", properties } }]
      }),
    check: () => tryFs(name, "check", what, () => fsp.access(path, fsp.constants.R_OK))
  })
}

/**
 * The options of `Csv.sink`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SinkOptions = Schema.Struct({
  path: NonEmpty.annotate({ description: "The CSV file to write." }),
  disposition: Schema.optionalKey(
    Schema.Literals(["append", "replace"]).annotate({
      description: '"append" adds rows (default); "replace" swaps in a new file atomically at the end of the run.'
    })
  ),
  header: Schema.optionalKey(
    Schema.Boolean.annotate({ description: "Write a header row when the file is new or empty (default true)." })
  ),
  delimiter: Schema.optionalKey(NonEmpty.annotate({ description: 'The field delimiter (default ",").' })),
  columns: Schema.optionalKey(
    Schema.Array(Schema.String).check(Schema.isMinLength(1)).annotate({
      description:
        "The columns, in order (default: an appended file's header, else the keys of the first record written)."
    })
  ),
  name: Schema.optionalKey(NonEmpty.annotate({ description: 'The sink name in errors and logs (default "csv").' }))
})

/**
 * The options of `Csv.sink`.
 *
 * @category models
 * @since 0.1.0
 */
export type SinkOptions = typeof SinkOptions.Type

/** The columns of a first batch: the keys of its records, in first-seen order. */
const columnsOf = (records: ReadonlyArray<unknown>): ReadonlyArray<string> => {
  const seen = new Set<string>()
  for (const record of records) {
    if (typeof record === "object" && record !== null) for (const key of Object.keys(record)) seen.add(key)
  }
  return [...seen]
}

/**
 * Encodes records as CSV lines in `columns` order; records that cannot be written are rejected one by one
 * (they become dead letters), with reasons that name fields but never quote values.
 */
const encodeRows = (
  records: ReadonlyArray<unknown>,
  columns: ReadonlyArray<string>,
  what: string
): {
  readonly rows: Array<Array<string>>
  readonly rejected: Array<{ readonly index: number; readonly reason: string }>
} => {
  const known = new Set(columns)
  const rows: Array<Array<string>> = []
  const rejected: Array<{ index: number; reason: string }> = []
  records.forEach((record, index) => {
    const problem = rowProblem(record, known, what)
    if (problem !== undefined) {
      rejected.push({ index, reason: problem })
      return
    }
    const row: Array<string> = []
    for (const column of columns) {
      const value = (record as Record<string, unknown>)[column]
      const cell = toCell(value)
      if (cell === undefined) {
        rejected.push({
          index,
          reason: `field ${JSON.stringify(column)} ${unwritable(value) ?? "cannot be written as text"}`
        })
        return
      }
      row.push(cell)
    }
    rows.push(row)
  })
  return { rows, rejected }
}

/**
 * A sink that writes records to a CSV file.
 *
 * **Details**
 *
 * `append` (the default) opens the file for appending; every `write` is written, flushed and fsynced before it
 * succeeds, and a failed write is truncated away. The header is written only when the file is new or empty;
 * an existing file's header fixes the columns. `replace` writes to a temp file in the same directory and
 * renames it over the target in `finish` (fsynced, then the directory fsynced); until then the target is
 * untouched, and if the run fails the temp file is removed. Staged bytes are fsynced once, before the rename:
 * they are not durable state until published, so the runner must not resume a `replace` run mid-way.
 *
 * Values: strings as they are; numbers and booleans as printed; bigint as its digits; `Timestamp` and `Date`
 * as ISO 8601; binary as base64; other objects as JSON; `null`/`undefined` as an empty cell. A record with a
 * field that is not a column is rejected (a dead letter), never written with the field dropped.
 *
 * **Example** (Appending to out.csv)
 *
 * ```ts
 * import { Csv } from "@data-mcp/core"
 *
 * const sink = Csv.sink({ path: "out/orders.csv" })
 * const snapshot = Csv.sink({ path: "out/orders.csv", disposition: "replace" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const sink = (options: SinkOptions): Sink.Sink<object> => {
  const config = Config.decodeSync("csv", SinkOptions, options)
  const name = config.name ?? "csv"
  const path = nodePath.resolve(config.path)
  const what = `file ${config.path}`
  const disposition = config.disposition ?? "append"
  const header = config.header ?? true
  const delimiter = config.delimiter ?? ","
  const syntax: Syntax = { delimiter, quote: '"', encoding: "utf8", relaxQuotes: false }
  const lines = (rows: ReadonlyArray<ReadonlyArray<string>>) =>
    rows.length === 0 ? "" : stringify(rows as Array<Array<string>>, { delimiter, record_delimiter: "unix" })

  const open = (
    context: Sink.OpenContext
  ): Effect.Effect<Sink.Writer<object>, ConnectorError.ConnectorError | StateError, Scope.Scope> =>
    Effect.gen(function* () {
      const output = yield* openOutput({ connector: name, path, disposition, runId: context.runId })
      let columns: ReadonlyArray<string> | undefined = config.columns
      let needsNewline = false
      if (output.existed) {
        if (header) {
          const first = yield* tryFs(name, "open", what, () => readFirst(path, syntax))
          if (first !== undefined && first._tag === "Malformed") {
            return yield* fail(name, "open", `the header row of ${what} is malformed (${first.code})`)
          }
          if (first !== undefined) {
            if (columns !== undefined && !sameColumns(columns, first.fields)) {
              return yield* fail(name, "open", `the columns option does not match the header of ${what}`)
            }
            columns = first.fields
          }
        }
        const last = yield* tryFs(name, "open", what, () => lastByte(path, output.size()))
        needsNewline = last !== undefined && last !== 0x0a && last !== 0x0d
      }
      let headerPending = header && output.size() === 0

      const write = (batch: Batch.Batch<object>) =>
        Effect.suspend(() => {
          if (columns === undefined) {
            const found = columnsOf(batch.records)
            if (found.length === 0) {
              return Effect.succeed<Sink.WriteResult>({
                written: 0,
                rejected: batch.records.map((_, index) => ({ index, reason: "the record has no fields" }))
              })
            }
            columns = found
          }
          const { rows, rejected } = encodeRows(batch.records, columns, what)
          const result: Sink.WriteResult =
            rejected.length > 0 ? { written: rows.length, rejected } : { written: rows.length }
          if (rows.length === 0) return Effect.succeed(result)
          const text = `${needsNewline ? "\n" : ""}${headerPending ? lines([columns]) : ""}${lines(rows)}`
          return Effect.as(
            Effect.tap(output.append(Buffer.from(text, "utf8")), () =>
              Effect.sync(() => {
                needsNewline = false
                headerPending = false
              })
            ),
            result
          )
        })

      const finish = Effect.suspend(() => {
        const preamble = headerPending && columns !== undefined ? lines([columns]) : ""
        return Effect.andThen(
          preamble === "" ? Effect.void : output.append(Buffer.from(preamble, "utf8")),
          output.publish
        )
      })
      return { write, finish } satisfies Sink.Writer<object>
    })

  // The columns a run would write: the columns option, else an appended file's header, else the first records'.
  const plan = (sample: ReadonlyArray<object>): Effect.Effect<Sink.TargetPlan, ConnectorError.ConnectorError> =>
    Effect.gen(function* () {
      const size = yield* tryFs(name, "plan", what, () => sizeOrUndefined(path))
      const exists = size !== undefined
      let existing: ReadonlyArray<string> | undefined
      if (exists && size > 0 && header && disposition === "append") {
        const first = yield* tryFs(name, "plan", what, () => readFirst(path, syntax))
        if (first !== undefined && first._tag !== "Malformed") existing = first.fields
      }
      const columns = config.columns ?? existing ?? columnsOf(sample)
      const column = new Set(columns)
      const extra = columnsOf(sample).filter((c) => !column.has(c))
      const added = (names: ReadonlyArray<string>) => names.map((path) => ({ path, type: "string" }))
      return {
        target: config.path,
        exists,
        changes: { ...SchemaInference.emptyDiff, added: existing === undefined ? added(columns) : [] },
        ...(extra.length === 0
          ? {}
          : {
              refused: {
                diff: { ...SchemaInference.emptyDiff, added: added(extra) },
                outcome: "discardRow" as const,
                reason: `records with fields that are not columns of ${what} become dead letters`
              }
            })
      }
    })

  return Sink.make<object>({
    name,
    capabilities: { transactional: false, idempotent: false, maxConcurrentWrites: 1 },
    disposition: disposition === "append" ? Sink.append : Sink.replace,
    open,
    check: () =>
      tryFs(name, "check", `directory of ${what}`, async () => {
        await fsp.access(nodePath.dirname(path), fsp.constants.W_OK)
        const size = await sizeOrUndefined(path)
        if (size !== undefined) await fsp.access(path, fsp.constants.W_OK)
      }),
    plan
  })
}
