/**
 * Scalar parsers and formatters for the PostgreSQL text representation of each supported type, shared by the
 * COPY text decoder and encoder. Parsers take the value as PostgreSQL prints it (after COPY's own backslash
 * escapes are undone) and throw `Malformed` with a description of what was expected, never the value.
 *
 * @since 0.1.0
 */
import { Timestamp } from "@data-mcp/core"

/** A value did not have the expected shape. `detail` says what was expected; it never quotes the value. */
export class Malformed extends Error {
  readonly detail: string
  constructor(detail: string) {
    super(detail)
    this.detail = detail
  }
}

// Value kinds: one small integer per decoding strategy, so the hot loop switches on a number.
export const TEXT = 0
export const INT = 1
export const INT8 = 2
export const FLOAT = 3
export const NUMERIC = 4
export const BOOL = 5
export const DATE = 6
export const TIMESTAMP = 7
export const TIMESTAMPTZ = 8
export const JSON_KIND = 9
export const BYTEA = 10
export const ARRAY = 11

// ---------------------------------------------------------------------------------------------------------------
// integers

/** Parses a decimal integer of at most 15 digits held in `text[start, end)`. */
export const parseIntRange = (text: string, start: number, end: number): number => {
  let i = start
  let neg = false
  if (i < end && text.charCodeAt(i) === 45) {
    neg = true
    i++
  }
  if (i === end || end - i > 15) throw new Malformed("expected an integer")
  let n = 0
  for (; i < end; i++) {
    const d = text.charCodeAt(i) - 48
    if (d < 0 || d > 9) throw new Malformed("expected an integer")
    n = n * 10 + d
  }
  return neg ? 0 - n : n
}

/** Parses an int8 held in `text[start, end)` to a `bigint`. */
export const parseInt8Range = (text: string, start: number, end: number): bigint => {
  const digits = end - start - (text.charCodeAt(start) === 45 ? 1 : 0)
  if (digits <= 15) return BigInt(parseIntRange(text, start, end))
  if (digits > 19) throw new Malformed("expected an int8")
  for (let i = end - digits; i < end; i++) {
    const d = text.charCodeAt(i) - 48
    if (d < 0 || d > 9) throw new Malformed("expected an int8")
  }
  return BigInt(text.slice(start, end))
}

const parseFloatText = (s: string): number => {
  const n = Number(s)
  if (s.length === 0 || (Number.isNaN(n) && s !== "NaN")) throw new Malformed("expected a float")
  return n
}

// [-]digits[.digits] | NaN | [-]Infinity: the forms PostgreSQL prints for numeric.
const isNumericText = (s: string): boolean => isNumericIn(s, 0, s.length)

/** `isNumericText` of `s[from, to)`, read in place. */
export const isNumericIn = (s: string, from: number, to: number): boolean => {
  let i = from
  if (to > from && (s.charCodeAt(from) === 45 || s.charCodeAt(from) === 43)) i++
  const c0 = s.charCodeAt(i)
  if (c0 === 78 || c0 === 73) {
    // Only `NaN` (unsigned) and `Infinity` are words.
    const word = s.slice(from, to)
    return word === "NaN" || s.slice(i, to) === "Infinity"
  }
  let digits = 0
  let dot = false
  for (; i < to; i++) {
    const c = s.charCodeAt(i)
    if (c >= 48 && c <= 57) digits++
    else if (c === 46 && !dot) dot = true
    else if ((c === 101 || c === 69) && digits > 0) return isExponent(s, i + 1, to)
    else return false
  }
  return digits > 0
}

