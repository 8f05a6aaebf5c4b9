// Chunked snapshots: a table stream without a cursor read as key ranges of about `rows` rows each, planned once
// at the start and read up to `concurrency` at a time, each on its own connection, emitted in key order so every
// checkpoint stays valid.
//
// MySQL and MariaDB cannot hand one transaction's snapshot to another connection (PostgreSQL's
// `pg_export_snapshot`). The readers share one anyway, the way mydumper does: a separate connection takes
// `LOCK TABLES t READ` (which waits for transactions that wrote to `t` to end and holds off new writes), every
// reader then opens `START TRANSACTION WITH CONSISTENT SNAPSHOT`, and the lock is released — a brief pause of the
// table's writers, after which all readers see the same committed state of `t`. Where the lock is refused (no
// LOCK TABLES privilege), each reader has its own snapshot; the plan's fixed upper key bound (the high-water mark)
// still holds, but a row changed between the readers' starts may be read in either version (warned in the log).
import { type Batch, type ConnectorError, Source } from "@data-mcp/core"
import { Effect, Queue, type Scope, Stream } from "effect"
import type * as MysqlCodec from "../MysqlCodec.ts"
import { sql } from "../Sql.ts"
import * as Pool from "./pool.ts"
import * as internal from "./source.ts"
import * as SourceRows from "./sourceRows.ts"

/** How a snapshot is chunked. */
export interface Chunking {
  /** Rows per chunk. */
  readonly rows: number
  /** Chunks read at once, each on its own connection. */
  readonly concurrency: number
}

/** The defaults of `chunks` options left out. */
export const defaults: Chunking = { rows: 50_000, concurrency: 2 }

/** How the readers' snapshots were opened. */
export type Consistency = "shared" | "per-reader"

/** A key range `(after, upper]`. */
export interface KeyRange {
  readonly after: string | undefined
  readonly upper: string
}

/** Ranges from the boundaries `keyBoundaries` found: `(after, b1], (b1, b2], …, (bn, upper]`. */
export const toRanges = (
  after: string | undefined,
  boundaries: ReadonlyArray<string>,
  upper: string
): ReadonlyArray<KeyRange> => {
  const ranges: Array<KeyRange> = []
  let lower = after
  for (const boundary of boundaries) {
    ranges.push({ after: lower, upper: boundary })
    lower = boundary
  }
  if (lower !== upper) ranges.push({ after: lower, upper })
  return ranges
}

const rawText = (field: { string(): string | null }) => field.string()

/** Errors of `LOCK TABLES` that mean "not allowed" (then each reader keeps its own snapshot). */
const LOCK_REFUSED: ReadonlySet<number> = new Set([1044, 1142, 1227])

const lockRefused = (error: ConnectorError.ConnectorError): boolean => {
  const errno = (error.reason.cause as { readonly errno?: unknown } | undefined)?.errno
  return typeof errno === "number" && LOCK_REFUSED.has(errno)
}

/**
 * `concurrency` connections, each in a read-only snapshot transaction; shared (the same committed state of the
 * table) when the table could be locked while they opened. Released when the scope closes.
 */
export const openReaders = (
  pool: Pool.Pool,
  table: internal.TableName,
  concurrency: number
): Effect.Effect<
  { readonly readers: ReadonlyArray<Pool.Connection>; readonly consistency: Consistency },
  ConnectorError.ConnectorError,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const readers: Array<Pool.Connection> = []
    if (concurrency === 1) {
      const c = yield* Pool.connection(pool, "read")
      yield* SourceRows.snapshot(c)
      return { readers: [c], consistency: "shared" as const }
    }
    // The lock holder is one more connection, held (and returned to the pool) with the readers.
    const holder = yield* Pool.connection(pool, "read")
    const lock = yield* Effect.result(
      Pool.query(holder, sql`lock tables ${sql.ident([table.database, table.table])} read`, "read")
    )
    if (lock._tag === "Failure") {
      if (!lockRefused(lock.failure)) return yield* Effect.fail(lock.failure)
      yield* Effect.logWarning(
        `LOCK TABLES on ${table.database}.${table.table} was refused: each chunk reader takes its own snapshot (rows up to the fixed upper key bound; a row changed meanwhile may be read in either version)`
      )
    }
    const unlock = lock._tag === "Success" ? Effect.ignore(Pool.query(holder, sql`unlock tables`, "read")) : Effect.void
    yield* Effect.addFinalizer(() => unlock)
    for (let i = 0; i < concurrency; i++) {
      const c = yield* Pool.connection(pool, "read")
      yield* SourceRows.snapshot(c)
      readers.push(c)
    }
    // Every reader's snapshot is open: the table's writers may go on.
    yield* unlock
    return { readers, consistency: lock._tag === "Success" ? ("shared" as const) : ("per-reader" as const) }
  })

