// Records written as COPY binary rows (no header or trailer), for a sink whose columns all have a binary form here.
//
// PostgreSQL reads COPY binary with each type's `recv` function, which costs its backend much less than parsing COPY
// text (about half for the benchmark's rows). A value is written in binary only when the result is exactly what the
// COPY text encoder's text would store; anything else — a string for a timestamp (read in the session's zone), a
// numeric in exponent form, a NUL in text, a value of the wrong type — makes `encodeRows` give up, and the caller
// encodes the whole group as COPY text, which stores it or refuses the record as before.
import { Timestamp } from "@data-mcp/core"
import * as Values from "./copyBinaryValues.ts"
import { daysFromCivil, daysInMonth, encodeJson, readDate } from "./copyValues.ts"
import { printedText } from "./jsonText.ts"

/** A column written: its name in the records and its type OID. */
export interface Column {
  readonly name: string
  readonly oid: number
}

/** Thrown inside the writer when a value has no exact binary form; `encodeRows` turns it into `undefined`. */
const GIVE_UP = Symbol("give up")

const PG_EPOCH_MICROS = 946_684_800_000_000n
const PG_EPOCH_DAYS = 10_957
const TWO_32 = 4294967296
// Timestamps written in binary: 0001-01-01 to 9999-12-31 (epoch microseconds), well inside PostgreSQL's range. Others
// go as text, where PostgreSQL keeps or refuses them as it always did.
const MIN_MICROS = -62_135_596_800_000_000n
const MAX_MICROS = 253_402_300_800_000_000n
const MIN_INT8 = -(2n ** 63n)
const MAX_INT8 = 2n ** 63n - 1n

// The scratch buffer rows are written into: allocated on first use, grown as needed and reused by every call (the
// caller copies the result out before the next one). A call starts over in a small one when a large group grew it.
const SCRATCH = 256 * 1024
const KEEP_SCRATCH = 4 * 1024 * 1024
let out = Buffer.alloc(0)
// The same memory for 64-bit integers (DataView's bigint writes are far cheaper than Buffer's).
let view = new DataView(out.buffer, out.byteOffset, 0)
let at = 0

const ensure = (bytes: number): void => {
  if (at + bytes <= out.length) return
  let size = Math.max(out.length * 2, SCRATCH)
  while (size < at + bytes) size *= 2
  const grown = Buffer.allocUnsafeSlow(size)
  out.copy(grown, 0, 0, at)
  out = grown
  view = new DataView(out.buffer, out.byteOffset, out.length)
}

const int16 = (v: number): void => {
  out[at] = v >>> 8
  out[at + 1] = v
  at += 2
}

const int32 = (v: number): void => {
  out[at] = v >>> 24
  out[at + 1] = v >>> 16
  out[at + 2] = v >>> 8
  out[at + 3] = v
  at += 4
}

/** An integer of magnitude below 2^53 as int64. */
const int64Number = (v: number): void => {
  const hi = Math.floor(v / TWO_32)
  int32(hi)
  int32(v - hi * TWO_32)
}

// Node's own UTF-8 write into a Buffer (what `write(s, offset, "utf8")` calls, without its argument checks).
const utf8Write = (s: string, offset: number): number =>
  (out as Buffer & { utf8Write(s: string, offset: number): number }).utf8Write(s, offset)

/**
 * A length-prefixed UTF-8 string, after `prefix` bytes (jsonb's version byte). With `noNul`, gives up on a string
 * holding U+0000 (which PostgreSQL text cannot hold).
 */
const lengthAndText = (s: string, prefix: number, noNul: boolean): void => {
  ensure(4 + prefix + s.length * 3)
  const start = at
  at += 4
  if (prefix === 1) out[at++] = 1
  // Short ASCII text is copied here (and checked for NUL on the way); anything else by Node's UTF-8 writer.
  const len = s.length
  let i = 0
  if (len <= 64) {
    for (; i < len; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80 || c === 0) break
      out[at + i] = c
    }
  }
  let bytes = i
  if (i !== len) {
    if (noNul && s.indexOf("\0", i) >= 0) throw GIVE_UP
    bytes = utf8Write(s, at)
  }
  at += bytes
  const length = at - start - 4
  out[start] = length >>> 24
  out[start + 1] = length >>> 16
  out[start + 2] = length >>> 8
  out[start + 3] = length
}

