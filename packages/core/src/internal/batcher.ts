// Re-batches a source's batches by rows, bytes and time, whichever limit comes first. A source batch larger
// than the limits is split (only its last piece carries its checkpoint); small ones are merged (the merged
// batch carries the checkpoint of the last source batch it holds whole). Batches of different streams are
// never merged. Every buffer is bounded: the source is pulled only when the output queue has room.
import { Cause, Effect, Option, Queue, type Scope, Stream } from "effect"
import { type Batch, encodedOf } from "../Batch.ts"

export interface Limits {
  readonly rows: number
  readonly bytes: number
  readonly maxWaitMs: number
  /**
   * For transactional sinks: never split a source batch, and close a batch only where a source batch with a
   * checkpoint ends, so every write commits a checkpoint with its records (else a resume re-reads records a
   * committed write already holds). Limits then apply at those boundaries.
   */
  readonly atCheckpointsOnly?: boolean | undefined
}

/** A batch numbered in source order, with its size. */
export interface Numbered<A> {
  readonly seq: number
  /** Emptied by the consumer once taken (a queue slot may keep the wrapper reachable for a while). */
  batch: Batch<A, unknown>
  readonly bytes: number
}

const replacer = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v)

/** Estimates the JSON size of records from up to four samples. */
export const estimateBytes = (records: ReadonlyArray<unknown>): number => {
  const n = records.length
  if (n === 0) return 0
  const picks = n <= 4 ? records : [records[0], records[n >> 2], records[n >> 1], records[n - 1]]
  let total = 0
  for (const r of picks) total += (JSON.stringify(r, replacer) ?? "").length + 1
  return Math.ceil((total / picks.length) * n)
}

/**
 * Starts a fiber (in the current scope) that pulls `upstream` and offers re-batched, numbered batches to the
 * returned stream. `capacity` bounds how many finished batches wait for the consumer.
 */
