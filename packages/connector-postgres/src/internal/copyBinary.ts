// PostgreSQL's COPY binary format, for the column types whose binary form is cheaper for the server to print and
// parse than their text form (measured: a COPY → COPY of the benchmark's rows costs both backends ~40% less CPU
// per row in binary) and which this module decodes to exactly the values the COPY text decoder gives.
//
// The stream: a 19-byte header (signature, flags, header-extension length and extension), then one tuple per row
// (an int16 field count, then per field an int32 length, -1 for NULL, and that many bytes), then an int16 -1.
// Rows kept as chunks between a source and a sink are held without the header and the trailer (`strip`), so that
// groups of rows can be joined; `frame` adds them back around a COPY … FROM STDIN.
import { Timestamp } from "@data-mcp/core"
import { recordBuilderFor } from "./copyText.ts"
import { dayText, decodeDate, decodeJson, formatTimestamp, Malformed } from "./copyValues.ts"
import { decodeKeepingText } from "./jsonText.ts"

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

// Type OIDs (fixed across versions) read and written in binary: each decodes here exactly as the text decoder
// decodes its text form. Others (float4, whose text form rounds; arrays; time, interval, …) keep the text format.
const BOOL = 16
const BYTEA = 17
const NAME = 19
const INT8 = 20
const INT2 = 21
const INT4 = 23
const TEXT = 25
const JSON_OID = 114
const FLOAT8 = 701
const BPCHAR = 1042
const VARCHAR = 1043
const DATE = 1082
const TIMESTAMP = 1114
const TIMESTAMPTZ = 1184
const NUMERIC = 1700
const UUID = 2950
const JSONB = 3802

const VALUES = new Set([
  BOOL,
  BYTEA,
  NAME,
  INT8,
  INT2,
  INT4,
  TEXT,
  JSON_OID,
  FLOAT8,
  BPCHAR,
  VARCHAR,
  DATE,
  TIMESTAMP,
  TIMESTAMPTZ,
  NUMERIC,
  UUID,
  JSONB
])
// Types a page boundary (key or cursor) may have in binary: their printed text is rebuilt here exactly.
const BOUNDARIES = new Set([INT8, INT2, INT4, TEXT, NAME, BPCHAR, VARCHAR, NUMERIC, UUID, DATE, TIMESTAMP, TIMESTAMPTZ])

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
// Values

const utf8 = new TextDecoder("utf-8", { fatal: true })
const text = (b: Uint8Array): string => utf8.decode(b)

const int64 = (b: Uint8Array): bigint => Buffer.from(b.buffer, b.byteOffset, 8).readBigInt64BE(0)
const int32 = (b: Uint8Array): number => (b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!
const int16 = (b: Uint8Array, at = 0): number => ((b[at]! << 24) | (b[at + 1]! << 16)) >> 16
const uint16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!

const INT64_MAX = 0x7fffffffffffffffn
const INT64_MIN = -0x8000000000000000n
const INT32_MAX = 0x7fffffff
const INT32_MIN = -0x80000000
/** Microseconds and days from the Unix epoch to PostgreSQL's (2000-01-01). */
const PG_EPOCH_MICROS = 946_684_800_000_000n
const PG_EPOCH_DAYS = 10_957

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

const uuidText = (b: Uint8Array): string => {
  let s = ""
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += "-"
    s += HEX[b[i]!]
  }
  return s
}

/** numeric's binary form (base-10000 digits, weight, sign, display scale) as `numeric_out` prints it. */
const numericText = (b: Uint8Array): string => {
  const ndigits = int16(b, 0)
  const weight = int16(b, 2)
  const sign = uint16(b, 4)
  const dscale = int16(b, 6)
  if (sign === 0xc000) return "NaN"
  if (sign === 0xd000) return "Infinity"
  if (sign === 0xf000) return "-Infinity"
  if (b.length !== 8 + 2 * ndigits || (sign !== 0 && sign !== 0x4000) || dscale < 0) throw new Error("numeric")
  const digit = (i: number) => (i >= 0 && i < ndigits ? uint16(b, 8 + 2 * i) : 0)
  let out = sign === 0x4000 ? "-" : ""
  if (weight < 0) out += "0"
  else {
    out += String(digit(0))
    for (let i = 1; i <= weight; i++) out += String(digit(i)).padStart(4, "0")
  }
  if (dscale > 0) {
    let fraction = ""
    for (let i = weight + 1; fraction.length < dscale; i++) fraction += String(digit(i)).padStart(4, "0")
    out += `.${fraction.slice(0, dscale)}`
  }
  return out
}