/** `-?D+(.D+)?` as numeric's binary form (base-10000 digits), or give up. */
const numeric = (s: string): void => {
  const len = s.length
  const negative = s.charCodeAt(0) === 45
  const start = negative ? 1 : 0
  // The integer and fraction digits as numbers, used while they are exact (at most 15 and 12 digits).
  let whole = 0
  let fraction = 0
  let point = len
  for (let i = start; i < len; i++) {
    const c = s.charCodeAt(i)
    if (c === 46) {
      if (point !== len) throw GIVE_UP
      point = i
    } else if (c < 48 || c > 57) throw GIVE_UP
    else if (point === len) whole = whole * 10 + (c - 48)
    else fraction = fraction * 10 + (c - 48)
  }
  if (point === start || point === len - 1 || len === start || len > 4096) throw GIVE_UP
  const dscale = point === len ? 0 : len - point - 1
  if (point - start <= 15 && dscale <= 12) shortNumeric(whole, fraction, dscale, negative)
  else longNumeric(s, start, point, dscale, negative)
}

// The base-10000 digits of a short numeric, most significant first.
const groupsOf = new Int32Array(8)
// What a fraction of `dscale % 4` digits is multiplied by to fill its last group.
const FILL = [1, 1000, 100, 10]

/** `numeric` of an exact `whole` and `fraction` (at most 15 and 12 digits): groups by arithmetic. */
const shortNumeric = (whole: number, fraction: number, dscale: number, negative: boolean): void => {
  const intGroups = whole >= 1e12 ? 4 : whole >= 1e8 ? 3 : whole >= 1e4 ? 2 : whole > 0 ? 1 : 0
  for (let g = intGroups - 1, w = whole; g >= 0; g--) {
    const q = Math.floor(w / 10000)
    groupsOf[g] = w - q * 10000
    w = q
  }
  const count = intGroups + ((dscale + 3) >> 2)
  for (let g = count - 1, f = fraction * FILL[dscale & 3]!; g >= intGroups; g--) {
    const q = Math.floor(f / 10000)
    groupsOf[g] = f - q * 10000
    f = q
  }
  let first = 0
  while (first < count && groupsOf[first] === 0) first++
  let last = count
  while (last > first && groupsOf[last - 1] === 0) last--
  header(last - first, intGroups - 1 - first, negative, dscale)
  for (let g = first; g < last; g++) int16(groupsOf[g]!)
}

/** numeric's length, digit count, weight, sign and display scale (zero has no digits and is positive). */
const header = (ndigits: number, weight: number, negative: boolean, dscale: number): void => {
  ensure(12 + 2 * ndigits)
  int32(8 + 2 * ndigits)
  int16(ndigits)
  int16(ndigits === 0 ? 0 : weight & 0xffff)
  int16(negative && ndigits > 0 ? 0x4000 : 0)
  int16(dscale)
}

/** `numeric` of any length: groups of four digits aligned on the point, read from the text. */
const longNumeric = (s: string, start: number, point: number, dscale: number, negative: boolean): void => {
  const len = s.length
  const intDigits = point - start
  const intGroups = (intDigits + 3) >> 2
  const count = intGroups + ((dscale + 3) >> 2)
  // The integer part is read from a virtual start padded with zeros to a multiple of four digits.
  const pad = intGroups * 4 - intDigits
  const groupAt = (g: number): number => {
    let n = 0
    for (let k = 0; k < 4; k++) {
      const d = g * 4 + k - pad
      const i = d < intDigits ? start + d : start + d + 1
      n = n * 10 + (d >= 0 && i < len ? s.charCodeAt(i) - 48 : 0)
    }
    return n
  }
  let first = 0
  while (first < count && groupAt(first) === 0) first++
  let last = count
  while (last > first && groupAt(last - 1) === 0) last--
  header(last - first, intGroups - 1 - first, negative, dscale)
  for (let g = first; g < last; g++) int16(groupAt(g))
}