export const rebatch = <A, E>(
  upstream: Stream.Stream<Batch<A, unknown>, E>,
  limits: Limits,
  capacity: number,
  /**
   * Joins two encoded batches of one stream (the later one second) into one, or says they cannot be joined
   * (`undefined`: another format or other columns). Without it, encoded batches go on whole, one by one.
   */
  mergeEncoded?: (first: Batch<A, unknown>, second: Batch<A, unknown>) => Batch<A, unknown> | undefined
): Effect.Effect<Stream.Stream<Numbered<A>, E>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const input = yield* Stream.toQueue(upstream, { capacity: 1 })
    const output = yield* Queue.bounded<Numbered<A>, E | Cause.Done>(capacity)
    let seq = 0
    let records: Array<A> = []
    // Whether `records` is our own array: the fast path borrows the source's array, which must never be
    // pushed to (a source may keep it, e.g. an in-memory source's data).
    let owned = true
    let bytes = 0
    let stream: string | undefined
    let checkpoint: unknown
    let hasCheckpoint = false
    let endsAtCheckpoint = true
    let openedAt = 0

    // An encoded batch being joined with the next ones (never at the same time as pending records).
    let encodedPending: { batch: Batch<A, unknown>; rows: number; bytes: number } | undefined

    const flush = Effect.suspend(() => {
      if (encodedPending !== undefined) {
        const { batch, bytes: size } = encodedPending
        encodedPending = undefined
        stream = undefined
        return Queue.offer(output, { seq: seq++, batch, bytes: size })
      }
      if (stream === undefined) return Effect.void
      if (records.length === 0 && !hasCheckpoint) {
        // Nothing to emit, but the pending batch is closed all the same: the next records may be of another stream.
        stream = undefined
        return Effect.void
      }
      const batch: Batch<A, unknown> = hasCheckpoint
        ? { stream, records, checkpoint, bytes }
        : { stream, records, checkpoint: undefined, bytes }
      const numbered: Numbered<A> = { seq: seq++, batch, bytes }
      records = []
      owned = true
      bytes = 0
      stream = undefined
      checkpoint = undefined
      hasCheckpoint = false
      return Queue.offer(output, numbered)
    })

    const add = Effect.fnUntraced(function* (fragment: Batch<A, unknown>) {
      const encoded = encodedOf(fragment)
      if (encoded !== undefined) {
        // Encoded rows are never split; with `mergeEncoded` they are joined up to the limits.
        if (encoded.rows === 0 && fragment.checkpoint === undefined) return
        const size = fragment.bytes ?? encoded.chunks.reduce((n, c) => n + c.byteLength, 0)
        const joined =
          encodedPending !== undefined && stream === fragment.stream && mergeEncoded !== undefined
            ? mergeEncoded(encodedPending.batch, fragment)
            : undefined
        if (joined !== undefined && encodedPending !== undefined) {
          encodedPending = {
            batch: joined,
            rows: encodedPending.rows + encoded.rows,
            bytes: encodedPending.bytes + size
          }
        } else {
          yield* flush
          if (mergeEncoded === undefined)
            return yield* Queue.offer(output, { seq: seq++, batch: fragment, bytes: size })
          encodedPending = { batch: fragment, rows: encoded.rows, bytes: size }
          stream = fragment.stream
          openedAt = Date.now()
        }
        endsAtCheckpoint = fragment.checkpoint !== undefined
        if (
          (encodedPending.rows >= limits.rows || encodedPending.bytes >= limits.bytes) &&
          (endsAtCheckpoint || limits.atCheckpointsOnly !== true)
        )
          yield* flush
        return
      }
      if (encodedPending !== undefined) yield* flush
      // An empty batch without a checkpoint carries nothing.
      if (fragment.records.length === 0 && fragment.checkpoint === undefined) return
      if (stream !== undefined && stream !== fragment.stream) yield* flush
      const n = fragment.records.length
      const perRecord = n === 0 ? 0 : (fragment.bytes ?? estimateBytes(fragment.records)) / n
      if (stream === undefined) {
        stream = fragment.stream
        openedAt = Date.now()
      }
      endsAtCheckpoint = fragment.checkpoint !== undefined
      if (limits.atCheckpointsOnly === true) {
        if (records.length === 0) records = n === 0 ? [] : [...fragment.records]
        else for (let j = 0; j < n; j++) records.push(fragment.records[j]!)
        bytes += perRecord * n
      } else if (records.length === 0 && n <= limits.rows && perRecord * n <= limits.bytes) {
        // Fast path: nothing pending and the fragment fits whole.
        records = n === 0 ? [] : (fragment.records as Array<A>)
        owned = n === 0
        bytes = perRecord * n
      } else {
        let i = 0
        while (i < n) {
          const roomRows = limits.rows - records.length
          const roomBytes = perRecord === 0 ? roomRows : Math.floor((limits.bytes - bytes) / perRecord)
          // The next record does not fit: close the pending batch first, so no batch goes over `rows` or
          // `bytes` (a single record larger than `bytes` still goes, alone).
          if (records.length > 0 && (roomRows <= 0 || roomBytes <= 0)) {
            yield* flush
            stream = fragment.stream
            openedAt = Date.now()
            continue
          }
          const take = Math.max(1, Math.min(roomRows, roomBytes, n - i))
          if (!owned) {
            records = records.slice()
            owned = true
          }
          for (let j = i; j < i + take; j++) records.push(fragment.records[j]!)
          bytes += take * perRecord
          i += take
        }
      }
      if (fragment.checkpoint !== undefined) {
        checkpoint = fragment.checkpoint
        hasCheckpoint = true
      }
      if (
        (records.length >= limits.rows || bytes >= limits.bytes) &&
        (endsAtCheckpoint || limits.atCheckpointsOnly !== true)
      ) {
        yield* flush
      }
    })

    const loop = Effect.gen(function* () {
      while (true) {
        const waiting = stream !== undefined
        const next = waiting
          ? yield* Queue.take(input).pipe(Effect.timeoutOption(Math.max(0, limits.maxWaitMs - (Date.now() - openedAt))))
          : Option.some(yield* Queue.take(input))
        if (Option.isNone(next)) {
          if (endsAtCheckpoint || limits.atCheckpointsOnly !== true) yield* flush
          else openedAt = Date.now()
        } else yield* add(next.value)
      }
    })

    yield* loop.pipe(
      Effect.catchCause((cause) =>
        Effect.andThen(
          flush,
          Cause.hasFails(cause) && Cause.isDone(Cause.squash(cause))
            ? Queue.end(output)
            : Queue.failCause(output, cause as Cause.Cause<E>)
        )
      ),
      Effect.forkScoped
    )
    return Stream.fromQueue(output)
  })
