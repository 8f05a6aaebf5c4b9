// Chunked snapshots: a stream read as a sequence of chunks — key ranges of about `rows` rows each, or CTID ranges
// (heap pages) for a table without a key — planned once at the start, inside the read's snapshot, and read up to
// `concurrency` at a time, each on its own connection in that same snapshot (exported by the first transaction,
// imported by the others). Chunks are read ahead concurrently but emitted in order, so every checkpoint stays
// valid; at most `concurrency` chunks are read or held at once.
import { type Batch, ConnectorError, Source } from "@data-mcp/core"
import { Effect, Stream } from "effect"
import type pg from "pg"
import type * as PostgresCodec from "../PostgresCodec.ts"
import * as Pool from "./pool.ts"
import * as internal from "./source.ts"
import * as SourcePage from "./sourcePage.ts"
import * as Transaction from "./sourceTransaction.ts"

/** How a snapshot is chunked. */
export interface Chunking {
  /** Rows per chunk (for CTID ranges: the pages that hold about this many rows). */
  readonly rows: number
  /** Chunks read at once, each on its own connection. */
  readonly concurrency: number
}

/** The defaults of `chunks` options left out. */
export const defaults: Chunking = { rows: 50_000, concurrency: 2 }

/** A position in a chunked stream: after a key, before a heap page, or finished. */
export type Position = { readonly key: string } | { readonly page: number } | { readonly done: true }

/** A key range `(after, upper]`. */
interface KeyRange {
  readonly after: string | undefined
  readonly upper: string
}

/** One page read, and the position after it. */
interface Read {
  readonly page: SourcePage.Page
  readonly position: Position
}

const fail = (source: string, detail: string) =>
  ConnectorError.make(source, "read", new ConnectorError.Unknown({ detail }))

/** Key ranges of `rows` rows each from `after` to `upper`, computed in the client's snapshot. */
const keyRanges = (
  client: pg.PoolClient,
  from: internal.Relation,
  key: string,
  after: string | undefined,
  upper: string,
  rows: number
) =>
  Effect.map(
    Pool.query<{ boundary: string }>(client, internal.keyBoundaries(from, key, after, upper, rows), "read"),
    (result): ReadonlyArray<KeyRange> => {
      const ranges: Array<KeyRange> = []
      let lower = after
      for (const { boundary } of result.rows) {
        ranges.push({ after: lower, upper: boundary })
        lower = boundary
      }
      if (lower !== upper) ranges.push({ after: lower, upper })
      return ranges
    }
  )

/**
 * Heap page ranges of about `rows` rows each from page `start` (the last one open-ended), for a plain table or
 * materialized view, held against rewrites for the transaction. Rows per page come from the planner's
 * statistics, or from an exact count when the table was never analysed.
 */
const pageRanges = (
  source: string,
  stream: string,
  client: pg.PoolClient,
  table: internal.TableName,
  start: number,
  rows: number
) =>
  Effect.gen(function* () {
    yield* Pool.query(client, internal.lockShared(table), "read")
    const info = (yield* Pool.query<{ kind: string; pages: number; tuples: number; relpages: number }>(
      client,
      internal.tablePages(table),
      "read"
    )).rows[0]
    if (info === undefined || (info.kind !== "r" && info.kind !== "m"))
      return yield* fail(
        source,
        `${stream} has no key: a stream without one is read by CTID ranges, which only a plain table or a materialized view has. Give the stream a key.`
      )
    if (info.pages <= start) return []
    let perPage = info.tuples > 0 && info.relpages > 0 ? info.tuples / info.relpages : undefined
    if (perPage === undefined) {
      const counted = (yield* Pool.query<{ rows: number }>(client, internal.countRows(table), "read")).rows[0]!.rows
      perPage = Math.max(1, counted / info.pages)
    }
    const step = Math.max(1, Math.floor(rows / perPage))
    const ranges: Array<internal.PageRange> = []
    for (let from = start; from < info.pages; from += step)
      ranges.push({ from, to: from + step < info.pages ? from + step : undefined })
    return ranges
  })