const dateText = (days: number): string => {
  const d = dayText(days + PG_EPOCH_DAYS)
  return d.bc ? `${d.text} BC` : d.text
}

const dateValue = (b: Uint8Array): string => {
  const days = int32(b)
  if (days === INT32_MAX) return "infinity"
  if (days === INT32_MIN) return "-infinity"
  return decodeDate(dateText(days))
}

const timestampValue = (b: Uint8Array, zoned: boolean): Timestamp.Timestamp | "infinity" | "-infinity" => {
  const micros = int64(b)
  if (micros === INT64_MAX) return "infinity"
  if (micros === INT64_MIN) return "-infinity"
  return new Timestamp.Timestamp(micros + PG_EPOCH_MICROS, zoned)
}

/** The text PostgreSQL prints for a timestamp (ISO `DateStyle`, UTC): fractional digits only as needed. */
const timestampText = (b: Uint8Array, zoned: boolean): string => {
  const micros = int64(b)
  if (micros === INT64_MAX) return "infinity"
  if (micros === INT64_MIN) return "-infinity"
  // formatTimestamp prints six fractional digits; PostgreSQL drops trailing zeros, and the point with them.
  return formatTimestamp(micros + PG_EPOCH_MICROS, zoned).replace(/\.(\d*?)0+(?=\+| |$)/, (_, kept: string) =>
    kept === "" ? "" : `.${kept}`
  )
}

// JSON text is kept for the text encoder only when it is valid COPY text as it is (as the text decoder does).
const jsonValue = (s: string): unknown => {
  if (/[\\\t\n\r]/.test(s)) return decodeJson(s)
  const kept = decodeKeepingText(s)
  return kept === undefined ? decodeJson(s) : kept
}

/** What a failed value decode says: the codec's own detail, else the binary form it found malformed. */
const detailOf = (e: unknown): string =>
  e instanceof Malformed ? e.detail : `expected ${e instanceof Error ? e.message : "a value"} in binary form`

const fixed = (b: Uint8Array, size: number, what: string): Uint8Array => {
  if (b.length !== size) throw new Error(what)
  return b
}

/** The value of one non-NULL field, as the COPY text decoder gives it for the same type. */
const value = (oid: number, b: Uint8Array): unknown => {
  switch (oid) {
    case BOOL:
      return fixed(b, 1, "bool")[0] !== 0
    case BYTEA:
      return Uint8Array.prototype.slice.call(b)
    case INT8:
      return int64(fixed(b, 8, "int8"))
    case INT2:
      return int16(fixed(b, 2, "int2"))
    case INT4:
      return int32(fixed(b, 4, "int4"))
    case FLOAT8:
      return Buffer.from(b.buffer, b.byteOffset, fixed(b, 8, "float8").length).readDoubleBE(0)
    case NUMERIC:
      return numericText(b)
    case UUID:
      return uuidText(fixed(b, 16, "uuid"))
    case DATE:
      return dateValue(fixed(b, 4, "date"))
    case TIMESTAMP:
      return timestampValue(fixed(b, 8, "timestamp"), false)
    case TIMESTAMPTZ:
      return timestampValue(fixed(b, 8, "timestamptz"), true)
    case JSON_OID:
      return jsonValue(text(b))
    case JSONB:
      if (b[0] !== 1) throw new Error("jsonb version")
      return jsonValue(text(b.subarray(1)))
    default:
      return text(b)
  }
}

/** The text PostgreSQL prints for a boundary field (see `supportsBoundary`). */
const boundaryText = (oid: number, b: Uint8Array): string => {
  switch (oid) {
    case INT8:
      return String(int64(fixed(b, 8, "int8")))
    case INT2:
      return String(int16(fixed(b, 2, "int2")))
    case INT4:
      return String(int32(fixed(b, 4, "int4")))
    case NUMERIC:
      return numericText(b)
    case UUID:
      return uuidText(fixed(b, 16, "uuid"))
    case DATE: {
      const days = int32(fixed(b, 4, "date"))
      return days === INT32_MAX ? "infinity" : days === INT32_MIN ? "-infinity" : dateText(days)
    }
    case TIMESTAMP:
      return timestampText(fixed(b, 8, "timestamp"), false)
    case TIMESTAMPTZ:
      return timestampText(fixed(b, 8, "timestamptz"), true)
    default:
      return text(b)
  }
}

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
      return boundaryText(oids[i]!, b)
    } catch (e) {
      throw new BinaryMalformed(i, 1, detailOf(e))
    }
  })
}

