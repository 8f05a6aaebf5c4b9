/**
 * In-memory records: a source over an array or any iterable, and a sink that collects what it is given. The
 * source is lazy — batches are pulled from the iterator one at a time, so a generator of millions of records
 * is never materialised — and checkpoints by offset. The sink's collector outlives runs, so tests can check
 * exactly-once across re-runs; with `transactional: true` it keeps a fenced checkpoint table, like a SQL sink
 * that commits data and checkpoint in one transaction.
 *
 * @since 0.1.0
 */
import { Effect, Option, Schema, Stream } from "effect"
import * as Batch from "../../Batch.ts"
import * as Checkpoint from "../../Checkpoint.ts"
import * as Config from "../../Config.ts"
import * as ConnectorError from "../../ConnectorError.ts"
import * as SchemaInference from "../../SchemaInference.ts"
import * as Sink from "../../Sink.ts"
import * as Source from "../../Source.ts"
import { StateError } from "../../StateStore.ts"
import { batchSizeOf, NonEmpty, PositiveInt, untilEnd } from "../internal/options.ts"

/**
 * The options of `Memory.source`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SourceOptions = Schema.Struct({
  batchSize: Schema.optionalKey(
    PositiveInt.annotate({ description: "Records per batch (default: the runner's batch size hint, else 1000)." })
  ),
  stream: Schema.optionalKey(NonEmpty.annotate({ description: 'The stream name of the batches (default "default").' })),
  name: Schema.optionalKey(NonEmpty.annotate({ description: 'The source name in errors and logs (default "memory").' }))
})

/**
 * The options of `Memory.source`.
 *
 * @category models
 * @since 0.1.0
 */
export type SourceOptions = typeof SourceOptions.Type

const isOneShot = (iterable: Iterable<unknown>): boolean =>
  typeof (iterable as Partial<Iterator<unknown>>).next === "function"

