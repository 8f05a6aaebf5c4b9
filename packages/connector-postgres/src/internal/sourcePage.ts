// One page of a source stream: the COPY statement rendered by the server for the page's bounds, run on a client
// inside the read's snapshot, its rows decoded with the codec (or kept as COPY text for an encoded batch), and
// the page's last (cursor, key) as exact text — where the next page starts and what the checkpoint holds.
import { Batch, ConnectorError } from "@data-mcp/core"
import { Effect } from "effect"
import type pg from "pg"
import * as PostgresCodec from "../PostgresCodec.ts"
import * as PostgresError from "../PostgresError.ts"
import * as CopyBinary from "./copyBinary.ts"
import * as EncodedRows from "./encodedRows.ts"
import * as Pool from "./pool.ts"
import * as internal from "./source.ts"
import * as SourceBuffers from "./sourceBuffers.ts"

/** What does not change from page to page of one stream read. */
export interface PageContext {
  /** The source's name, for errors. */
  readonly source: string
  readonly client: pg.PoolClient
  readonly from: internal.Relation
  readonly columns: ReadonlyArray<PostgresCodec.Column>
  readonly cursor: string | undefined
  /** Absent: no keyset (a CTID range, or the whole relation). */
  readonly key: string | undefined
  readonly limit: number
  /** Rows per group of COPY rows handed over (see `groupRows`). */
  readonly groupRows: number
  /**
   * Read pages in COPY binary when the column types allow it (see `CopyBinary.supports`): the runner asked for
   * rows a sink loads in that format as they are.
   */
  readonly binary: boolean
  /**
   * A sink may load the rows undecoded (the runner asked for an encoding). A page's bytes are kept in `SourceBuffers`'
   * pages either way; their views are given back by the sink once it has committed them when `undecoded`, else by
   * each group as soon as it is decoded (nothing else reads them).
   */
  readonly undecoded: boolean
}

/**
 * Rows per undecoded group of a page, when the runner did not ask for COPY text (then: the batch size). Each group
 * is one batch through the runner's stream, and its records live until the runner has processed them all (in slices
 * of 512): 2,048 cost ~5% less CPU per row than 512 on the map benchmark (fewer batches through the stream and
 * its stages), for the same peak memory.
 */
const GROUP_ROWS = 2048

/**
 * Rows per group of a page: a batch's worth when the runner asked for COPY text (nothing decodes them), else
 * small (each group decodes on its own, so decoded records are made and die a group at a time).
 */
export const groupRows = (encoded: boolean, batchRows: number): number =>
  encoded ? batchRows : Math.min(GROUP_ROWS, batchRows)

/** The bounds of one page (see `internal.PageQuery`). */
export type PageBounds = Pick<internal.PageQuery, "upper" | "after" | "nulls" | "end" | "lower" | "pages">

/**
 * A page read: decoded records, or its rows as COPY text in groups that decode when first read; how many rows,
 * and the last row's position (none when empty).
 */
export interface Page {
  readonly records: ReadonlyArray<PostgresCodec.Row> | undefined
  readonly groups: ReadonlyArray<Batch.Encoded> | undefined
  /** With a keyset: the position of each group's last row (every group then ends at a checkpoint). */
  readonly ends: ReadonlyArray<internal.PageStart> | undefined
  readonly rows: number
  readonly last: internal.PageStart | undefined
  /**
   * Each group gives its views of `SourceBuffers`' pages back once decoded: nothing loads them undecoded (see
   * `PageContext.undecoded`), so its bytes are done with. Absent: the sink gives them back, or there are none.
   */
  readonly releasedOnDecode?: boolean
}

/** A page with no rows. */
export const empty: Page = { records: [], groups: undefined, ends: undefined, rows: 0, last: undefined }

/** A read failure: a malformed value (`CodecError`, not retryable) or a classified driver error. */
export const failure =
  (source: string) =>
  (cause: unknown): ConnectorError.ConnectorError =>
    cause instanceof PostgresCodec.CodecError
      ? ConnectorError.make(source, "read", new ConnectorError.Unknown({ detail: cause.message, cause }))
      : PostgresError.toConnectorError(cause, "read")