/** What `read` needs to know of the stream. */
export interface ChunkedStream<C> {
  readonly source: string
  readonly stream: string
  readonly pool: Pool.Pool
  readonly table: internal.TableName
  readonly relation: internal.Relation
  readonly columns: ReadonlyArray<string>
  readonly key: { readonly name: string; readonly kind: MysqlCodec.Kind }
  readonly limit: number
  readonly chunking: Chunking
  readonly decode: (rows: Array<SourceRows.Row>) => void
  /** The exact text of a decoded key. */
  readonly keyText: (row: SourceRows.Row) => string
  /** Where the stream resumes (after this key), absent on a first run. */
  readonly after: string | undefined
  /** A backfill's end key, which bounds the snapshot like the upper bound. */
  readonly end: string | undefined
  /** The batch after which the stream is at `position` (recording it as the stream's position). */
  readonly batch: (
    records: ReadonlyArray<SourceRows.Row>,
    position: { readonly key: string } | { readonly done: true }
  ) => Batch.Batch<SourceRows.Row, C>
}

/**
 * Reads a table stream as a chunked snapshot: the readers open their snapshots, the first one fixes the upper
 * bound (the high-water mark, `max(key)`, or the backfill's end) and plans the key ranges, then up to
 * `concurrency` ranges are read at once, each by one streamed query on a free reader. Batches of up to `limit`
 * rows are emitted in key order, each with its `{ key }` checkpoint; the end is `{ done: true }`.
 */
export const read = <C>(
  options: ChunkedStream<C>
): Stream.Stream<Batch.Batch<SourceRows.Row, C>, ConnectorError.ConnectorError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const { chunking, key, limit } = options
      const { readers } = yield* openReaders(options.pool, options.table, chunking.concurrency)
      const planner = readers[0]!
      const done = Stream.suspend(() => Stream.make(options.batch([], { done: true })))
      const [top] = yield* Pool.query<{ upper: string | null }>(
        planner,
        internal.upperBound(options.relation, key.name),
        "read",
        { typeCast: rawText }
      )
      let upper = top?.upper ?? null
      if (upper !== null && options.end !== undefined) {
        const [bounded] = yield* Pool.query<{ upper: string | null }>(
          planner,
          sql`select least(${internal.bindBoundary(key.kind, upper)}, ${internal.bindBoundary(key.kind, options.end)}) as upper`,
          "read",
          { typeCast: rawText }
        )
        upper = bounded?.upper ?? null
      }
      if (upper === null || (options.after !== undefined && options.after === upper)) return done
      const boundaries = yield* Pool.query<{ boundary: string }>(
        planner,
        internal.keyBoundaries(options.relation, key, options.after, upper, chunking.rows),
        "read",
        { typeCast: rawText }
      )
      const ranges = toRanges(
        options.after,
        boundaries.map((b) => b.boundary),
        upper
      )
      const free = yield* Queue.unbounded<Pool.Connection>()
      yield* Queue.offerAll(free, readers)
      const chunk = (range: KeyRange) =>
        Effect.acquireUseRelease(
          Queue.take(free),
          (reader) =>
            Stream.runCollect(
              SourceRows.streamRows(
                reader,
                internal.readQuery({
                  relation: options.relation,
                  columns: options.columns,
                  cursor: undefined,
                  key,
                  upper: range.upper,
                  after: range.after === undefined ? undefined : { key: range.after }
                }),
                limit,
                options.decode
              )
            ),
          (reader) => Queue.offer(free, reader)
        )
      const batches = Stream.flatMap(Source.readAhead(ranges, chunking.concurrency, chunk), (records) =>
        Stream.make(options.batch(records, { key: options.keyText(records[records.length - 1]!) }))
      )
      return Stream.concat(batches, done)
    })
  )