/**
 * A source over records in memory, checkpointed by offset (the number of records delivered). `read(from)`
 * skips `from` records and emits batches of `batchSize`, each with the offset after it.
 *
 * **Details**
 *
 * Batches are built by pulling from the iterator, so a lazy iterable is read in constant memory. Resuming
 * re-iterates and skips. Pass an array or a re-iterable (`{ [Symbol.iterator]: gen }`) to read more than once:
 * a one-shot iterator (a generator object) can be read once, and a second read fails rather than silently
 * returning nothing. `estimate` knows the row count when the input is an array.
 *
 * **Example** (Reading an array in batches of two)
 *
 * ```ts
 * import { Memory } from "@data-mcp/core"
 * import { Stream } from "effect"
 *
 * const source = Memory.source([{ id: 1 }, { id: 2 }, { id: 3 }], { batchSize: 2 })
 * const batches = Stream.runCollect(source.read(undefined, { runId: "r1", batchRows: 1000 }))
 * // batches: [{ records: [{ id: 1 }, { id: 2 }], checkpoint: 2 }, { records: [{ id: 3 }], checkpoint: 3 }]
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const source = <A>(records: Iterable<A>, options?: SourceOptions): Source.Source<A, number> => {
  const config = Config.decodeSync("memory", SourceOptions, options ?? {})
  const name = config.name ?? "memory"
  const stream = config.stream ?? Batch.defaultStream
  const oneShot = isOneShot(records)
  let opened = false

  const open = Effect.suspend(() => {
    if (oneShot && opened) {
      return Effect.fail(
        ConnectorError.make(
          name,
          "read",
          new ConnectorError.Unknown({
            detail: "this source reads a one-shot iterator, which was already read; pass an array or a re-iterable"
          })
        )
      )
    }
    opened = true
    return Effect.try({
      try: () => records[Symbol.iterator](),
      catch: (cause) =>
        ConnectorError.make(name, "read", new ConnectorError.Unknown({ detail: "the iterable failed to start", cause }))
    })
  })

  const read = (from: number | undefined, context: Source.ReadContext) => {
    const size = batchSizeOf(config.batchSize, context)
    const start = from ?? 0
    const end = typeof context.end === "number" ? context.end : undefined
    const batches = Stream.unwrap(
      Effect.map(
        Effect.acquireRelease(open, (iterator) =>
          Effect.sync(() => {
            try {
              iterator.return?.()
            } catch {
              // a failing `return` of the caller's iterator must not fail the run
            }
          })
        ),
        (iterator) => {
          let skipped = false
          const nextBatch = (offset: number) =>
            Effect.try({
              try: (): readonly [ReadonlyArray<Batch.Batch<A, number>>, Option.Option<number>] => {
                // Arrays are read by index; an iterator is advanced past the delivered records once.
                if (!skipped) {
                  skipped = true
                  if (!Array.isArray(records)) {
                    for (let i = 0; i < start; i++) if (iterator.next().done) return [[], Option.none()]
                  }
                }
                let batch: Array<A> = []
                if (Array.isArray(records)) {
                  batch = (records as ReadonlyArray<A>).slice(offset, Math.min(records.length, offset + size))
                } else {
                  while (batch.length < size) {
                    const next = iterator.next()
                    if (next.done) break
                    batch.push(next.value)
                  }
                }
                if (batch.length === 0) return [[], Option.none()]
                const after = offset + batch.length
                const out = Batch.make(batch, { stream, checkpoint: after })
                return [[out], batch.length < size ? Option.none() : Option.some(after)]
              },
              catch: (cause) =>
                ConnectorError.make(name, "read", new ConnectorError.Unknown({ detail: "the iterable failed", cause }))
            })
          return Stream.paginate(start, nextBatch)
        }
      )
    )
    return untilEnd(batches, end, (checkpoint) => checkpoint)
  }

  return Source.make<A, number>({
    name,
    checkpointSchema: Checkpoint.offset,
    read,
    estimate: (from) =>
      Effect.succeed(
        Array.isArray(records) ? { rows: Math.max(0, records.length - (from ?? 0)), to: records.length } : {}
      )
  })
}

/**
 * The options of `Memory.sink`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const SinkOptions = Schema.Struct({
  transactional: Schema.optionalKey(
    Schema.Boolean.annotate({
      description: "Commit each batch's records and checkpoint together, fenced by the run's lease (default false)."
    })
  ),
  name: Schema.optionalKey(NonEmpty.annotate({ description: 'The sink name in errors and logs (default "memory").' })),
  maxConcurrentWrites: Schema.optionalKey(
    PositiveInt.annotate({ description: "Batches the runner may write at once (non-transactional only; default 1)." })
  )
})

/**
 * The options of `Memory.sink`.
 *
 * @category models
 * @since 0.1.0
 */
export type SinkOptions = typeof SinkOptions.Type

/**
 * One write the collector received.
 *
 * @category models
 * @since 0.1.0
 */
export interface Write {
  readonly runId: string
  readonly stateKey: string
  readonly token: number
  readonly seq: number
  readonly stream: string
  readonly records: number
  readonly checkpointFrom: Checkpoint.Json | null
  readonly checkpointTo: Checkpoint.Json | undefined
}

/**
 * A memory sink and what it has collected. The collector lives as long as you keep it: records and
 * checkpoints accumulate across runs.
 *
 * @category models
 * @since 0.1.0
 */
export interface Collector<A> {
  /** The sink to hand to a pipeline. */
  readonly sink: Sink.Sink<A>
  /** Every record written so far, in write order. */
  readonly records: () => ReadonlyArray<A>
  /** Every write so far, in order. */
  readonly writes: () => ReadonlyArray<Write>
  /** The number of batches written so far. */
  readonly batches: () => number
  /** Transactional sinks: the checkpoint committed for each state key. */
  readonly checkpoints: () => ReadonlyMap<string, Checkpoint.Json>
  /** Transactional sinks: the checkpoint committed for `stateKey`. */
  readonly checkpoint: (stateKey: string) => Option.Option<Checkpoint.Json>
  /** Forgets records, writes, checkpoints and tokens. */
  readonly clear: () => void
}