const isExponent = (s: string, from: number, to: number): boolean => {
  let i = from
  if (i < to && (s.charCodeAt(i) === 45 || s.charCodeAt(i) === 43)) i++
  if (i === to) return false
  for (; i < to; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

// ---------------------------------------------------------------------------------------------------------------
// dates and timestamps

// Days since 1970-01-01 of a proleptic Gregorian date (astronomical years: 1 BC is year 0). H. Hinnant's algorithm.
export const daysFromCivil = (year: number, month: number, day: number): number => {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

export const daysInMonth = (year: number, month: number): number => {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

// A tiny cursor-free scanner: each reader returns the new position, or -1 on a mismatch.
const readDigits = (s: string, i: number, count: number): number => {
  let n = 0
  for (let k = 0; k < count; k++) {
    const d = s.charCodeAt(i + k) - 48
    if (!(d >= 0 && d <= 9)) return -1
    n = n * 10 + d
  }
  return n
}

interface CivilDate {
  year: number
  month: number
  day: number
  end: number
}

// One result object, overwritten by every `readDate` (callers read it at once): a fresh one per value was a tenth
// of a timestamp's decoding cost in allocation alone.
const civil: CivilDate = { year: 0, month: 0, day: 0, end: 0 }

// Reads `YYYY[Y…]-MM-DD` from `s` at `from` into `civil` (valid until the next call; `end` is an index into `s`),
// and returns it.
export const readDate = (s: string, what: string, from = 0): CivilDate => {
  let i = from
  let year = 0
  for (;;) {
    const d = s.charCodeAt(i) - 48
    if (!(d >= 0 && d <= 9)) break
    year = year * 10 + d
    i++
  }
  if (i - from < 4 || i - from > 7 || s.charCodeAt(i) !== 45 || s.charCodeAt(i + 3) !== 45)
    throw new Malformed(`expected ${what}`)
  const month = readDigits(s, i + 1, 2)
  const day = readDigits(s, i + 4, 2)
  if (month < 1 || month > 12 || day < 1) throw new Malformed(`expected ${what}`)
  civil.year = year
  civil.month = month
  civil.day = day
  civil.end = i + 6
  return civil
}

// Whether `s` ends with ` BC` at `end` (its length by default).
const endsWithBC = (s: string, end = s.length): boolean =>
  end > 3 && s.charCodeAt(end - 1) === 67 && s.charCodeAt(end - 2) === 66 && s.charCodeAt(end - 3) === 32

/** The value PostgreSQL prints for an infinite date or timestamp. */
export type Infinite = "infinity" | "-infinity"

const pad = (n: number, width: number): string => {
  const s = String(n)
  return s.length >= width ? s : "000000".slice(0, width - s.length) + s
}

// The ISO 8601 year: four digits for 0000-9999, else a sign and six digits (as Date#toISOString prints).
const isoYear = (year: number): string =>
  year >= 0 && year <= 9999 ? pad(year, 4) : `${year < 0 ? "-" : "+"}${pad(Math.abs(year), 6)}`

/** Decodes a PostgreSQL ISO date (`2024-01-31`, `10000-01-01`, `0044-03-15 BC`, `infinity`) to ISO 8601. */
export const decodeDate = (s: string): string => {
  if (s.length === 10 && !endsWithBC(s)) {
    // The common case: four-digit AD year, already ISO 8601.
    const d = readDate(s, "a date")
    if (d.end !== 10 || d.day > daysInMonth(d.year, d.month)) throw new Malformed("expected a date")
    return s
  }
  if (s === "infinity" || s === "-infinity") return s
  const d = readDate(s, "a date")
  const bc = endsWithBC(s)
  if (d.end !== s.length - (bc ? 3 : 0)) throw new Malformed("expected a date")
  const year = bc ? 1 - d.year : d.year
  if (d.day > daysInMonth(year, d.month) || (bc && d.year === 0)) throw new Malformed("expected a date")
  return `${isoYear(year)}-${pad(d.month, 2)}-${pad(d.day, 2)}`
}

/** Encodes an ISO 8601 date (`2024-01-31`, `+010000-01-01`, `-000043-03-15`) to PostgreSQL's input form. */
export const encodeDate = (s: string): string => {
  const first = s.charCodeAt(0)
  if (first !== 43 && first !== 45) {
    if (s.length === 10 && s.charCodeAt(4) === 45 && !s.startsWith("0000")) return s
    if (s === "infinity") return s
  }
  if (s === "-infinity") return s
  const sign = first === 45 ? -1 : 1
  const body = first === 43 || first === 45 ? s.slice(1) : s
  const d = readDate(body, "an ISO 8601 date")
  if (d.end !== body.length) throw new Malformed("expected an ISO 8601 date")
  return formatPgDate(sign * d.year, d.month, d.day)
}

const formatPgDate = (year: number, month: number, day: number): string =>
  year > 0
    ? `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`
    : `${pad(1 - year, 4)}-${pad(month, 2)}-${pad(day, 2)} BC`

/**
 * Decodes a timestamp as PostgreSQL prints it with `DateStyle = ISO`: `2024-01-02 03:04:05.123456`, with a UTC
 * offset (`+00`, `+05:30`, `-03:30`, `+05:53:28`) for `timestamptz`, a ` BC` suffix before year 1, `infinity`.
 */
export const decodeTimestamp = (s: string, zoned: boolean, keep?: string): Timestamp.Timestamp | Infinite =>
  decodeTimestampIn(s, 0, s.length, zoned, keep)

/**
 * `decodeTimestamp` of `s[from, to)`, read in place (the COPY decoder parses each field inside its chunk's text,
 * where reading characters is cheaper than in a string cut from it).
 */
export const decodeTimestampIn = (
  s: string,
  from: number,
  to: number,
  zoned: boolean,
  keep?: string
): Timestamp.Timestamp | Infinite => {
  const what = zoned ? "a timestamptz" : "a timestamp"
  const first = s.charCodeAt(from)
  if (first === 105 || first === 45) {
    const whole = s.slice(from, to)
    if (whole === "infinity" || whole === "-infinity") return whole
  }
  const d = readDate(s, what, from)
  let i = d.end
  const sep = s.charCodeAt(i)
  if (sep !== 32 && sep !== 84) throw new Malformed(`expected ${what}`)
  const hour = readDigits(s, i + 1, 2)
  const minute = readDigits(s, i + 4, 2)
  const second = readDigits(s, i + 7, 2)
  if (
    s.charCodeAt(i + 3) !== 58 ||
    s.charCodeAt(i + 6) !== 58 ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    second < 0 ||
    second > 59
  )
    throw new Malformed(`expected ${what}`)
  i += 9
  let micro = 0
  if (s.charCodeAt(i) === 46) {
    i++
    let digits = 0
    for (;;) {
      const c = s.charCodeAt(i) - 48
      if (!(c >= 0 && c <= 9)) break
      if (digits < 6) micro = micro * 10 + c
      else if (c !== 0) throw new Malformed(`expected ${what} with at most microsecond precision`)
      digits++
      i++
    }
    if (digits === 0) throw new Malformed(`expected ${what}`)
    for (; digits < 6; digits++) micro *= 10
  }
  let offset = 0
  const sign = s.charCodeAt(i)
  if (sign === 43 || sign === 45) {
    if (!zoned) throw new Malformed("expected a timestamp without a UTC offset")
    const oh = readDigits(s, i + 1, 2)
    if (oh < 0) throw new Malformed(`expected ${what}`)
    i += 3
    let om = 0
    let os = 0
    if (s.charCodeAt(i) === 58) {
      om = readDigits(s, i + 1, 2)
      i += 3
      if (s.charCodeAt(i) === 58) {
        os = readDigits(s, i + 1, 2)
        i += 3
      }
    }
    if (om < 0 || os < 0 || om > 59 || os > 59) throw new Malformed(`expected ${what}`)
    offset = (sign === 45 ? -1 : 1) * (oh * 3600 + om * 60 + os)
  } else if (sign === 90 && zoned) {
    i++
  } else if (zoned) {
    throw new Malformed("expected a timestamptz with a UTC offset")
  }
  let year = d.year
  if (i !== to) {
    if (i + 3 !== to || !endsWithBC(s, to) || year === 0) throw new Malformed(`expected ${what}`)
    year = 1 - year
  }
  if (d.day > daysInMonth(year, d.month)) throw new Malformed(`expected ${what}`)
  const seconds = daysFromCivil(year, d.month, d.day) * 86400 + hour * 3600 + minute * 60 + second - offset
  // Below ~2255 AD seconds × 10⁶ stays under 2^53, so one exact Number → BigInt conversion suffices.
  const micros =
    seconds < 9e9 && seconds > -9e9 ? BigInt(seconds * 1e6 + micro) : BigInt(seconds) * 1_000_000n + BigInt(micro)
  return new Timestamp.Timestamp(micros, zoned, keep === undefined ? undefined : { key: PRINTED, text: keep })
}

/**
 * Formats epoch microseconds for PostgreSQL input: `YYYY-MM-DD HH:MM:SS.ffffff`, then `+00` when `utc`, then
 * ` BC` before year 1. Independent of the session's `TimeZone` and `DateStyle` (ISO input is always accepted).
 */
export const formatTimestamp = (micros: bigint, utc: boolean): string => {
  let seconds: number
  let micro: number
  if (micros < 9_000_000_000_000_000n && micros > -9_000_000_000_000_000n) {
    const m = Number(micros)
    micro = m % 1e6
    if (micro < 0) micro += 1e6
    seconds = (m - micro) / 1e6
  } else {
    let q = micros / 1_000_000n
    let r = micros - q * 1_000_000n
    if (r < 0n) {
      q -= 1n
      r += 1_000_000n
    }
    seconds = Number(q)
    micro = Number(r)
  }
  const days = Math.floor(seconds / 86400)
  const sod = seconds - days * 86400
  const hh = (sod / 3600) | 0
  const rest = sod - hh * 3600
  const mi = (rest / 60) | 0
  const time = `${TWO_DIGITS[hh]}:${TWO_DIGITS[mi]}:${TWO_DIGITS[rest - mi * 60]}.${SIX_DIGITS(micro)}`
  const date = dayText(days)
  return date.bc
    ? `${date.text} ${time}${utc ? "+00" : ""} BC`
    : utc
      ? `${date.text} ${time}+00`
      : `${date.text} ${time}`
}

const TWO_DIGITS: ReadonlyArray<string> = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : String(i)))
const SIX_DIGITS = (n: number): string => {
  const s = String(n)
  return s.length === 6 ? s : "000000".slice(s.length) + s
}

// Rows of a batch tend to share their day: the last day's text is kept (one entry, so nothing grows).
let lastDay = Number.NaN
let lastDayText = { text: "", bc: false }

export const dayText = (days: number): { readonly text: string; readonly bc: boolean } => {
  if (days === lastDay) return lastDayText
  // civil from days (H. Hinnant)
  const z = days + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  lastDayText =
    year > 0
      ? { text: `${pad(year, 4)}-${TWO_DIGITS[month]}-${TWO_DIGITS[day]}`, bc: false }
      : { text: `${pad(1 - year, 4)}-${TWO_DIGITS[month]}-${TWO_DIGITS[day]}`, bc: true }
  lastDay = days
  return lastDayText
}

// A decoded `Timestamp` keeps the text PostgreSQL printed for it (in the UTC session of `sessionSettings`), valid
// input for the same column kind: writing it back skips formatting. Safe because a `Timestamp` is immutable.
const PRINTED: unique symbol = Symbol("data-mcp.postgres.printed")

// ---------------------------------------------------------------------------------------------------------------
// bytea

const HEX_VALUE = new Int8Array(128).fill(-1)
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i
for (let i = 0; i < 6; i++) {
  HEX_VALUE[65 + i] = 10 + i
  HEX_VALUE[97 + i] = 10 + i
}

/** Decodes bytea in hex output format (`\x0aff`, as `bytea_output = 'hex'` prints it). */
export const decodeBytea = (s: string): Uint8Array => {
  if (s.charCodeAt(0) !== 92 || s.charCodeAt(1) !== 120 || (s.length & 1) !== 0)
    throw new Malformed("expected bytea in hex format")
  const out = new Uint8Array((s.length - 2) >> 1)
  for (let i = 2, j = 0; i < s.length; i += 2, j++) {
    const hi = HEX_VALUE[s.charCodeAt(i)] ?? -1
    const lo = HEX_VALUE[s.charCodeAt(i + 1)] ?? -1
    if (hi < 0 || lo < 0) throw new Malformed("expected bytea in hex format")
    out[j] = (hi << 4) | lo
  }
  return out
}

/** Formats bytes as bytea hex input (`\x0aff`), before COPY escaping. */
export const formatBytea = (bytes: Uint8Array): string =>
  `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`

// ---------------------------------------------------------------------------------------------------------------
// JSON

// JSON.parse turns integers beyond 2^53 into rounded doubles; values that may hold one are parsed again below.

/** Parses JSON text; integers outside ±(2^53 − 1) become `bigint`, every other number a `number`. */
export const decodeJson = (s: string): unknown => {
  let value: unknown
  try {
    value = JSON.parse(s)
  } catch {
    throw new Malformed("expected JSON")
  }
  // An integer beyond 2^53 − 1 parses to a double of at least 2^53: only then can the native parse have rounded
  // one, and the text is parsed again, losslessly. Checking the parsed value costs less than scanning the text.
  return mayBeRounded(value) ? decodeJsonLossless(s) : value
}

const TWO_53 = 2 ** 53

/** Whether a parsed JSON value holds a number of magnitude 2^53 or more (too deep to tell: yes). */
const mayBeRounded = (value: unknown): boolean => {
  try {
    return holdsHugeNumber(value)
  } catch {
    return true
  }
}

const holdsHugeNumber = (value: unknown): boolean => {
  if (typeof value === "number") return value >= TWO_53 || value <= -TWO_53
  if (typeof value !== "object" || value === null) return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (holdsHugeNumber(value[i])) return true
    return false
  }
  for (const key in value) if (holdsHugeNumber((value as Record<string, unknown>)[key])) return true
  return false
}

/** Parses JSON text with integers beyond ±(2^53 − 1) as `bigint` (slower than the native parser). */
const decodeJsonLossless = (s: string): unknown => {
  try {
    const parser = new LosslessJson(s)
    const value = parser.value()
    parser.space()
    if (parser.i !== s.length) throw new Malformed("expected JSON")
    return value
  } catch (e) {
    if (e instanceof Malformed) throw e
    throw new Malformed("expected JSON")
  }
}

class LosslessJson {
  i = 0
  constructor(readonly s: string) {}

  space(): void {
    for (;;) {
      const c = this.s.charCodeAt(this.i)
      if (c === 32 || c === 9 || c === 10 || c === 13) this.i++
      else return
    }
  }

  value(): unknown {
    this.space()
    const s = this.s
    const c = s.charCodeAt(this.i)
    if (c === 123) {
      this.i++
      const out: Record<string, unknown> = {}
      this.space()
      if (s.charCodeAt(this.i) === 125) {
        this.i++
        return out
      }
      for (;;) {
        this.space()
        if (s.charCodeAt(this.i) !== 34) throw new Malformed("expected JSON")
        const key = this.string()
        this.space()
        if (s.charCodeAt(this.i++) !== 58) throw new Malformed("expected JSON")
        const v = this.value()
        if (key === "__proto__")
          Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true })
        else out[key] = v
        this.space()
        const next = s.charCodeAt(this.i++)
        if (next === 125) return out
        if (next !== 44) throw new Malformed("expected JSON")
      }
    }
    if (c === 91) {
      this.i++
      const out: Array<unknown> = []
      this.space()
      if (s.charCodeAt(this.i) === 93) {
        this.i++
        return out
      }
      for (;;) {
        out.push(this.value())
        this.space()
        const next = s.charCodeAt(this.i++)
        if (next === 93) return out
        if (next !== 44) throw new Malformed("expected JSON")
      }
    }
    if (c === 34) return this.string()
    if (c === 45 || (c >= 48 && c <= 57)) return this.number()
    for (const [word, v] of LITERALS) {
      if (s.startsWith(word, this.i)) {
        this.i += word.length
        return v
      }
    }
    throw new Malformed("expected JSON")
  }

  string(): string {
    const s = this.s
    const start = this.i
    let escaped = false
    let i = start + 1
    for (;;) {
      const c = s.charCodeAt(i)
      if (c === 34) break
      if (c === 92) {
        escaped = true
        i++
      } else if (Number.isNaN(c)) throw new Malformed("expected JSON")
      i++
    }
    this.i = i + 1
    return escaped ? (JSON.parse(s.slice(start, i + 1)) as string) : s.slice(start + 1, i)
  }

  number(): number | bigint {
    const s = this.s
    const start = this.i
    let integer = true
    let i = start
    for (;;) {
      const c = s.charCodeAt(i)
      if (c >= 48 && c <= 57) i++
      else if (c === 45 || c === 43) i++
      else if (c === 46 || c === 101 || c === 69) {
        integer = false
        i++
      } else break
    }
    this.i = i
    const text = s.slice(start, i)
    const n = JSON.parse(text) as number
    return integer && !Number.isSafeInteger(n) ? BigInt(text) : n
  }
}