/** A canonical `8-4-4-4-12` hexadecimal UUID (either case), or give up. */
const uuid = (s: string): void => {
  if (s.length !== 36) throw GIVE_UP
  ensure(20)
  int32(16)
  let i = 0
  for (let byte = 0; byte < 16; byte++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (s.charCodeAt(i) !== 45) throw GIVE_UP
      i++
    }
    const hi = hex(s.charCodeAt(i))
    const lo = hex(s.charCodeAt(i + 1))
    if (hi < 0 || lo < 0) throw GIVE_UP
    out[at++] = (hi << 4) | lo
    i += 2
  }
}

const hex = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1

/** A plain `YYYY-MM-DD` date of years 0001-9999 as days since 2000-01-01, or give up. */
const date = (s: string): void => {
  if (s.length !== 10) throw GIVE_UP
  let d: ReturnType<typeof readDate>
  try {
    d = readDate(s, "a date")
  } catch {
    throw GIVE_UP
  }
  if (d.end !== 10 || d.year === 0 || d.day > daysInMonth(d.year, d.month)) throw GIVE_UP
  ensure(8)
  int32(4)
  int32(daysFromCivil(d.year, d.month, d.day) - PG_EPOCH_DAYS)
}

/** Epoch microseconds of 0001-01-01 to 9999-12-31 as PostgreSQL's timestamp (microseconds since 2000-01-01). */
const timestamp = (micros: bigint): void => {
  if (micros < MIN_MICROS || micros >= MAX_MICROS) throw GIVE_UP
  ensure(12)
  int32(8)
  view.setBigInt64(at, micros - PG_EPOCH_MICROS)
  at += 8
}

// One writer per type, for a non-NULL value.

const text = (v: unknown): void => {
  // COPY text refuses NUL (PostgreSQL text cannot hold it): that refusal stays the text encoder's.
  if (typeof v !== "string") throw GIVE_UP
  lengthAndText(v, 0, true)
}

const int8 = (v: unknown): void => {
  ensure(12)
  int32(8)
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw GIVE_UP
    int64Number(v)
    return
  }
  if (typeof v !== "bigint" || v < MIN_INT8 || v > MAX_INT8) throw GIVE_UP
  view.setBigInt64(at, v)
  at += 8
}

const int4 = (v: unknown): void => {
  if (typeof v !== "number" || !Number.isInteger(v) || v > 0x7fffffff || v < -0x80000000) throw GIVE_UP
  ensure(8)
  int32(4)
  int32(v)
}

const int2 = (v: unknown): void => {
  if (typeof v !== "number" || !Number.isInteger(v) || v > 0x7fff || v < -0x8000) throw GIVE_UP
  ensure(6)
  int32(2)
  int16(v & 0xffff)
}

// The text encoder writes the shortest decimal that reads back as the same double: binary is that double.
const float8 = (v: unknown): void => {
  if (typeof v !== "number") throw GIVE_UP
  ensure(12)
  int32(8)
  out.writeDoubleBE(v, at)
  at += 8
}

const numericValue = (v: unknown): void => {
  if (typeof v === "string") numeric(v)
  else if (typeof v === "number" && Number.isFinite(v)) numeric(String(v))
  else if (typeof v === "bigint") numeric(v.toString())
  else throw GIVE_UP
}

const bool = (v: unknown): void => {
  if (typeof v !== "boolean") throw GIVE_UP
  ensure(5)
  int32(1)
  out[at++] = v ? 1 : 0
}

// The text encoder prints a Timestamp's own instant (a wall-clock value into timestamptz as UTC, an instant into
// timestamp as its UTC wall clock): the same microseconds. Strings are read in the session's zone: text.
const timestampValue = (v: unknown): void => {
  if (v instanceof Timestamp.Timestamp) {
    timestamp(v.micros)
    return
  }
  if (!(v instanceof Date)) throw GIVE_UP
  const ms = v.getTime()
  if (Number.isNaN(ms)) throw GIVE_UP
  timestamp(BigInt(ms) * 1000n)
}

const dateValue = (v: unknown): void => {
  if (typeof v !== "string") throw GIVE_UP
  date(v)
}

const jsonText = (v: unknown): string => {
  const kept = printedText(v)
  if (kept !== undefined) return kept
  try {
    return encodeJson(v)
  } catch {
    throw GIVE_UP
  }
}

const json = (v: unknown): void => lengthAndText(jsonText(v), 0, false)