/** Reads one page. */
export const read = (context: PageContext, bounds: PageBounds): Effect.Effect<Page, ConnectorError.ConnectorError> =>
  Effect.gen(function* () {
    const { cursor, key, columns } = context
    const hasCursor = cursor !== undefined
    // Encoded pages read the boundary off the last row, when the key (and cursor) are among the columns read.
    const keyIndex = key === undefined ? -1 : columns.findIndex((c) => c.name === key)
    const cursorIndex = hasCursor ? columns.findIndex((c) => c.name === cursor) : keyIndex
    // Pages are read as COPY text whenever the boundary can be read off the last row (the key, and the cursor,
    // are among the columns read), and handed over undecoded in groups that decode when something reads their
    // records: records are made (and die) a group at a time, not a page at a time; with COPY text asked for, never.
    const direct = key === undefined || (keyIndex >= 0 && cursorIndex >= 0)
    const rendered = yield* Pool.query<{ statement: string }>(
      context.client,
      internal.renderCopy({
        from: context.from,
        columns: columns.map((c) => c.name),
        cursor,
        key,
        limit: context.limit,
        withoutBoundary: direct,
        ...bounds
      }),
      "read"
    )
    const oids = columns.map((c) => c.oid)
    const binary =
      direct &&
      context.binary &&
      CopyBinary.supports(oids) &&
      (keyIndex < 0 || CopyBinary.supportsBoundary(oids[keyIndex]!)) &&
      (cursorIndex < 0 || CopyBinary.supportsBoundary(oids[cursorIndex]!))
    // The rendered statement ends with `TO STDOUT`; the option is a constant.
    const statement = binary ? `${rendered.rows[0]!.statement} (FORMAT binary)` : rendered.rows[0]!.statement
    const position = (cursorText: string | null | undefined, keyText: string): internal.PageStart =>
      hasCursor ? { cursor: bounds.nulls === true ? null : (cursorText ?? null), key: keyText } : { key: keyText }
    if (direct)
      return yield* Effect.tryPromise({
        try: async (): Promise<Page> => {
          const { chunks, rows: reported } = await internal.copyChunks(context.client, statement, true)
          return handOver(context, chunks, () =>
            binary
              ? binaryPage(context, chunks, keyIndex, cursorIndex, position)
              : textPage(context, chunks, reported, keyIndex, cursorIndex, position)
          )
        },
        catch: failure(context.source)
      })
    // The boundary columns are kept aside by the decoder (last row only), never put on the records.
    const boundary: Array<PostgresCodec.Column> =
      key === undefined
        ? []
        : [
            ...(hasCursor ? [{ name: internal.CURSOR_TEXT, oid: PostgresCodec.Oid.text }] : []),
            { name: internal.KEY_TEXT, oid: PostgresCodec.Oid.text }
          ]
    const { rows: records, aside } = yield* Effect.tryPromise({
      try: () => internal.copyRows(context.client, statement, [...columns, ...boundary], boundary.length),
      catch: failure(context.source)
    })
    const last =
      records.length === 0 || key === undefined
        ? undefined
        : hasCursor
          ? position(aside[0] as string, aside[1] as string)
          : position(undefined, aside[0] as string)
    return { records, groups: undefined, ends: undefined, rows: records.length, last }
  })

/**
 * Hands a page's chunks (in `SourceBuffers`' pages) on: lends every view its groups hold, given back by the sink
 * once committed when it may load them undecoded, else by each group once decoded; and unpins the chunks, also when
 * cutting the page fails.
 *
 * (Copying the socket's reads into reused pages costs a copy, but the reads then die young. Kept until their page's
 * last group was processed, they were promoted, and their bytes waited for a full collection: a map pipeline's
 * external memory then ran ~40 MiB above what it held, and more of its time went to full collections.)
 */
const handOver = (context: PageContext, chunks: ReadonlyArray<Uint8Array>, cut: () => Page): Page => {
  try {
    const page = cut()
    for (const group of page.groups ?? []) for (const view of group.chunks) SourceBuffers.lend(view)
    return context.undecoded ? page : { ...page, releasedOnDecode: true }
  } finally {
    SourceBuffers.unpin(chunks)
  }
}

