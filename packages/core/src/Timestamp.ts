/**
 * A lossless point in time: epoch microseconds plus a flag telling whether the value carries a time zone.
 *
 * JavaScript's `Date` keeps milliseconds and always means UTC, so it silently drops the microseconds of a
 * PostgreSQL `timestamp` and shifts a `timestamp without time zone` by the host's offset. `Timestamp` keeps
 * both exactly as the source stored them. Convert to `Date` only with an explicit `toDate` (a cast).
 *
 * @since 0.1.0
 */
import { Effect, Schema, SchemaIssue, SchemaTransformation } from "effect"

const MICROS_PER_MS = 1000n
const MICROS_PER_SECOND = 1_000_000n
// Years may carry a sign and up to six digits (`Date#toISOString` writes `+010000`/`-000001` outside 0000-9999);
// offsets may be `Z`, `±hh`, `±hhmm`, `±hh:mm` or `±hh:mm:ss` (PostgreSQL prints `+00`, and seconds for LMT zones).
const ISO =
  /^([+-]?\d{4,6})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?)?$/i

/**
 * An instant with microsecond precision. `zoned: false` is a wall-clock value (SQL `timestamp without time
 * zone`): it is never shifted, and its ISO form has no offset.
 *
 * **Example** (Keeping microseconds)
 *
 * ```ts
 * import { Timestamp } from "@data-mcp/core"
 *
 * const t = Timestamp.fromISOString("2026-01-02T03:04:05.123456Z")
 * t.toISOString() // "2026-01-02T03:04:05.123456Z"
 * t.micros        // 1767323045123456n
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class Timestamp {
  /** Microseconds since 1970-01-01T00:00:00 (UTC when `zoned`, wall clock otherwise). */
  readonly micros: bigint
  /** Whether the value is an instant in UTC (`true`) or a wall-clock value without a zone (`false`). */
  readonly zoned: boolean

  // The exact text a decoder parsed this value from, under the decoder's own key (see `printedAs`); private, so
  // it never shows in enumeration, JSON, spreads or deep equality.
  readonly #printedKey: symbol | undefined
  readonly #printedText: string | undefined

  /**
   * `printed`: the exact text a decoder parsed this value from, under that decoder's own `key`, so the matching
   * encoder can write it back unchanged (`printedAs`). Values are immutable, so the text stays exact.
   */
  constructor(micros: bigint, zoned = true, printed?: { readonly key: symbol; readonly text: string }) {
    this.micros = micros
    this.zoned = zoned
    this.#printedKey = printed?.key
    this.#printedText = printed?.text
  }

  /** The text this value was decoded from under `key`, if it was (see the constructor); else `undefined`. */
  printedAs(key: symbol): string | undefined {
    return this.#printedKey === key ? this.#printedText : undefined
  }

  /** Converts to a `Date`, dropping the sub-millisecond part (a lossy, explicit cast). */
  toDate(): Date {
    return new Date(Number(floorDiv(this.micros, MICROS_PER_MS)))
  }

  /** ISO 8601 with all six fractional digits; `Z` when zoned, no offset otherwise. */
  toISOString(): string {
    const ms = floorDiv(this.micros, MICROS_PER_MS)
    const micro = this.micros - ms * MICROS_PER_MS
    // [±yy]yyyy-mm-ddThh:mm:ss.mmmZ — the year part is longer outside 0000-9999, so cut from the end.
    const base = new Date(Number(ms)).toISOString()
    const dot = base.length - 5
    return `${base.slice(0, dot)}.${base.slice(dot + 1, dot + 4)}${micro.toString().padStart(3, "0")}${this.zoned ? "Z" : ""}`
  }

  /** JSON form: the ISO string, so checkpoints and run reports keep every digit. */
  toJSON(): string {
    return this.toISOString()
  }

  toString(): string {
    return this.toISOString()
  }
}

const floorDiv = (a: bigint, b: bigint): bigint => {
  const q = a / b
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q
}