/** The 4-digit groups of numeric's base-10000 digits, padded. */
const GROUPS: ReadonlyArray<string> = Array.from({ length: 10_000 }, (_, i) => String(i).padStart(4, "0"))

/** numeric at `o` (`length` bytes) of `b`, as `numeric_out` prints it (see `numericText`), without allocations. */
const numericAt = (b: Buffer, o: number, length: number): string => {
  const ndigits = (b[o]! << 8) | b[o + 1]!
  const weight = ((b[o + 2]! << 24) | (b[o + 3]! << 16)) >> 16
  const sign = (b[o + 4]! << 8) | b[o + 5]!
  const dscale = (b[o + 6]! << 8) | b[o + 7]!
  if (sign !== 0 && sign !== 0x4000) return numericText(b.subarray(o, o + length))
  if (length !== 8 + 2 * ndigits || dscale > 0x3fff) throw new Error("numeric")
  const at = o + 8
  let out = sign === 0x4000 ? "-" : ""
  if (weight < 0) out += "0"
  else {
    out += String(ndigits > 0 ? (b[at]! << 8) | b[at + 1]! : 0)
    for (let i = 1; i <= weight; i++) out += GROUPS[i < ndigits ? (b[at + 2 * i]! << 8) | b[at + 2 * i + 1]! : 0]
  }
  if (dscale > 0) {
    let fraction = ""
    const groups = Math.ceil(dscale / 4)
    for (let g = 0, i = weight + 1; g < groups; g++, i++)
      fraction += GROUPS[i >= 0 && i < ndigits ? (b[at + 2 * i]! << 8) | b[at + 2 * i + 1]! : 0]
    out += `.${fraction.length === dscale ? fraction : fraction.slice(0, dscale)}`
  }
  return out
}

/** The int64 at `o` as a number when exact (|v| < 2^53), else `undefined`. */
const int64Number = (b: Buffer, o: number): number | undefined => {
  const hi = (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!
  if (hi >= 0x200000 || hi < -0x200000) return undefined
  const lo = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0
  return hi * 4294967296 + lo
}

const PG_EPOCH_MICROS_NUMBER = 946_684_800_000_000

// Node's own UTF-8 slice of a Buffer (what `toString("utf8", start, end)` calls, without its argument checks).
const utf8Slice = (b: Buffer, start: number, end: number): string =>
  (b as Buffer & { utf8Slice(start: number, end: number): string }).utf8Slice(start, end)

/** The value of the field of type `oid` at `o` (`length` bytes) of `b`, as the COPY text decoder gives it. */
const valueAt = (b: Buffer, o: number, length: number, oid: number): unknown => {
  switch (oid) {
    case INT8: {
      if (length !== 8) throw new Error("int8")
      const n = int64Number(b, o)
      return n === undefined ? b.readBigInt64BE(o) : BigInt(n)
    }
    case TEXT:
    case VARCHAR:
    case BPCHAR:
    case NAME:
      return utf8Slice(b, o, o + length)
    case NUMERIC:
      return numericAt(b, o, length)
    case TIMESTAMPTZ:
    case TIMESTAMP: {
      if (length !== 8) throw new Error(oid === TIMESTAMP ? "timestamp" : "timestamptz")
      const n = int64Number(b, o)
      // Below ~2255 AD the epoch micros stay under 2^53: one exact Number → BigInt conversion.
      if (n !== undefined && n + PG_EPOCH_MICROS_NUMBER < Number.MAX_SAFE_INTEGER)
        return new Timestamp.Timestamp(BigInt(n + PG_EPOCH_MICROS_NUMBER), oid === TIMESTAMPTZ)
      return timestampValue(b.subarray(o, o + 8), oid === TIMESTAMPTZ)
    }
    case JSONB:
      if (b[o] !== 1) throw new Error("jsonb version")
      return jsonValue(utf8Slice(b, o + 1, o + length))
    case INT4:
      if (length !== 4) throw new Error("int4")
      return (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!
    default:
      return value(oid, b.subarray(o, o + length))
  }
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
  const b =
    chunks.length === 1
      ? Buffer.from(chunks[0]!.buffer, chunks[0]!.byteOffset, chunks[0]!.byteLength)
      : Buffer.concat(chunks)
  const rows: Array<Record<string, unknown>> = []
  const n = oids.length
  // A column named `__proto__` must become an own property, not the record's prototype.
  const build = names.includes("__proto__") ? undefined : recordBuilderFor(names)
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
        values[f] = valueAt(b, o, length, oids[f]!)
      } catch (e) {
        throw new BinaryMalformed(f, row, detailOf(e))
      }
      o += length
    }
    if (build !== undefined) rows.push(build(values))
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
