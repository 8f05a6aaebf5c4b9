/**
 * JSON Lines files: one JSON object per line. The source streams a file line by line (never loading it) and
 * checkpoints by byte offset plus record count, so a resumed read starts exactly after the last delivered
 * record; a line that is not a JSON object becomes an invalid record, not a failure. The sink appends
 * (fsynced before each write succeeds) or replaces the file atomically at the end of the run, writing
 * bigint, `Timestamp` and binary values as exact strings.
 *
 * @since 0.1.0
 */
import * as fsp from "node:fs/promises"
import * as nodePath from "node:path"
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
import { toJson } from "../internal/values.ts"
import { lines } from "./internal/lines.ts"

/**
 * A JSONL record: a parsed JSON object.
 *
 * @category models
 * @since 0.1.0
 */
export type Row = Readonly<Record<string, unknown>>

/**
 * The position of a JSONL read: the byte offset just after the last delivered record's line, and how many
 * records (including invalid ones) were delivered before it. A checkpoint past the end of the file (it was
 * truncated or replaced) fails the read rather than silently reading nothing.
 *
 * @category models
 * @since 0.1.0
 */
export type JsonlCheckpoint = ByteCheckpoint

/**
 * The schema of `JsonlCheckpoint`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const JsonlCheckpoint: Checkpoint.CheckpointSchema<JsonlCheckpoint> = ByteCheckpointSchema

/**
 * The options of `Jsonl.source`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SourceOptions = Schema.Struct({
  path: NonEmpty.annotate({ description: "The JSON Lines file to read (UTF-8)." }),
  batchSize: Schema.optionalKey(
    PositiveInt.annotate({ description: "Records per batch (default: the runner's batch size hint, else 1000)." })
  ),
  stream: Schema.optionalKey(
    NonEmpty.annotate({ description: "The stream name (default: the file name without extension)." })
  ),
  name: Schema.optionalKey(NonEmpty.annotate({ description: 'The source name in errors and logs (default "jsonl").' }))
})

/**
 * The options of `Jsonl.source`.
 *
 * @category models
 * @since 0.1.0
 */
export type SourceOptions = typeof SourceOptions.Type

/**
 * A source that streams a JSON Lines file in batches.
 *
 * **Details**
 *
 * Lines are split at the byte level from a read stream and parsed one by one; blank lines are skipped, a
 * trailing `\r` and a leading UTF-8 BOM are ignored, and a last line without a newline is read. A line that
 * is not valid JSON, or not a JSON object, is emitted as an `InvalidRecord` with its text (the runner
 * dead-letters it); the reason gives its record number and byte offset, never its content. Values are what
 * `JSON.parse` gives: integers beyond 2^53 lose precision unless they were written as strings (as `Jsonl.sink`
 * writes bigint). A missing file fails with `ConnectorError` `NotFound`.
 *
 * **Example** (Reading events.jsonl)
 *
 * ```ts
 * import { Jsonl } from "@data-mcp/core"
 *
 * const events = Jsonl.source({ path: "data/events.jsonl", batchSize: 2000 })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const source = (options: SourceOptions): Source.Source<Row | InvalidRecord, JsonlCheckpoint> => {
  const config = Config.decodeSync("jsonl", SourceOptions, options)
  const name = config.name ?? "jsonl"
  const path = nodePath.resolve(config.path)
  const what = `file ${config.path}`
  const stream = config.stream ?? streamNameOf(config.path)
  const toError = (cause: unknown) =>
    ConnectorError.isConnectorError(cause) ? cause : ConnectorError.make(name, "read", classify(cause, what))

  const read = (from: JsonlCheckpoint | undefined, context: Source.ReadContext) => {
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
          return yield* fail(
            name,
            "read",
            `the checkpoint (byte ${start.bytes}) is past the end of ${what} (${size} bytes): the file was truncated or replaced; reset the pipeline's state to read it again`
          )
        }
        const consumed = { bytes: 0 }
        async function* chunks(): AsyncGenerator<ReadonlyArray<Entry<Row | InvalidRecord>>> {
          let recordNo = start.records
          for await (const chunk of lines(path, start.bytes, consumed)) {
            const out: Array<Entry<Row | InvalidRecord>> = []
            for (const line of chunk) {
              recordNo++
              let value: unknown
              try {
                value = JSON.parse(line.text)
              } catch {
                // The parser's message quotes the input: keep it out of the reason.
                const reason = `record ${recordNo} at byte ${line.start} is not valid JSON`
                out.push({ value: invalidRecord(reason, line.text), end: line.end })
                continue
              }
              if (typeof value !== "object" || value === null || Array.isArray(value)) {
                const reason = `record ${recordNo} at byte ${line.start} is not a JSON object`
                out.push({ value: invalidRecord(reason, line.text), end: line.end })
                continue
              }
              out.push({ value: value as Row, end: line.end })
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

  return Source.make<Row | InvalidRecord, JsonlCheckpoint>({
    name,
    checkpointSchema: JsonlCheckpoint,
    read,
    estimate: (from) =>
      Effect.map(
        tryFs(name, "estimate", what, () => fsp.stat(path)),
        (stats) => ({
          bytes: Math.max(0, stats.size - (from?.bytes ?? 0))
        })
      ),
    check: () => tryFs(name, "check", what, () => fsp.access(path, fsp.constants.R_OK))
  })
}

/**
 * The options of `Jsonl.sink`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SinkOptions = Schema.Struct({
  path: NonEmpty.annotate({ description: "The JSON Lines file to write." }),
  disposition: Schema.optionalKey(
    Schema.Literals(["append", "replace"]).annotate({
      description: '"append" adds lines (default); "replace" swaps in a new file atomically at the end of the run.'
    })
  ),
  name: Schema.optionalKey(NonEmpty.annotate({ description: 'The sink name in errors and logs (default "jsonl").' }))
})

/**
 * The options of `Jsonl.sink`.
 *
 * @category models
 * @since 0.1.0
 */
