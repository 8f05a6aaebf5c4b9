// PostgreSQL's COPY binary format, for the column types whose binary form is cheaper for the server to print and
// parse than their text form (measured: a COPY → COPY of the benchmark's rows costs both backends ~40% less CPU
// per row in binary) and whose values decode exactly as the COPY text decoder decodes them (`copyBinaryValues.ts`).
//
// The stream: a 19-byte header (signature, flags, header-extension length and extension), then one tuple per row
// (an int16 field count, then per field an int32 length, -1 for NULL, and that many bytes), then an int16 -1.
// Rows kept as chunks between a source and a sink are held without the header and the trailer (`split`), so that
// groups of rows can be joined; `frame` adds them back around a COPY … FROM STDIN.
import * as Values from "./copyBinaryValues.ts"
import { Malformed } from "./copyValues.ts"
import { objectBuilderFor } from "./objectBuilders.ts"

/** A malformed stream or value; the caller turns it into a `CodecError` naming the column and row. */
export class BinaryMalformed {
  constructor(
    readonly column: number,
    readonly row: number,
    readonly detail: string
  ) {}
}

const SIGNATURE = [0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00]

/** The header of a COPY binary stream with no flags and no extension. */
export const HEADER: Uint8Array = Uint8Array.from([...SIGNATURE, 0, 0, 0, 0, 0, 0, 0, 0])
/** The end of a COPY binary stream. */
export const TRAILER: Uint8Array = Uint8Array.from([0xff, 0xff])

/** Rows in the binary format framed for `COPY … FROM STDIN (FORMAT binary)`. */
export const frame = (chunks: ReadonlyArray<Uint8Array>): ReadonlyArray<Uint8Array> => [HEADER, ...chunks, TRAILER]

// Types read and written in binary: each decodes here exactly as the text decoder decodes its text form. Others
// (float4, whose text form rounds; arrays; time, interval, …) keep the text format.
const VALUES = new Set([
  Values.BOOL,
  Values.BYTEA,
  Values.NAME,
  Values.INT8,
  Values.INT2,
  Values.INT4,
  Values.TEXT,
  Values.JSON_OID,
  Values.FLOAT8,
  Values.BPCHAR,
  Values.VARCHAR,
  Values.DATE,
  Values.TIMESTAMP,
  Values.TIMESTAMPTZ,
  Values.NUMERIC,
  Values.UUID,
  Values.JSONB
])
// Types a page boundary (key or cursor) may have in binary: their printed text is rebuilt here exactly.
const BOUNDARIES = new Set([
  Values.INT8,
  Values.INT2,
  Values.INT4,
  Values.TEXT,
  Values.NAME,
  Values.BPCHAR,
  Values.VARCHAR,
  Values.NUMERIC,
  Values.UUID,
  Values.DATE,
  Values.TIMESTAMP,
  Values.TIMESTAMPTZ
])

/** Whether rows of these column types can travel in the binary format. */
export const supports = (oids: ReadonlyArray<number>): boolean => oids.length > 0 && oids.every((o) => VALUES.has(o))

/** Whether a key or cursor column of this type can be read off binary rows as the text PostgreSQL prints. */
export const supportsBoundary = (oid: number): boolean => BOUNDARIES.has(oid)

// ---------------------------------------------------------------------------------------------------------------
// Walking tuples across chunks

/** A position between two bytes of a chunk list. */
interface Position {
  readonly chunk: number
  readonly offset: number
}

/** Reads big-endian integers and byte ranges from a list of chunks, across chunk boundaries. */
class Reader {
  chunk = 0
  offset = 0
  constructor(readonly chunks: ReadonlyArray<Uint8Array>) {
    this.settle()
  }

  /** Moves past exhausted chunks. */
  settle(): void {
    while (this.chunk < this.chunks.length && this.offset >= this.chunks[this.chunk]!.length) {
      this.offset -= this.chunks[this.chunk]!.length
      this.chunk++
    }
  }

  get done(): boolean {
    return this.chunk >= this.chunks.length
  }

  get position(): Position {
    return { chunk: this.chunk, offset: this.offset }
  }

  seek(p: Position): void {
    this.chunk = p.chunk
    this.offset = p.offset
    this.settle()
  }