const LITERALS: ReadonlyArray<readonly [string, unknown]> = [
  ["true", true],
  ["false", false],
  ["null", null]
]

/** Serialises a value to JSON text; `bigint`s are written as plain JSON integers, without loss. */
export const encodeJson = (value: unknown): string => {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (e) {
    if (!(e instanceof TypeError) || !containsBigInt(value, 0))
      throw new Malformed("expected a JSON-serialisable value")
    text = stringifyLossless(value, "")
  }
  if (text === undefined) throw new Malformed("expected a JSON-serialisable value")
  return text
}

const containsBigInt = (value: unknown, depth: number): boolean => {
  if (typeof value === "bigint") return true
  if (depth > 1000 || typeof value !== "object" || value === null) return false
  for (const v of Array.isArray(value) ? value : Object.values(value)) if (containsBigInt(v, depth + 1)) return true
  return false
}

// JSON.stringify's rules (toJSON, undefined/functions dropped from objects and nulled in arrays) plus bigint.
const stringifyLossless = (value: unknown, key: string): string | undefined => {
  let v = value
  if (typeof v === "object" && v !== null && typeof (v as { toJSON?: unknown }).toJSON === "function")
    v = (v as { toJSON: (key: string) => unknown }).toJSON(key)
  switch (typeof v) {
    case "bigint":
      return v.toString()
    case "string":
    case "number":
    case "boolean":
      return JSON.stringify(v)
    case "object": {
      if (v === null) return "null"
      if (Array.isArray(v)) return `[${v.map((x, i) => stringifyLossless(x, String(i)) ?? "null").join(",")}]`
      const parts: Array<string> = []
      for (const [k, x] of Object.entries(v)) {
        const text = stringifyLossless(x, k)
        if (text !== undefined) parts.push(`${JSON.stringify(k)}:${text}`)
      }
      return `{${parts.join(",")}}`
    }
    default:
      return undefined
  }
}