export type SinkOptions = typeof SinkOptions.Type

/**
 * A sink that writes each record as one JSON line.
 *
 * **Details**
 *
 * `append` (the default) opens the file for appending; every `write` is written, flushed and fsynced before it
 * succeeds, and a failed write is truncated away (a file that did not end with a newline gets one first).
 * `replace` writes to a temp file in the same directory and renames it over the target in `finish` (fsynced,
 * then the directory fsynced); until then the target is untouched, and if the run fails the temp file is
 * removed. Staged bytes are fsynced once, before the rename: they are not durable state until published.
 *
 * Values: bigint as its decimal string, `Timestamp` and `Date` as ISO 8601, binary as base64; `NaN` and
 * infinities become `null`, as in `JSON.stringify`. A record that cannot be serialised (a cycle, a function)
 * is rejected one by one (a dead letter).
 *
 * **Example** (Appending to events.jsonl)
 *
 * ```ts
 * import { Jsonl } from "@data-mcp/core"
 *
 * const sink = Jsonl.sink({ path: "out/events.jsonl" })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const sink = (options: SinkOptions): Sink.Sink<unknown> => {
  const config = Config.decodeSync("jsonl", SinkOptions, options)
  const name = config.name ?? "jsonl"
  const path = nodePath.resolve(config.path)
  const what = `file ${config.path}`
  const disposition = config.disposition ?? "append"

  const open = (
    context: Sink.OpenContext
  ): Effect.Effect<Sink.Writer<unknown>, ConnectorError.ConnectorError | StateError, Scope.Scope> =>
    Effect.gen(function* () {
      const output = yield* openOutput({ connector: name, path, disposition, runId: context.runId })
      let needsNewline = false
      if (output.existed) {
        const last = yield* tryFs(name, "open", what, () => lastByte(path, output.size()))
        needsNewline = last !== undefined && last !== 0x0a
      }
      const write = (batch: Batch.Batch<unknown>) =>
        Effect.suspend(() => {
          const parts: Array<string> = []
          const rejected: Array<{ index: number; reason: string }> = []
          batch.records.forEach((record, index) => {
            const json = record === undefined ? undefined : toJson(record)
            if (json === undefined) rejected.push({ index, reason: "the record cannot be serialised as JSON" })
            else parts.push(json)
          })
          const result: Sink.WriteResult =
            rejected.length > 0 ? { written: parts.length, rejected } : { written: parts.length }
          if (parts.length === 0) return Effect.succeed(result)
          const text = `${needsNewline ? "\n" : ""}${parts.join("\n")}\n`
          return Effect.as(
            Effect.tap(output.append(Buffer.from(text, "utf8")), () =>
              Effect.sync(() => {
                needsNewline = false
              })
            ),
            result
          )
        })
      return { write, finish: output.publish } satisfies Sink.Writer<unknown>
    })

  return Sink.make<unknown>({
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
    // One JSON value a line: any record fits, so a run changes no shape.
    plan: () =>
      Effect.map(
        tryFs(name, "plan", what, () => sizeOrUndefined(path)),
        (size) => ({
          target: config.path,
          exists: size !== undefined,
          changes: SchemaInference.emptyDiff
        })
      )
  })
}
