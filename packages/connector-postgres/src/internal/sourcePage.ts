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
  /** Hand the rows over as COPY text (`Batch.makeEncoded`) instead of decoding them. */
  readonly encoded: boolean
}

/** The bounds of one page (see `internal.PageQuery`). */
export type PageBounds = Pick<internal.PageQuery, "upper" | "after" | "nulls" | "end" | "lower" | "pages">

/** A page read: decoded records or encoded rows, how many, and the last row's position (none when empty). */
export interface Page {
  readonly records: ReadonlyArray<PostgresCodec.Row> | undefined
  readonly encoded: Batch.Encoded | undefined
  readonly rows: number
  readonly last: internal.PageStart | undefined
}

/** A page with no rows. */
export const empty: Page = { records: [], encoded: undefined, rows: 0, last: undefined }

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
    const direct = context.encoded && (key === undefined || (keyIndex >= 0 && cursorIndex >= 0))
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
          const rows = EncodedRows.countRows(chunks)
          const encoded: Batch.Encoded = {
            format: EncodedRows.COPY_TEXT,
            columns: columns.map((c) => ({ name: c.name, type: String(c.oid) })),
            rows,
            chunks
          }
          if (rows === 0 || key === undefined) return { records: undefined, encoded, rows, last: undefined }
          const [cursorText, keyText] = EncodedRows.lastRowFields(chunks, columns.length, [cursorIndex, keyIndex])
          return { records: undefined, encoded, rows, last: position(cursorText, keyText!) }
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
    return { records, encoded: undefined, rows: records.length, last }
  })

/** The batch of a page, with its checkpoint: decoded records, or encoded rows decoded only on demand. */
export const toBatch = <C>(
  page: Page,
  stream: string,
  checkpoint: C | undefined
): Batch.Batch<PostgresCodec.Row, C> => {
  const encoded = page.encoded
  return encoded === undefined
    ? Batch.make<PostgresCodec.Row, C>(page.records ?? [], { stream, checkpoint })
    : Batch.makeEncoded<PostgresCodec.Row, C>(encoded, {
        decode: () => EncodedRows.decode(encoded),
        stream,
        checkpoint
      })
}