// ---------------------------------------------------------------------------------------------------------------
// scalars by kind

/** Decodes one scalar in PostgreSQL text form (COPY escapes already undone). */
export const decodeScalar = (kind: number, s: string): unknown => {
  switch (kind) {
    case TEXT:
      return s
    case INT:
      return parseIntRange(s, 0, s.length)
    case INT8:
      return parseInt8Range(s, 0, s.length)
    case FLOAT:
      return parseFloatText(s)
    case NUMERIC:
      if (!isNumericText(s)) throw new Malformed("expected a numeric")
      return s
    case BOOL:
      if (s === "t") return true
      if (s === "f") return false
      throw new Malformed("expected a boolean (t or f)")
    case DATE:
      return decodeDate(s)
    case TIMESTAMP:
      return decodeTimestamp(s, false, s)
    case TIMESTAMPTZ:
      return decodeTimestamp(s, true, s)
    case JSON_KIND:
      return decodeJson(s)
    case BYTEA:
      return decodeBytea(s)
    default:
      throw new Malformed("unsupported type")
  }
}

const MAX_INT8 = 9223372036854775807n
const MIN_INT8 = -9223372036854775808n

/** Formats one non-null scalar in PostgreSQL text input form (before COPY escaping). */
export const formatScalar = (kind: number, v: unknown): string => {
  switch (kind) {
    case TEXT:
      if (typeof v !== "string") throw new Malformed("expected a string")
      return v
    case INT:
      if (typeof v === "number" && Number.isInteger(v)) return String(v)
      if (typeof v === "bigint") return v.toString()
      throw new Malformed("expected an integer number")
    case INT8:
      if (typeof v === "bigint") {
        if (v > MAX_INT8 || v < MIN_INT8) throw new Malformed("expected a bigint in the int8 range")
        return v.toString()
      }
      if (typeof v === "number" && Number.isSafeInteger(v)) return String(v)
      throw new Malformed("expected a bigint or a safe integer")
    case FLOAT:
      if (typeof v === "number") {
        if (v === 0 && Object.is(v, -0)) return "-0"
        return String(v)
      }
      if (typeof v === "bigint") return v.toString()
      throw new Malformed("expected a number")
    case NUMERIC:
      if (typeof v === "string") {
        if (!isNumericText(v)) throw new Malformed("expected a decimal string")
        return v
      }
      if (typeof v === "number" || typeof v === "bigint") return String(v)
      throw new Malformed("expected a decimal string")
    case BOOL:
      if (v === true) return "t"
      if (v === false) return "f"
      throw new Malformed("expected a boolean")
    case DATE:
      if (typeof v !== "string") throw new Malformed("expected an ISO 8601 date string")
      return encodeDate(v)
    case TIMESTAMP:
    case TIMESTAMPTZ:
      if (v instanceof Timestamp.Timestamp) {
        const text = v.printedAs(PRINTED)
        return text !== undefined && v.zoned === (kind === TIMESTAMPTZ)
          ? text
          : formatTimestamp(v.micros, kind === TIMESTAMPTZ)
      }
      if (v === "infinity" || v === "-infinity") return v
      if (v instanceof Date) {
        const ms = v.getTime()
        if (Number.isNaN(ms)) throw new Malformed("expected a valid Date")
        return formatTimestamp(BigInt(ms) * 1000n, kind === TIMESTAMPTZ)
      }
      if (typeof v === "string") return v
      throw new Malformed("expected a Timestamp")
    case JSON_KIND:
      return encodeJson(v)
    case BYTEA:
      if (v instanceof Uint8Array) return formatBytea(v)
      throw new Malformed("expected a Uint8Array")
    default:
      throw new Malformed("unsupported type")
  }
}

