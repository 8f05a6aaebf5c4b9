// One page of a source stream: the COPY statement rendered by the server for the page's bounds, run on a client
// inside the read's snapshot, its rows decoded with the codec (or kept as COPY text for an encoded batch), and
// the page's last (cursor, key) as exact text — where the next page starts and what the checkpoint holds.
import { Batch, ConnectorError } from "@data-mcp/core"
import { Effect } from "effect"
import type pg from "pg"
import * as PostgresCodec from "../PostgresCodec.ts"
import * as PostgresError from "../PostgresError.ts"
import * as EncodedRows from "./encodedRows.ts"
import * as Pool from "./pool.ts"
import * as internal from "./source.ts"

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
  /** The runner asked for COPY text: groups are as large as a batch (else small, to bound decoded records). */
  readonly encoded: boolean
}

/** The bounds of one page (see `internal.PageQuery`). */
export type PageBounds = Pick<internal.PageQuery, "upper" | "after" | "nulls" | "end" | "lower" | "pages">

/**
 * A page read: decoded records, or its rows as COPY text in groups that decode when first read; how many rows,
 * and the last row's position (none when empty).
 */
export interface Page {
  readonly records: ReadonlyArray<PostgresCodec.Row> | undefined
  readonly groups: ReadonlyArray<Batch.Encoded> | undefined
  readonly rows: number
  readonly last: internal.PageStart | undefined
}

/** A page with no rows. */
export const empty: Page = { records: [], groups: undefined, rows: 0, last: undefined }

/** Rows per undecoded group of a page, when the runner did not ask for COPY text (then: the batch size). */
const GROUP_ROWS = 512

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
    const statement = rendered.rows[0]!.statement
    const position = (cursorText: string | null | undefined, keyText: string): internal.PageStart =>
      hasCursor ? { cursor: bounds.nulls === true ? null : (cursorText ?? null), key: keyText } : { key: keyText }
    if (direct)
      return yield* Effect.tryPromise({
        try: async (): Promise<Page> => {
          const chunks = await internal.copyChunks(context.client, statement)
          const encodedColumns = columns.map((c) => ({ name: c.name, type: String(c.oid) }))
          const groups = EncodedRows.groupRows(chunks, context.encoded ? context.limit : GROUP_ROWS).map(
            (g): Batch.Encoded => ({
              format: EncodedRows.COPY_TEXT,
              columns: encodedColumns,
              rows: g.rows,
              chunks: g.chunks
            })
          )
          const rows = groups.reduce((n, g) => n + g.rows, 0)
          if (rows === 0 || key === undefined) return { records: undefined, groups, rows, last: undefined }
          const [cursorText, keyText] = EncodedRows.lastRowFields(chunks, columns.length, [cursorIndex, keyIndex])
          return { records: undefined, groups, rows, last: position(cursorText, keyText!) }
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
    return { records, groups: undefined, rows: records.length, last }
  })

/**
 * The batches of a page: its records, or one per group of COPY text rows (decoded on first read; a malformed value
 * is a typed error thrown to whoever reads them). The page's position is known at its end: only its last batch
 * carries the checkpoint. A page with no rows is one empty batch with the checkpoint.
 */
export const toBatches = <C>(
  source: string,
  page: Page,
  stream: string,
  checkpoint: C | undefined
): ReadonlyArray<Batch.Batch<PostgresCodec.Row, C>> => {
  const groups = page.groups
  if (groups === undefined || groups.length === 0)
    return [Batch.make<PostgresCodec.Row, C>(page.records ?? [], { stream, checkpoint })]
  const decode = (group: Batch.Encoded) => () => {
    try {
      return EncodedRows.decode(group)
    } catch (cause) {
      throw failure(source)(cause)
    }
  }
  return groups.map((group, i) =>
    Batch.makeEncoded<PostgresCodec.Row, C>(group, {
      decode: decode(group),
      stream,
      checkpoint: i === groups.length - 1 ? checkpoint : undefined
    })
  )
}