  /** The next `n` bytes (a view when they lie in one chunk, else a copy); `undefined` when fewer are left. */
  bytes(n: number): Uint8Array | undefined {
    const c = this.chunks[this.chunk]
    if (c !== undefined && this.offset + n <= c.length) {
      const out = c.subarray(this.offset, this.offset + n)
      this.offset += n
      this.settle()
      return out
    }
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const chunk = this.chunks[this.chunk]
      if (chunk === undefined) return undefined
      const take = Math.min(n - filled, chunk.length - this.offset)
      out.set(chunk.subarray(this.offset, this.offset + take), filled)
      filled += take
      this.offset += take
      this.settle()
    }
    return out
  }

  int16(): number | undefined {
    const c = this.chunks[this.chunk]
    if (c !== undefined && this.offset + 2 <= c.length) {
      const v = ((c[this.offset]! << 24) | (c[this.offset + 1]! << 16)) >> 16
      this.offset += 2
      if (this.offset >= c.length) this.settle()
      return v
    }
    const b = this.bytes(2)
    return b === undefined ? undefined : ((b[0]! << 24) | (b[1]! << 16)) >> 16
  }

  int32(): number | undefined {
    const c = this.chunks[this.chunk]
    if (c !== undefined && this.offset + 4 <= c.length) {
      const o = this.offset
      const v = (c[o]! << 24) | (c[o + 1]! << 16) | (c[o + 2]! << 8) | c[o + 3]!
      this.offset += 4
      if (this.offset >= c.length) this.settle()
      return v
    }
    const b = this.bytes(4)
    return b === undefined ? undefined : (b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!
  }

  /** Skips `n` bytes; false when fewer are left. */
  skip(n: number): boolean {
    this.offset += n
    this.settle()
    return !(this.done && this.offset > 0)
  }
}

/** The views of `chunks` between two positions. */
const between = (chunks: ReadonlyArray<Uint8Array>, from: Position, to: Position): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  for (let i = from.chunk; i <= to.chunk && i < chunks.length; i++) {
    const start = i === from.chunk ? from.offset : 0
    const end = i === to.chunk ? to.offset : chunks[i]!.length
    if (end > start) out.push(chunks[i]!.subarray(start, end))
  }
  return out
}

/** Skips one tuple of `fields` fields at the reader's position; false when it is malformed or cut short. */
const skipTuple = (reader: Reader, fields: number): boolean => {
  const count = reader.int16()
  if (count !== fields) return false
  for (let f = 0; f < fields; f++) {
    const length = reader.int32()
    if (length === undefined || length < -1) return false
    if (length > 0 && !reader.skip(length)) return false
  }
  return true
}

/** Rows of a COPY binary stream, without header and trailer, in groups of consecutive whole rows. */
export interface Split {
  readonly groups: ReadonlyArray<{ readonly chunks: ReadonlyArray<Uint8Array>; readonly rows: number }>
  /** Where each group's last row starts (in the stripped chunks of its group), for reading its fields. */
  readonly lastRows: ReadonlyArray<ReadonlyArray<Uint8Array>>
}

/**
 * Takes a whole COPY binary stream as it came (`COPY … TO STDOUT (FORMAT binary)`): checks its header, drops it
 * and the trailer, and splits the rows into groups of `groupRows` rows (the last may hold fewer). Throws
 * `BinaryMalformed` on a stream that is not one.
 */
export const split = (chunks: ReadonlyArray<Uint8Array>, fields: number, groupRows: number): Split => {
  const reader = new Reader(chunks)
  const head = reader.bytes(19)
  if (head === undefined || SIGNATURE.some((b, i) => head[i] !== b))
    throw new BinaryMalformed(0, 0, "not a COPY binary stream (bad signature)")
  const extension = ((head[15]! << 24) | (head[16]! << 16) | (head[17]! << 8) | head[18]!) >>> 0
  if (extension > 0 && !reader.skip(extension)) throw new BinaryMalformed(0, 0, "the COPY binary header is cut short")
  const groups: Array<{ chunks: ReadonlyArray<Uint8Array>; rows: number }> = []
  const lastRows: Array<ReadonlyArray<Uint8Array>> = []
  let groupStart = reader.position
  // Where the last row read starts (chunk, offset): a position object is made only where a group ends.
  let rowChunk = groupStart.chunk
  let rowOffset = groupStart.offset
  let rows = 0
  let row = 0
  const endGroup = (end: Position) => {
    groups.push({ chunks: between(chunks, groupStart, end), rows })
    lastRows.push(between(chunks, { chunk: rowChunk, offset: rowOffset }, end))
    groupStart = end
    rows = 0
  }
  for (;;) {
    const atChunk = reader.chunk
    const atOffset = reader.offset
    // Fast path: the whole tuple lies in the current chunk (nearly always, with page-sized chunks).
    const c = chunks[atChunk]
    if (c !== undefined && atOffset + 2 <= c.length) {
      const count = ((c[atOffset]! << 24) | (c[atOffset + 1]! << 16)) >> 16
      if (count === fields) {
        let p = atOffset + 2
        let whole = true
        for (let f = 0; f < fields; f++) {
          if (p + 4 > c.length) {
            whole = false
            break
          }
          const length = (c[p]! << 24) | (c[p + 1]! << 16) | (c[p + 2]! << 8) | c[p + 3]!
          if (length < -1) throw new BinaryMalformed(f, row + 1, `a row does not hold ${fields} well-formed fields`)
          p += 4 + (length > 0 ? length : 0)
          if (p > c.length) {
            whole = false
            break
          }
        }
        if (whole) {
          row++
          rows++
          rowChunk = atChunk
          rowOffset = atOffset
          reader.offset = p
          if (p === c.length) reader.settle()
          if (rows === groupRows) endGroup(reader.position)
          continue
        }
      }
    }
    const at = reader.position
    const peek = reader.int16()
    if (peek === undefined) throw new BinaryMalformed(0, row + 1, "the COPY binary stream ends without its trailer")
    if (peek === -1) {
      if (rows > 0) endGroup(at)
      break
    }
    reader.seek(at)
    row++
    if (!skipTuple(reader, fields))
      throw new BinaryMalformed(0, row, `a row does not hold ${fields} well-formed fields`)
    rowChunk = at.chunk
    rowOffset = at.offset
    rows++
    if (rows === groupRows) endGroup(reader.position)
  }
  return { groups, lastRows }
}