/**
 * A sink that appends records to an in-memory array, returned with accessors to what it collected.
 *
 * **Details**
 *
 * Non-transactional (the default): every batch is appended; `capabilities` are
 * `{ transactional: false, idempotent: false }`. Transactional: each write appends the records and stores
 * `checkpointTo` for the run's state key in one step, only if the run's lease token is at least the highest
 * token seen for that key (else it fails with `StateError` `Fenced` and writes nothing); `loadCheckpoint`
 * returns the stored checkpoint. The disposition is `append`.
 *
 * **Example** (Collecting records, exactly once across re-runs)
 *
 * ```ts
 * import { Memory } from "@data-mcp/core"
 *
 * const collector = Memory.sink<{ id: number }>({ transactional: true })
 * // hand collector.sink to a pipeline, run it (twice), then:
 * collector.records().length
 * collector.checkpoint("my-state-key")
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const sink = <A>(options?: SinkOptions): Collector<A> => {
  const config = Config.decodeSync("memory", SinkOptions, options ?? {})
  const name = config.name ?? "memory"
  const transactional = config.transactional ?? false
  let records: Array<A> = []
  let writes: Array<Write> = []
  const checkpoints = new Map<string, Checkpoint.Json>()
  const tokens = new Map<string, number>()
  // The last (token, seq) applied per state key, committed with the data: a retried write that already
  // committed (its acknowledgement was lost) is recognised and skipped, so a retry never duplicates.
  const applied = new Map<string, { readonly runId: string; readonly token: number; readonly seq: number }>()

  const fenced = (context: Sink.OpenContext) => {
    const highest = tokens.get(context.stateKey)
    return highest !== undefined && context.lease.token < highest
      ? Option.some(
          new StateError({
            reason: "Fenced",
            key: context.stateKey,
            detail: `run ${context.runId} holds token ${context.lease.token}, but token ${highest} took the lease over; stop without writing`
          })
        )
      : Option.none()
  }

  const open = (context: Sink.OpenContext) =>
    Effect.suspend(() => {
      if (transactional) {
        const stale = fenced(context)
        if (Option.isSome(stale)) return Effect.fail(stale.value)
        tokens.set(context.stateKey, context.lease.token)
      }
      const write = (batch: Batch.Batch<A>, write: Sink.WriteContext) =>
        Effect.suspend(() => {
          if (transactional) {
            const stale = fenced(context)
            if (Option.isSome(stale)) return Effect.fail(stale.value)
            const last = applied.get(context.stateKey)
            // Only this very run's write again is a replay: a forgetful state store may reuse the token.
            if (
              last !== undefined &&
              last.runId === context.runId &&
              last.token === context.lease.token &&
              last.seq >= write.seq
            ) {
              return Effect.succeed<Sink.WriteResult>({ written: batch.records.length })
            }
            applied.set(context.stateKey, { runId: context.runId, token: context.lease.token, seq: write.seq })
            if (write.checkpointTo !== undefined) checkpoints.set(context.stateKey, write.checkpointTo)
          }
          for (const record of batch.records) records.push(record)
          writes.push({
            runId: context.runId,
            stateKey: context.stateKey,
            token: context.lease.token,
            seq: write.seq,
            stream: batch.stream,
            records: batch.records.length,
            checkpointFrom: write.checkpointFrom,
            checkpointTo: write.checkpointTo
          })
          return Effect.succeed<Sink.WriteResult>({ written: batch.records.length })
        })
      const writer: Sink.Writer<A> = transactional
        ? { write, loadCheckpoint: Effect.sync(() => Option.fromUndefinedOr(checkpoints.get(context.stateKey))) }
        : { write }
      return Effect.succeed(writer)
    })

  return {
    sink: Sink.make<A>({
      name,
      capabilities: {
        transactional,
        idempotent: false,
        maxConcurrentWrites: transactional ? 1 : (config.maxConcurrentWrites ?? 1)
      },
      disposition: Sink.append,
      open,
      // Memory holds any record: a run appends, and nothing about its shape changes.
      plan: () =>
        Effect.sync(() => ({ target: name, exists: true, rows: records.length, changes: SchemaInference.emptyDiff }))
    }),
    records: () => records,
    writes: () => writes,
    batches: () => writes.length,
    checkpoints: () => checkpoints,
    checkpoint: (stateKey) => Option.fromUndefinedOr(checkpoints.get(stateKey)),
    clear: () => {
      records = []
      writes = []
      checkpoints.clear()
      tokens.clear()
      applied.clear()
    }
  }
}
