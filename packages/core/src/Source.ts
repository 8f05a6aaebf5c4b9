/**
 * A source reads records as a stream of batches, starting after a checkpoint. Bounded sources end; unbounded
 * ones (queues, CDC) do not. A source never acknowledges on read: the runner calls `commit` with a
 * checkpoint only after everything before it is durably written, in checkpoint order — the moment to
 * commit offsets, ack messages or flush a replication position.
 *
 * @since 0.1.0
 */
import { type Cause, Effect, Fiber, Option, Queue, type Scope, Semaphore, Stream } from "effect"
import * as Batch from "./Batch.ts"
import * as Checkpoint from "./Checkpoint.ts"
import type { ConnectorError } from "./ConnectorError.ts"

/**
 * The error a source fails with.
 *
 * @category errors
 * @since 0.1.0
 */
export type SourceError = ConnectorError

/**
 * What the runner tells a source when it starts reading.
 *
 * @category models
 * @since 0.1.0
 */
export interface ReadContext {
  /** The run that reads. */
  readonly runId: string
  /** The preferred number of records per batch (a hint; the runner re-batches anyway). */
  readonly batchRows: number
  /** A bounded backfill's end position: stop once past it. Absent for a normal run. */
  readonly end?: Checkpoint.Json | undefined
  /**
   * Encodings the consumer loads as is (`Batch.Encoded`), set by the runner when no stage needs the records (no
   * transforms, no schema contract, a sink that lists them). A source may then send `encoded` batches with no
   * records; it must still put checkpoints on them.
   */
  readonly encodings?: ReadonlyArray<string> | undefined
}

/**
 * A stream a source offers (a table, an endpoint, a topic), as `discover` reports it.
 *
 * @category models
 * @since 0.1.0
 */
export interface StreamInfo {
  readonly name: string
  /** A JSON Schema of the records, when known. */
  readonly jsonSchema?: Checkpoint.Json | undefined
  readonly description?: string | undefined
}

/**
 * An estimate of what a read would return, for plans and previews.
 *
 * @category models
 * @since 0.1.0
 */
export interface Estimate {
  readonly rows?: number | undefined
  readonly bytes?: number | undefined
  /**
   * The checkpoint (as JSON) a run starting now would end at — its upper bound, fixed when the run starts — when
   * the source can tell (an array's length, a generator's count, a table's high-water mark).
   */
  readonly to?: Checkpoint.Json | undefined
  /** Per stream, when the source has several. */
  readonly streams?: Readonly<Record<string, { readonly rows?: number; readonly bytes?: number }>> | undefined
}

/**
 * A source of records `A` whose position is `C`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Source<out A, in out C = Checkpoint.Json> {
  /** A short name for errors, logs and metrics: the connector kind or an instance name. */
  readonly name: string
  /** Validates a stored checkpoint and converts it to and from JSON. */
  readonly checkpointSchema: Checkpoint.CheckpointSchema<C>
  /** Reads batches after `from` (from the beginning when `from` is undefined). */
  readonly read: (from: C | undefined, context: ReadContext) => Stream.Stream<Batch.Batch<A, C>, SourceError>
  /** Acknowledges everything up to `checkpoint`; called in order, only once it is durable. */
  readonly commit?: ((checkpoint: C) => Effect.Effect<void, SourceError>) | undefined
  /** Estimates rows and bytes after `from`. */
  readonly estimate?: ((from: C | undefined) => Effect.Effect<Estimate, SourceError>) | undefined
  /** Lists the streams this source offers and their shapes. */
  readonly discover?: (() => Effect.Effect<ReadonlyArray<StreamInfo>, SourceError>) | undefined
  /** Checks that the source can be reached and read with its config. */
  readonly check?: (() => Effect.Effect<void, SourceError>) | undefined
  /** Whether the records hold private data (pipelines default to operator-only exposure). */
  readonly sensitive?: boolean | undefined
}

/**
 * Any source, for collections and registries.
 *
 * @category models
 * @since 0.1.0
 */
// biome-ignore lint/suspicious/noExplicitAny: a heterogeneous collection of sources needs the widest types
export type Any = Source<any, any>

/**
 * Makes a source; `checkpointSchema` defaults to any JSON value.
 *
 * **Example** (A source of three numbers, checkpointed by offset)
 *
 * ```ts
 * import { Batch, Checkpoint, Source } from "@data-mcp/core"
 * import { Stream } from "effect"
 *
 * const numbers = Source.make({
 *   name: "numbers",
 *   checkpointSchema: Checkpoint.offset,
 *   read: (from = 0) => Stream.make(Batch.make([1, 2, 3].slice(from), { checkpoint: 3 }))
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = <A, C = Checkpoint.Json>(
  source: Omit<Source<A, C>, "checkpointSchema"> & { readonly checkpointSchema?: Checkpoint.CheckpointSchema<C> }
): Source<A, C> => ({
  ...source,
  checkpointSchema: source.checkpointSchema ?? (Checkpoint.any as unknown as Checkpoint.CheckpointSchema<C>)
})

/**
 * A page of a paginated API: its records and the cursor of the next page (none on the last page).
 *
 * @category models
 * @since 0.1.0
 */
