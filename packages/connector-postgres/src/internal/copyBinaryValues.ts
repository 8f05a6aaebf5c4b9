// The values of COPY binary fields: each read at an offset of a buffer, as exactly the value the COPY text decoder
// gives for the same field (`valueAt`), or as the text PostgreSQL prints for it (`textAt`, for checkpoints).
import { Timestamp } from "@data-mcp/core"
import { dayText, decodeDate, decodeJson, formatTimestamp } from "./copyValues.ts"
import { decodeKeepingText } from "./jsonText.ts"

// Type OIDs (fixed across versions).
export const BOOL = 16
export const BYTEA = 17
export const NAME = 19
export const INT8 = 20
export const INT2 = 21
export const INT4 = 23
export const TEXT = 25
export const JSON_OID = 114
export const FLOAT8 = 701
export const BPCHAR = 1042
export const VARCHAR = 1043
export const DATE = 1082
export const TIMESTAMP = 1114
export const TIMESTAMPTZ = 1184
export const NUMERIC = 1700
export const UUID = 2950
export const JSONB = 3802

const INT32_MAX = 0x7fffffff
const INT32_MIN = -0x80000000
/** Microseconds and days from the Unix epoch to PostgreSQL's (2000-01-01). */
const PG_EPOCH_MICROS = 946_684_800_000_000n
const PG_EPOCH_MICROS_NUMBER = 946_684_800_000_000
const PG_EPOCH_DAYS = 10_957

/** A field whose bytes are not a value of its type (the message names the type). */
export class BadValue extends Error {}

const int16At = (b: Buffer, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16)) >> 16
const uint16At = (b: Buffer, o: number): number => (b[o]! << 8) | b[o + 1]!
const int32At = (b: Buffer, o: number): number => (b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!

const sized = (length: number, size: number, what: string): void => {
  if (length !== size) throw new BadValue(what)
}

/** The int64 at `o` as a number when exact (|v| < 2^53), else `undefined`. */
const int64Number = (b: Buffer, o: number): number | undefined => {
  const hi = int32At(b, o)
  if (hi >= 0x200000 || hi < -0x200000) return undefined
  return hi * 4294967296 + (int32At(b, o + 4) >>> 0)
}

const int64At = (b: Buffer, o: number): bigint => {
  const n = int64Number(b, o)
  return n === undefined ? b.readBigInt64BE(o) : BigInt(n)
}

// Node's own UTF-8 slice of a Buffer (what `toString("utf8", start, end)` calls, without its argument checks).
const utf8Slice = (b: Buffer, start: number, end: number): string =>
  (b as Buffer & { utf8Slice(start: number, end: number): string }).utf8Slice(start, end)

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

const uuidAt = (b: Buffer, o: number): string => {
  let s = ""
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += "-"
    s += HEX[b[o + i]!]
  }
  return s
}

/** The 4-digit groups of numeric's base-10000 digits, padded. */
const GROUPS: ReadonlyArray<string> = Array.from({ length: 10_000 }, (_, i) => String(i).padStart(4, "0"))

/** numeric's binary form (base-10000 digits, weight, sign, display scale) as `numeric_out` prints it. */
const numericAt = (b: Buffer, o: number, length: number): string => {
  if (length < 8) throw new BadValue("numeric")
  const ndigits = uint16At(b, o)
  const weight = int16At(b, o + 2)
  const sign = uint16At(b, o + 4)
  const dscale = uint16At(b, o + 6)
  if (sign === 0xc000) return "NaN"
  if (sign === 0xd000) return "Infinity"
  if (sign === 0xf000) return "-Infinity"
  if ((sign !== 0 && sign !== 0x4000) || length !== 8 + 2 * ndigits || dscale > 0x3fff) throw new BadValue("numeric")
  const at = o + 8
  const digit = (i: number): number => (i >= 0 && i < ndigits ? uint16At(b, at + 2 * i) : 0)
  let out = sign === 0x4000 ? "-" : ""
  if (weight < 0) out += "0"
  else {
    out += String(digit(0))
    for (let i = 1; i <= weight; i++) out += GROUPS[digit(i)]
  }
  if (dscale > 0) {
    let fraction = ""
    for (let g = 0, groups = Math.ceil(dscale / 4); g < groups; g++) fraction += GROUPS[digit(weight + 1 + g)]
    out += `.${fraction.length === dscale ? fraction : fraction.slice(0, dscale)}`
  }
  return out
}

/** A date field as PostgreSQL prints it (ISO `DateStyle`): `2024-01-31`, `0044-03-15 BC`, `infinity`. */
const dateAt = (b: Buffer, o: number, length: number): string => {
  sized(length, 4, "date")
  const days = int32At(b, o)
  if (days === INT32_MAX) return "infinity"
  if (days === INT32_MIN) return "-infinity"
  const d = dayText(days + PG_EPOCH_DAYS)
  return d.bc ? `${d.text} BC` : d.text
}