// ---------------------------------------------------------------------------------------------------------------
// arrays

const isArraySpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12

/** Parses an array literal (`{1,2,NULL}`, `{{1,2},{3,4}}`, `{"a,b","c\"d"}`, `[0:1]={1,2}`). */
export const decodeArray = (s: string, kind: number): Array<unknown> => {
  let i = 0
  if (s.charCodeAt(0) === 91) {
    // Dimension decoration for non-default lower bounds: `[0:1]={…}` (the bounds are dropped).
    i = s.indexOf("=")
    if (i < 0) throw new Malformed("expected an array")
    i++
  }
  if (s.charCodeAt(i) !== 123) throw new Malformed("expected an array")
  const state = { i }
  const out = readArrayLevel(s, state, kind)
  if (state.i !== s.length) throw new Malformed("expected an array")
  return out
}

const readArrayLevel = (s: string, state: { i: number }, kind: number): Array<unknown> => {
  const out: Array<unknown> = []
  let i = state.i + 1
  while (isArraySpace(s.charCodeAt(i))) i++
  if (s.charCodeAt(i) === 125) {
    state.i = i + 1
    return out
  }
  for (;;) {
    while (isArraySpace(s.charCodeAt(i))) i++
    const c = s.charCodeAt(i)
    if (c === 123) {
      state.i = i
      out.push(readArrayLevel(s, state, kind))
      i = state.i
    } else if (c === 34) {
      let text = ""
      let from = ++i
      for (;;) {
        const q = s.charCodeAt(i)
        if (q === 34) break
        if (q === 92) {
          text += s.slice(from, i)
          from = ++i
        } else if (Number.isNaN(q)) throw new Malformed("expected an array")
        i++
      }
      text += s.slice(from, i)
      i++
      out.push(decodeScalar(kind, text))
    } else {
      let text = ""
      let from = i
      let escaped = false
      for (;;) {
        const q = s.charCodeAt(i)
        if (q === 44 || q === 125) break
        if (q === 92) {
          text += s.slice(from, i)
          from = ++i
          escaped = true
        } else if (Number.isNaN(q) || q === 123 || q === 34) throw new Malformed("expected an array")
        i++
      }
      let end = i
      while (end > from && isArraySpace(s.charCodeAt(end - 1))) end--
      text += s.slice(from, end)
      if (text.length === 0) throw new Malformed("expected an array")
      out.push(!escaped && text.length === 4 && text.toUpperCase() === "NULL" ? null : decodeScalar(kind, text))
    }
    while (isArraySpace(s.charCodeAt(i))) i++
    const next = s.charCodeAt(i++)
    if (next === 125) {
      state.i = i
      return out
    }
    if (next !== 44) throw new Malformed("expected an array")
  }
}