/**
 * Makes a `Timestamp` from epoch microseconds.
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromEpochMicros = (micros: bigint | number, options?: { readonly zoned?: boolean }): Timestamp =>
  new Timestamp(BigInt(micros), options?.zoned ?? true)

/**
 * Makes a zoned `Timestamp` from a `Date` (millisecond precision, as the `Date` has no more).
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromDate = (date: Date): Timestamp => new Timestamp(BigInt(date.getTime()) * MICROS_PER_MS, true)

/**
 * Parses an ISO 8601 / SQL timestamp string, keeping up to microsecond precision. A string with `Z` or an
 * offset (`±hh`, `±hhmm`, `±hh:mm`) gives a zoned value normalised to UTC; a string without one gives a
 * wall-clock (unzoned) value. Digits beyond microseconds are refused rather than rounded, as are dates and
 * times that do not exist (February 30, 10:60). Years 0-99 are kept as written, and years outside 0000-9999
 * use the signed six-digit form that `toISOString` prints (`+010000`, `-000001`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromISOString = (input: string): Timestamp => {
  const parsed = parse(input)
  if (parsed === undefined) throw new RangeError(`Not an ISO 8601 timestamp: ${JSON.stringify(input.slice(0, 40))}`)
  return parsed
}

/**
 * Like `fromISOString`, but returns `undefined` for a string that is not a timestamp.
 *
 * @category constructors
 * @since 0.1.0
 */
export const parse = (input: string): Timestamp | undefined => {
  const m = ISO.exec(input.trim())
  if (m === null) return undefined
  const [, y, mo, d, h, mi, s, frac = "", zone] = m
  if (frac.length > 6 && /[1-9]/.test(frac.slice(6))) return undefined
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number
  ]
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined
  if (hour > 23 || minute > 59 || second > 59) return undefined
  // setUTCFullYear, not Date.UTC: Date.UTC maps years 0-99 to 1900-1999 (and 1900 is no leap year, year 0 is).
  const wall = new Date(0)
  wall.setUTCFullYear(year, month - 1, day)
  wall.setUTCHours(hour, minute, second, 0)
  if (Number.isNaN(wall.getTime())) return undefined
  const micros = BigInt(wall.getTime()) * MICROS_PER_MS + BigInt(frac.slice(0, 6).padEnd(6, "0"))
  if (zone === undefined) return new Timestamp(micros, false)
  if (zone.toUpperCase() === "Z") return new Timestamp(micros, true)
  const sign = zone.startsWith("-") ? -1n : 1n
  const digits = zone.slice(1).replaceAll(":", "")
  const [oh, om, os] = [digits.slice(0, 2), digits.slice(2, 4), digits.slice(4, 6)].map((p) => Number(p || "0")) as [
    number,
    number,
    number
  ]
  if (oh > 23 || om > 59 || os > 59) return undefined
  const offsetSeconds = BigInt(oh * 3600 + om * 60 + os)
  return new Timestamp(micros - sign * offsetSeconds * MICROS_PER_SECOND, true)
}

// Days in a month of the proleptic Gregorian calendar (year 0 is a leap year).
const daysInMonth = (year: number, month: number): number => {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

/**
 * Whether a value is a `Timestamp`.
 *
 * @category guards
 * @since 0.1.0
 */
export const isTimestamp = (u: unknown): u is Timestamp => u instanceof Timestamp

/**
 * Orders two timestamps by their microseconds (zoned and unzoned values compare by their digits).
 *
 * @category utils
 * @since 0.1.0
 */
export const compare = (a: Timestamp, b: Timestamp): -1 | 0 | 1 =>
  a.micros < b.micros ? -1 : a.micros > b.micros ? 1 : 0

/**
 * The in-memory `Timestamp` type as a Schema (for record schemas).
 *
 * @category schemas
 * @since 0.1.0
 */
export const TimestampSchema: Schema.declare<Timestamp> = Schema.declare(isTimestamp, {
  identifier: "Timestamp",
  description: "A timestamp with microsecond precision"
})

/**
 * A Schema that decodes an ISO 8601 string to a `Timestamp` and encodes it back losslessly (for JSON,
 * checkpoints and cursors).
 *
 * @category schemas
 * @since 0.1.0
 */
export const TimestampFromString: Schema.decodeTo<Schema.declare<Timestamp>, Schema.String> = Schema.String.pipe(
  Schema.decodeTo(
    TimestampSchema,
    SchemaTransformation.transformEffect({
      decode: (s: string) => {
        const t = parse(s)
        return t === undefined
          ? Effect.fail(new SchemaIssue.InvalidValue({ message: "Expected an ISO 8601 timestamp" }, s))
          : Effect.succeed(t)
      },
      encode: (t: Timestamp) => Effect.succeed(t.toISOString())
    })
  )
)