export interface Page<A, C> {
  readonly records: ReadonlyArray<A>
  readonly next: Option.Option<C>
}

/**
 * Makes a source that reads page after page. The checkpoint after a page is the cursor of the next one, so a
 * resumed run starts at the first page not yet written.
 *
 * **Example** (Numbered pages)
 *
 * ```ts
 * import { Checkpoint, Source } from "@data-mcp/core"
 * import { Effect, Option } from "effect"
 *
 * const pages = Source.paginate({
 *   name: "pages",
 *   checkpointSchema: Checkpoint.offset,
 *   initial: 0,
 *   fetch: (page) => Effect.succeed({ records: [page], next: page < 2 ? Option.some(page + 1) : Option.none() })
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const paginate = <A, C extends Checkpoint.Json, E extends SourceError>(options: {
  readonly name: string
  readonly checkpointSchema: Checkpoint.CheckpointSchema<C>
  readonly initial: C
  readonly fetch: (cursor: C) => Effect.Effect<Page<A, C>, E>
  readonly stream?: string
}): Source<A, C | null> =>
  make<A, C | null>({
    name: options.name,
    checkpointSchema: options.checkpointSchema as unknown as Checkpoint.CheckpointSchema<C | null>,
    read: (from) =>
      from === null
        ? Stream.empty
        : Stream.paginate(from ?? options.initial, (cursor: C) =>
            Effect.map(options.fetch(cursor), (page) => {
              const next = Option.getOrNull(page.next)
              const batch = Batch.make(page.records, {
                stream: options.stream ?? Batch.defaultStream,
                checkpoint: next
              }) as Batch.Batch<A, C | null>
              return [[batch], page.next] as const
            })
          )
  })

const InvalidRecordTypeId: unique symbol = Symbol.for("@data-mcp/core/Source/InvalidRecord")

/**
 * A record a source could read but not parse (a malformed CSV row, a JSON line that is not JSON). A source
 * emits it in place of the record; the runner turns it into a dead letter (stage `source`) instead of failing
 * the run or dropping it.
 *
 * @category models
 * @since 0.1.0
 */
export interface InvalidRecord {
  readonly [InvalidRecordTypeId]: true
  /** Why it could not be parsed (never the raw value). */
  readonly reason: string
  /** The raw input, kept in the dead letter. */
  readonly raw: string
}

/**
 * Makes an invalid-record placeholder.
 *
 * @category constructors
 * @since 0.1.0
 */
export const invalidRecord = (reason: string, raw: string): InvalidRecord => ({
  [InvalidRecordTypeId]: true,
  reason,
  raw
})

/**
 * Whether a record is an invalid-record placeholder.
 *
 * @category guards
 * @since 0.1.0
 */
export const isInvalidRecord = (u: unknown): u is InvalidRecord =>
  typeof u === "object" && u !== null && InvalidRecordTypeId in u

/**
 * The records of a source without its invalid-record placeholders: what transforms see.
 *
 * @category models
 * @since 0.1.0
 */
export type Valid<A> = Exclude<A, InvalidRecord>

/**
 * Runs `read` for up to `concurrency` chunks at a time and emits their output in chunk order. A chunk's permit is
 * returned only once its output has been emitted, so at most `concurrency` chunks are being read or waiting to
 * be emitted at any time (bounded memory); a slow consumer holds back the start of further chunks. A failure
 * ends the stream and interrupts the chunks in flight. For sources that read key ranges (chunks) in parallel.
 *
 * @category combinators
 * @since 0.1.0
 */
export const readAhead = <C, A, E>(
  chunks: Iterable<C>,
  concurrency: number,
  read: (chunk: C, index: number) => Effect.Effect<ReadonlyArray<A>, E, Scope.Scope>
): Stream.Stream<A, E> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const permits = yield* Semaphore.make(concurrency)
      const started = yield* Queue.bounded<Fiber.Fiber<ReadonlyArray<A>, E>, Cause.Done>(concurrency)
      yield* Effect.forEach(
        chunks,
        (chunk, index) =>
          permits.take(1).pipe(
            Effect.andThen(Effect.forkScoped(Effect.scoped(read(chunk, index)))),
            Effect.flatMap((fiber) => Queue.offer(started, fiber))
          ),
        { discard: true }
      ).pipe(Effect.andThen(Queue.end(started)), Effect.forkScoped)
      return Stream.fromQueue(started).pipe(
        Stream.mapEffect(Fiber.join),
        Stream.flatMap((output) => Stream.fromIterable(output).pipe(Stream.ensuring(permits.release(1))))
      )
    })
  )