// An element needs quotes when empty, spelled NULL, or holding a delimiter, brace, quote, backslash or space.
const needsQuotes = (t: string): boolean => {
  if (t.length === 0 || (t.length === 4 && t.toUpperCase() === "NULL")) return true
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i)
    if (c === 44 || c === 123 || c === 125 || c === 34 || c === 92 || isArraySpace(c)) return true
  }
  return false
}

const quoteElement = (t: string): string => {
  if (!needsQuotes(t)) return t
  let out = '"'
  let from = 0
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i)
    if (c === 34 || c === 92) {
      out += `${t.slice(from, i)}\\`
      from = i
    }
  }
  return `${out}${t.slice(from)}"`
}

/**
 * Formats a JS array as an array literal. Nested JS arrays are dimensions, except for json/jsonb elements, where
 * an inner JS array is a JSON value (so `_jsonb` columns are one-dimensional on write).
 */
export const formatArray = (v: unknown, kind: number): string => {
  if (!Array.isArray(v)) throw new Malformed("expected an array")
  let out = "{"
  for (let i = 0; i < v.length; i++) {
    if (i > 0) out += ","
    const e: unknown = v[i]
    if (e === null || e === undefined) out += "NULL"
    else if (Array.isArray(e) && kind !== JSON_KIND) out += formatArray(e, kind)
    else out += quoteElement(formatScalar(kind, e))
  }
  return `${out}}`
}
