// Rows that travel from source to sink undecoded (`Batch.Encoded`), as PostgreSQL COPY text or COPY binary:
// counting them, reading the last row's boundary fields for a checkpoint, decoding them when a sink cannot load
// them as is, and deciding whether a table can take them as they are.
import type { Batch } from "@data-mcp/core"
import * as PostgresCodec from "../PostgresCodec.ts"
import * as CopyBinary from "./copyBinary.ts"
import { unescapeCopy } from "./copyText.ts"

/** The encoding name of COPY text rows whose column types are type OIDs. */
export const COPY_TEXT = "postgres/copy-text"

/**
 * The encoding name of COPY binary rows (without the stream's header and trailer) whose column types are type
 * OIDs, all of them types `CopyBinary.supports`.
 */
export const COPY_BINARY = "postgres/copy-binary"

const codecError = (columns: ReadonlyArray<{ readonly name: string }>, e: unknown): unknown =>
  e instanceof CopyBinary.BinaryMalformed
    ? new PostgresCodec.CodecError({
        operation: "decode",
        column: columns[e.column]?.name ?? "",
        row: e.row,
        detail: e.detail
      })
    : e

/** Splits a whole COPY binary stream into groups of `rows` rows (see `CopyBinary.split`). Throws `CodecError`. */
export const splitBinary = (
  chunks: ReadonlyArray<Uint8Array>,
  columns: ReadonlyArray<PostgresCodec.Column>,
  rows: number
): CopyBinary.Split => {
  try {
    return CopyBinary.split(chunks, columns.length, rows)
  } catch (e) {
    throw codecError(columns, e)
  }
}

/** The fields at `indexes` of one COPY binary row, as the text PostgreSQL prints. Throws `CodecError`. */
export const binaryRowFields = (
  row: ReadonlyArray<Uint8Array>,
  columns: ReadonlyArray<PostgresCodec.Column>,
  indexes: ReadonlyArray<number>
): ReadonlyArray<string | null> => {
  try {
    return CopyBinary.rowFieldsText(
      row,
      columns.map((c) => c.oid),
      indexes
    )
  } catch (e) {
    throw codecError(columns, e)
  }
}

/** Consecutive chunks holding whole rows, and how many. */
export interface RowGroup {
  readonly chunks: ReadonlyArray<Uint8Array>
  readonly rows: number
}

/** Splits COPY text chunks into groups of `rows` rows (the last may hold fewer), cutting inside chunks as needed. */
export const groupRows = (chunks: ReadonlyArray<Uint8Array>, rows: number): Array<RowGroup> => {
  const groups: Array<RowGroup> = []
  let current: Array<Uint8Array> = []
  let count = 0
  for (const chunk of chunks) {
    const buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    let from = 0
    for (let i = buffer.indexOf(10); i >= 0; i = buffer.indexOf(10, i + 1)) {
      if (++count < rows) continue
      current.push(buffer.subarray(from, i + 1))
      groups.push({ chunks: current, rows: count })
      current = []
      count = 0
      from = i + 1
    }
    if (from < buffer.length) current.push(buffer.subarray(from))
  }
  if (current.length > 0) groups.push({ chunks: current, rows: count })
  return groups
}

/** The bytes of the last row (with its newline); empty when there is none. */
const lastRow = (chunks: ReadonlyArray<Uint8Array>): Buffer => {
  const parts: Array<Buffer> = []
  let found = false
  for (let c = chunks.length - 1; c >= 0; c--) {
    const chunk = Buffer.from(chunks[c]!.buffer, chunks[c]!.byteOffset, chunks[c]!.byteLength)
    if (chunk.length === 0) continue
    // In the chunk holding the row's end, its own newline (the last byte) is not the boundary searched for.
    const searched = found ? chunk : chunk.subarray(0, chunk.length - 1)
    found = true
    const previous = searched.lastIndexOf(10)
    if (previous >= 0) {
      parts.unshift(chunk.subarray(previous + 1))
      return Buffer.concat(parts)
    }
    parts.unshift(chunk)
  }
  return Buffer.concat(parts)
}

/**
 * The last row's fields at `indexes`, as the text PostgreSQL printed (COPY escapes undone); `null` for NULL.
 * Throws `CodecError` when the row has fewer than `columns` fields.
 */
export const lastRowFields = (
  chunks: ReadonlyArray<Uint8Array>,
  columns: number,
  indexes: ReadonlyArray<number>
): ReadonlyArray<string | null> => {
  // A dedicated scan (not the record decoder: its field stores must only ever see the real column names).
  const text = lastRow(chunks).toString("utf8")
  const end = text.endsWith("\n") ? text.length - 1 : text.length
  const starts: Array<number> = [0]
  for (let i = text.indexOf("\t"); i >= 0 && i < end; i = text.indexOf("\t", i + 1)) starts.push(i + 1)
  if (starts.length !== columns)
    throw new PostgresCodec.CodecError({
      operation: "decode",
      column: "",
      row: 0,
      detail: `the last row has ${starts.length} fields, expected ${columns}`
    })
  return indexes.map((index) => {
    const from = starts[index]!
    const to = index + 1 < starts.length ? starts[index + 1]! - 1 : end
    if (to - from === 2 && text.charCodeAt(from) === 92 && text.charCodeAt(from + 1) === 78) return null
    return unescapeCopy(text, from, to)
  })
}

/** The columns of encoded rows as the codec takes them. */
const codecColumns = (encoded: Batch.Encoded): ReadonlyArray<PostgresCodec.Column> =>
  encoded.columns.map((c) => ({ name: c.name, oid: Number(c.type) }))

/** Decodes encoded rows into records (for a sink that cannot load them as they are). Throws `CodecError`. */
export const decode = (encoded: Batch.Encoded): Array<PostgresCodec.Row> => {
  if (encoded.format === COPY_BINARY) {
    try {
      return CopyBinary.decodeRows(
        encoded.chunks,
        encoded.columns.map((c) => c.name),
        encoded.columns.map((c) => Number(c.type))
      )
    } catch (e) {
      throw codecError(encoded.columns, e)
    }
  }
  const decoder = PostgresCodec.makeDecoder(codecColumns(encoded))
  const rows: Array<PostgresCodec.Row> = []
  for (const chunk of encoded.chunks) decoder.pushInto(chunk, rows)
  decoder.end()
  return rows
}

/**
 * The table's columns in the order of the encoded ones when every encoded column exists with the same type,
 * so the rows load as they are; else `undefined`. `oidOf` gives a live column's type OID.
 */
export const directColumns = <C extends { readonly name: string }>(
  encoded: Batch.Encoded,
  live: ReadonlyArray<C>,
  oidOf: (column: C) => number
): ReadonlyArray<C> | undefined => {
  if (encoded.format !== COPY_TEXT && encoded.format !== COPY_BINARY) return undefined
  const byName = new Map(live.map((c) => [c.name, c]))
  const out: Array<C> = []
  for (const c of encoded.columns) {
    const column = byName.get(c.name)
    const oid = Number(c.type)
    if (column === undefined || !PostgresCodec.isSupported(oid) || oidOf(column) !== oid) return undefined
    out.push(column)
  }
  return out
}