/** What `read` needs to know of the stream. */
export interface ChunkedStream<C> {
  readonly source: string
  readonly stream: string
  readonly pool: pg.Pool
  readonly table: internal.TableName
  readonly columns: ReadonlyArray<PostgresCodec.Column>
  /** Absent: CTID ranges. */
  readonly key: string | undefined
  readonly limit: number
  readonly groupRows: number
  /** See `SourcePage.PageContext.binary`. */
  readonly binary: boolean
  /** See `SourcePage.PageContext.undecoded`. */
  readonly undecoded: boolean
  readonly chunking: Chunking
  /** Where the stream resumes (`{ key }` or `{ page }`), absent on a first run. */
  readonly start: { readonly key: string } | { readonly page: number } | undefined
  /** A backfill's end key, which bounds the snapshot like the upper bound. */
  readonly end: string | undefined
  /** The checkpoint of a batch whose last row is at `position` (recording it as the stream's position). */
  readonly checkpoint: (position: Position) => C
}

/**
 * Reads a stream as a chunked snapshot. A first transaction fixes the upper bound (the high-water mark) and plans
 * the chunks, then exports its snapshot; each chunk is read by keyset pages (or one COPY of its CTID range) on a
 * connection that imported it. Pages are emitted in key order, each with its `{ key }` checkpoint; a CTID chunk is
 * one COPY whose checkpoint is the next chunk's first page; the end is `{ done: true }`. (A page's rows may come
 * in several batches: only the last one carries the checkpoint.)
 */
export const read = <C>(
  options: ChunkedStream<C>
): Stream.Stream<Batch.Batch<PostgresCodec.Row, C>, ConnectorError.ConnectorError> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const { chunking, key, limit, source, stream } = options
      const holder = yield* Pool.client(options.pool, "read")
      yield* Transaction.readOnly(holder)
      // One connection reads the chunks in its own transaction; several import its snapshot.
      const snapshot = chunking.concurrency > 1 ? yield* Transaction.share(holder) : undefined
      const connect = () => (snapshot === undefined ? Effect.succeed(holder) : Transaction.join(options.pool, snapshot))
      const context = (client: pg.PoolClient): SourcePage.PageContext => ({
        source,
        client,
        from: options.table,
        columns: options.columns,
        cursor: undefined,
        key,
        limit,
        groupRows: options.groupRows,
        binary: options.binary,
        undecoded: options.undecoded
      })
      const done = Stream.suspend(() =>
        Stream.fromIterable(SourcePage.toBatches(source, SourcePage.empty, stream, options.checkpoint, { done: true }))
      )
      const emit = (reads: Stream.Stream<Read, ConnectorError.ConnectorError>) =>
        Stream.flatMap(reads, (r) =>
          Stream.fromIterable(SourcePage.toBatches(source, r.page, stream, options.checkpoint, r.position))
        )

      if (key === undefined) {
        const start = options.start !== undefined && "page" in options.start ? options.start.page : 0
        const ranges = yield* pageRanges(source, stream, holder, options.table, start, chunking.rows)
        if (ranges.length === 0) return done
        const chunk = (range: internal.PageRange) =>
          Effect.gen(function* () {
            const page = yield* SourcePage.read(context(yield* connect()), {
              upper: null,
              after: undefined,
              pages: range
            })
            return [{ page, position: range.to === undefined ? { done: true } : { page: range.to } } as Read]
          })
        return emit(Source.readAhead(ranges, chunking.concurrency, chunk))
      }

      const { rows } = yield* Pool.query<{ upper: string | null }>(
        holder,
        internal.upperBound(options.table, key, { end: options.end }),
        "read"
      )
      const upper = rows[0]?.upper ?? null
      if (upper === null) return done
      const after = options.start !== undefined && "key" in options.start ? options.start.key : undefined
      const ranges = yield* keyRanges(holder, options.table, key, after, upper, chunking.rows)
      const chunk = (range: KeyRange) =>
        Effect.gen(function* () {
          const page = context(yield* connect())
          const reads: Array<Read> = []
          let last = range.after
          for (;;) {
            const read = yield* SourcePage.read(page, {
              upper: range.upper,
              after: last === undefined ? undefined : { key: last }
            })
            if (read.last !== undefined) {
              reads.push({ page: read, position: { key: read.last.key } })
              last = read.last.key
            }
            if (read.rows < limit) return reads
          }
        })
      return Stream.concat(emit(Source.readAhead(ranges, chunking.concurrency, chunk)), done)
    })
  )