/** A page read in COPY text: its rows split into groups, each group's last row read for its position. */
const textPage = (
  context: PageContext,
  chunks: ReadonlyArray<Uint8Array>,
  reported: number | undefined,
  keyIndex: number,
  cursorIndex: number,
  position: (cursorText: string | null | undefined, keyText: string) => internal.PageStart
): Page => {
  const columns = context.columns
  const encodedColumns = columns.map((c) => ({ name: c.name, type: String(c.oid) }))
  // A page that fits one group is one group of all its chunks, counted by PostgreSQL: no row is looked at.
  const split =
    reported !== undefined && reported <= context.groupRows
      ? [{ chunks, rows: reported }]
      : EncodedRows.groupRows(chunks, context.groupRows)
  const groups = split.map(
    (g): Batch.Encoded => ({ format: EncodedRows.COPY_TEXT, columns: encodedColumns, rows: g.rows, chunks: g.chunks })
  )
  const rows = groups.reduce((n, g) => n + g.rows, 0)
  if (rows === 0 || context.key === undefined)
    return { records: undefined, groups, ends: undefined, rows, last: undefined }
  // Every group ends at a row, so its last row is a position.
  const ends = split.map((g) => {
    const [cursorText, keyText] = EncodedRows.lastRowFields(g.chunks, columns.length, [cursorIndex, keyIndex])
    return position(cursorText, keyText!)
  })
  return { records: undefined, groups, ends, rows, last: ends.at(-1) }
}

/** A page read in COPY binary: its rows split into groups, each group's last row read for its position. */
const binaryPage = (
  context: PageContext,
  chunks: ReadonlyArray<Uint8Array>,
  keyIndex: number,
  cursorIndex: number,
  position: (cursorText: string | null | undefined, keyText: string) => internal.PageStart
): Page => {
  const columns = context.columns
  const split = EncodedRows.splitBinary(chunks, columns, context.groupRows)
  const encodedColumns = columns.map((c) => ({ name: c.name, type: String(c.oid) }))
  const groups = split.groups.map(
    (g): Batch.Encoded => ({ format: EncodedRows.COPY_BINARY, columns: encodedColumns, rows: g.rows, chunks: g.chunks })
  )
  const rows = groups.reduce((n, g) => n + g.rows, 0)
  if (rows === 0 || context.key === undefined)
    return { records: undefined, groups, ends: undefined, rows, last: undefined }
  const ends = split.lastRows.map((row) => {
    const [cursorText, keyText] = EncodedRows.binaryRowFields(row, columns, [cursorIndex, keyIndex])
    return position(cursorText, keyText!)
  })
  return { records: undefined, groups, ends, rows, last: ends.at(-1) }
}

/**
 * The batches of a page: its records, or one per group of COPY text rows (decoded on first read; a malformed value
 * is a typed error thrown to whoever reads them). With a keyset every group carries the checkpoint at its last
 * row; else only the last one carries it (at `final`). `checkpointAt` records and returns the checkpoint of a
 * position: it is called in order, `final` last. A page with no rows is one empty batch with the checkpoint.
 */
export const toBatches = <C, P>(
  source: string,
  page: Page,
  stream: string,
  checkpointAt: (position: internal.PageStart | P) => C,
  final: internal.PageStart | P
): ReadonlyArray<Batch.Batch<PostgresCodec.Row, C>> => {
  const groups = page.groups
  if (groups === undefined || groups.length === 0)
    return [Batch.make<PostgresCodec.Row, C>(page.records ?? [], { stream, checkpoint: checkpointAt(final) })]
  const releasedOnDecode = page.releasedOnDecode === true
  const decode = (group: Batch.Encoded) => () => {
    if (SourceBuffers.anyReleased(group.chunks))
      throw ConnectorError.make(
        source,
        "read",
        new ConnectorError.Unknown({
          detail: releasedOnDecode
            ? "these rows were decoded once already and their memory reused: read a batch's records through `records` (decoded once, then kept), or take them once"
            : "these rows were already loaded by the sink and their memory reused: read a batch's records before its write"
        })
      )
    let rows: Array<PostgresCodec.Row>
    try {
      rows = EncodedRows.decode(group)
    } catch (cause) {
      throw failure(source)(cause)
    }
    // The records hold copies of what they need (strings, byte arrays): the bytes are done with.
    if (releasedOnDecode) SourceBuffers.release(group.chunks)
    return rows
  }
  const last = groups.length - 1
  return groups.map((group, i) =>
    Batch.makeEncoded<PostgresCodec.Row, C>(group, {
      decode: decode(group),
      stream,
      checkpoint: i === last ? checkpointAt(final) : page.ends === undefined ? undefined : checkpointAt(page.ends[i]!)
    })
  )
}