const jsonb = (v: unknown): void => lengthAndText(jsonText(v), 1, false)

const bytea = (v: unknown): void => {
  if (!(v instanceof Uint8Array)) throw GIVE_UP
  ensure(4 + v.length)
  int32(v.length)
  out.set(v, at)
  at += v.length
}

const uuidValue = (v: unknown): void => {
  if (typeof v !== "string") throw GIVE_UP
  uuid(v)
}

const WRITERS: ReadonlyMap<number, (v: unknown) => void> = new Map([
  [Values.BOOL, bool],
  [Values.BYTEA, bytea],
  [Values.INT8, int8],
  [Values.INT2, int2],
  [Values.INT4, int4],
  [Values.TEXT, text],
  [Values.VARCHAR, text],
  [Values.JSON_OID, json],
  [Values.JSONB, jsonb],
  [Values.FLOAT8, float8],
  [Values.DATE, dateValue],
  [Values.TIMESTAMP, timestampValue],
  [Values.TIMESTAMPTZ, timestampValue],
  [Values.NUMERIC, numericValue],
  [Values.UUID, uuidValue]
])

/** Whether every column's type has a binary writer here (and there is a column). */
export const supports = (oids: ReadonlyArray<number>): boolean => oids.length > 0 && oids.every((o) => WRITERS.has(o))

const nullField = (): void => {
  ensure(4)
  int32(-1)
}

type RowWriter = (record: Readonly<Record<string, unknown>>) => void

// A row writer specialised for the columns: each field read with a constant key (a monomorphic load) and written by
// its type's writer. Keys are embedded as JSON string literals, never raw text. Compiled writers by column list,
// bounded (the oldest goes first): a sink encodes every group with the same few.
const compiled = new Map<string, RowWriter>()

const rowWriterFor = (columns: ReadonlyArray<Column>): RowWriter => {
  const key = JSON.stringify(columns.map((c) => [c.name, c.oid]))
  const done = compiled.get(key)
  if (done !== undefined) return done
  const writers = columns.map((c) => WRITERS.get(c.oid)!)
  const writer = compile(columns, writers) ?? generic(columns, writers)
  if (compiled.size >= 256) compiled.delete(compiled.keys().next().value!)
  compiled.set(key, writer)
  return writer
}

const compile = (
  columns: ReadonlyArray<Column>,
  writers: ReadonlyArray<(v: unknown) => void>
): RowWriter | undefined => {
  const lines = ["let v", `start(${columns.length})`]
  columns.forEach((c, i) => {
    lines.push(`v = r[${JSON.stringify(c.name)}]`, `if (v === null || v === undefined) nil(); else w${i}(v)`)
  })
  try {
    const make = new Function(
      "start",
      "nil",
      ...writers.map((_, i) => `w${i}`),
      `return (r) => { ${lines.join("\n")} }`
    )
    return make(startRow, nullField, ...writers) as RowWriter
  } catch {
    // Code generation from strings is disallowed here: the generic writer does the same, more slowly.
    return undefined
  }
}

const generic =
  (columns: ReadonlyArray<Column>, writers: ReadonlyArray<(v: unknown) => void>): RowWriter =>
  (record) => {
    startRow(columns.length)
    for (let i = 0; i < columns.length; i++) {
      const v = record[columns[i]!.name]
      if (v === null || v === undefined) nullField()
      else writers[i]!(v)
    }
  }

const startRow = (fields: number): void => {
  ensure(2)
  int16(fields)
}

/**
 * `records` as COPY binary rows of `columns` (a field per column, NULL for a missing value), or `undefined` when a
 * value has no exact binary form (encode the group as COPY text). The bytes are a view of scratch memory, valid
 * until the next call: copy them out. The columns' types must be `supports`ed.
 */
export const encodeRows = (
  columns: ReadonlyArray<Column>,
  records: ReadonlyArray<Readonly<Record<string, unknown>>>
): Uint8Array | undefined => {
  const write = rowWriterFor(columns)
  at = 0
  if (out.length > KEEP_SCRATCH) out = Buffer.alloc(0)
  try {
    for (let r = 0; r < records.length; r++) write(records[r]!)
  } catch (e) {
    if (e === GIVE_UP) return undefined
    throw e
  }
  return out.subarray(0, at)
}