/** The epoch microseconds of a timestamp field, or its infinity. */
const timestampAt = (b: Buffer, o: number): bigint | "infinity" | "-infinity" => {
  const n = int64Number(b, o)
  // Below ~2255 AD the epoch micros stay under 2^53: one exact Number → BigInt conversion.
  if (n !== undefined && n + PG_EPOCH_MICROS_NUMBER < Number.MAX_SAFE_INTEGER) return BigInt(n + PG_EPOCH_MICROS_NUMBER)
  const micros = b.readBigInt64BE(o)
  if (micros === 0x7fffffffffffffffn) return "infinity"
  if (micros === -0x8000000000000000n) return "-infinity"
  return micros + PG_EPOCH_MICROS
}

/** A timestamp or timestamptz field (`length` checked) as its epoch microseconds, or its infinity. */
const timestampField = (b: Buffer, o: number, length: number, oid: number): bigint | "infinity" | "-infinity" => {
  sized(length, 8, oid === TIMESTAMP ? "timestamp" : "timestamptz")
  return timestampAt(b, o)
}

// JSON text is kept for the text encoder only when it is valid COPY text as it is (as the text decoder does).
const jsonValue = (s: string): unknown => {
  if (/[\\\t\n\r]/.test(s)) return decodeJson(s)
  const kept = decodeKeepingText(s, 0, s.length)
  return kept === undefined ? decodeJson(s) : kept
}

/**
 * The value of the non-NULL field of type `oid` at `o` (`length` bytes) of `b`, as the COPY text decoder gives it
 * for the same field. Throws `BadValue`, or the codec's `Malformed` (invalid JSON).
 */
export const valueAt = (b: Buffer, o: number, length: number, oid: number): unknown => {
  switch (oid) {
    case INT8:
      sized(length, 8, "int8")
      return int64At(b, o)
    case TEXT:
    case VARCHAR:
    case BPCHAR:
    case NAME:
      return utf8Slice(b, o, o + length)
    case NUMERIC:
      return numericAt(b, o, length)
    case TIMESTAMPTZ:
    case TIMESTAMP: {
      const micros = timestampField(b, o, length, oid)
      return typeof micros === "bigint" ? new Timestamp.Timestamp(micros, oid === TIMESTAMPTZ) : micros
    }
    case JSONB:
      if (length < 1 || b[o] !== 1) throw new BadValue("jsonb (version 1)")
      return jsonValue(utf8Slice(b, o + 1, o + length))
    case JSON_OID:
      return jsonValue(utf8Slice(b, o, o + length))
    case INT4:
      sized(length, 4, "int4")
      return int32At(b, o)
    case INT2:
      sized(length, 2, "int2")
      return int16At(b, o)
    case BOOL:
      sized(length, 1, "bool")
      return b[o] !== 0
    case FLOAT8:
      sized(length, 8, "float8")
      return b.readDoubleBE(o)
    case UUID:
      sized(length, 16, "uuid")
      return uuidAt(b, o)
    case DATE:
      // As the text decoder reads the text PostgreSQL prints (`infinity` included).
      return decodeDate(dateAt(b, o, length))
    case BYTEA:
      return Uint8Array.prototype.slice.call(b, o, o + length)
    default:
      throw new BadValue(`type ${oid}`)
  }
}

/**
 * The text PostgreSQL prints (ISO `DateStyle`, UTC) for the non-NULL field of type `oid` at `o` of `b`: a key or
 * cursor of a page boundary (the types `CopyBinary.supportsBoundary` lists). Throws `BadValue`.
 */
export const textAt = (b: Buffer, o: number, length: number, oid: number): string => {
  switch (oid) {
    case DATE:
      return dateAt(b, o, length)
    case TIMESTAMP:
    case TIMESTAMPTZ: {
      const micros = timestampField(b, o, length, oid)
      if (typeof micros !== "bigint") return micros
      // formatTimestamp prints six fractional digits; PostgreSQL drops trailing zeros, and the point with them.
      return formatTimestamp(micros, oid === TIMESTAMPTZ).replace(/\.(\d*?)0+(?=\+| |$)/, (_, kept: string) =>
        kept === "" ? "" : `.${kept}`
      )
    }
    case INT8:
    case INT4:
    case INT2:
    case NUMERIC:
    case UUID:
    case TEXT:
    case VARCHAR:
    case BPCHAR:
    case NAME:
      // Their decoded values are the printed text, or integers whose decimal form it is.
      return String(valueAt(b, o, length, oid))
    default:
      throw new BadValue(`type ${oid}`)
  }
}