// ---------------------------------------------------------------------------------------------------------------
// Rows

/** What a failed value decode says: the codec's own detail, else the binary form it found malformed. */
const detailOf = (e: unknown): string =>
  e instanceof Malformed ? e.detail : `expected ${e instanceof Error ? e.message : "a value"} in binary form`

const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength)

/** One tuple's fields (`null` for NULL) at the reader's position; throws `BinaryMalformed`. */
const readFields = (reader: Reader, oids: ReadonlyArray<number>, row: number): Array<Uint8Array | null> => {
  const count = reader.int16()
  if (count !== oids.length)
    throw new BinaryMalformed(0, row, `a row holds ${count ?? "no"} fields, expected ${oids.length}`)
  const out: Array<Uint8Array | null> = []
  for (let f = 0; f < oids.length; f++) {
    const length = reader.int32()
    if (length === undefined || length < -1) throw new BinaryMalformed(f, row, "a field length is cut short")
    if (length === -1) {
      out.push(null)
      continue
    }
    const bytes = reader.bytes(length)
    if (bytes === undefined) throw new BinaryMalformed(f, row, "a field is cut short")
    out.push(bytes)
  }
  return out
}

/**
 * The fields at `indexes` of the one row in `chunks` (see `Split.lastRows`), as the text PostgreSQL prints for
 * them (`null` for NULL). Throws `BinaryMalformed`.
 */
export const rowFieldsText = (
  chunks: ReadonlyArray<Uint8Array>,
  oids: ReadonlyArray<number>,
  indexes: ReadonlyArray<number>
): ReadonlyArray<string | null> => {
  const fields = readFields(new Reader(chunks), oids, 1)
  return indexes.map((i) => {
    const b = fields[i]
    if (b === null || b === undefined) return null
    try {
      return Values.textAt(asBuffer(b), 0, b.length, oids[i]!)
    } catch (e) {
      throw new BinaryMalformed(i, 1, detailOf(e))
    }
  })
}

/**
 * Decodes rows in the binary format (without header and trailer) into records, with the values the COPY text
 * decoder gives for the same rows. Throws `BinaryMalformed` (with the 0-based column and 1-based row).
 */
export const decodeRows = (
  chunks: ReadonlyArray<Uint8Array>,
  names: ReadonlyArray<string>,
  oids: ReadonlyArray<number>
): Array<Record<string, unknown>> => {
  // One contiguous buffer (a group's chunks joined once): each field is then read at an offset.
  const b = chunks.length === 1 ? asBuffer(chunks[0]!) : Buffer.concat(chunks)
  const rows: Array<Record<string, unknown>> = []
  const n = oids.length
  // A column named `__proto__` must become an own property, not the record's prototype.
  const build = names.includes("__proto__") ? undefined : objectBuilderFor(names)
  const values: Array<unknown> = new Array(n)
  const end = b.length
  let o = 0
  while (o < end) {
    const row = rows.length + 1
    if (o + 2 > end) throw new BinaryMalformed(0, row, "a row is cut short")
    const count = ((b[o]! << 24) | (b[o + 1]! << 16)) >> 16
    if (count !== n) throw new BinaryMalformed(0, row, `a row holds ${count} fields, expected ${n}`)
    o += 2
    for (let f = 0; f < n; f++) {
      if (o + 4 > end) throw new BinaryMalformed(f, row, "a field length is cut short")
      const length = (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!
      o += 4
      if (length === -1) {
        values[f] = null
        continue
      }
      if (length < -1 || o + length > end) throw new BinaryMalformed(f, row, "a field is cut short")
      try {
        values[f] = Values.valueAt(b, o, length, oids[f]!)
      } catch (e) {
        throw new BinaryMalformed(f, row, detailOf(e))
      }
      o += length
    }
    if (build !== undefined) rows.push(build(values, 0))
    else {
      const record: Record<string, unknown> = {}
      for (let f = 0; f < n; f++)
        Object.defineProperty(record, names[f]!, {
          value: values[f],
          enumerable: true,
          writable: true,
          configurable: true
        })
      rows.push(record)
    }
  }
  return rows
}
