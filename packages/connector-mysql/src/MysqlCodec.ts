/**
 * Lossless values between MySQL/MariaDB and records. Every value is read as the server's text (or bytes) and
 * decoded here, never through `Date` or a float:
 *
 * - `BIGINT` (signed or unsigned) → `bigint`; other integers and `YEAR` → `number`
 * - `DECIMAL` → its exact string; `FLOAT`/`DOUBLE` → `number`
 * - `DATETIME(n)` → `Timestamp` with `zoned: false` (a wall-clock value, never shifted); `TIMESTAMP(n)` →
 *   `Timestamp` with `zoned: true` (the session runs at `time_zone = '+00:00'`, so the text is UTC); microseconds kept
 * - `DATE` → ISO 8601 date string; `TIME`, `ENUM`, `SET`, text types → `string` (utf8mb4)
 * - `JSON` (MySQL's type, or MariaDB's `LONGTEXT … CHECK (json_valid(…))`) → the parsed value
 * - `BLOB`, `BINARY`, `VARBINARY` → `Uint8Array`; `BIT(n)` → `bigint` (the bits as an unsigned number)
 * - `NULL` → `null`
 *
 * Writing goes the other way (`encodeValue`): each value is checked against its column's type and turned into
 * something `mysql2` binds exactly (`bigint`, string, `Buffer`, or `null`); a value that does not fit its
 * column throws `CodecError` naming the column, never the value.
 *
 * @since 0.1.0
 */
import { Timestamp } from "@data-mcp/core"
import { Schema } from "effect"

/**
 * How a column's values are decoded.
 *
 * @category models
 * @since 0.1.0
 */
export type Kind =
  | "integer"
  | "bigint"
  | "number"
  | "decimal"
  | "datetime"
  | "timestamp"
  | "date"
  | "json"
  | "binary"
  | "bit"
  | "string"

/**
 * The field type a kind reads as (the core's inferred types: `discover()` reports it per column).
 *
 * @category getters
 * @since 0.1.0
 */
export const fieldType = (kind: Kind): string => {
  switch (kind) {
    case "bigint":
    case "bit":
      return "integer"
    case "datetime":
      return "timestamp"
    default:
      return kind
  }
}

/** mysql2's numeric column types (`FieldPacket.columnType`). */
const T = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  JSON: 245,
  NEWDECIMAL: 246,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254
} as const

/** The binary "character set" number. */
const BINARY_CHARSET = 63

/**
 * The column metadata `kindOf` needs: what `mysql2` reports per result column.
 *
 * @category models
 * @since 0.1.0
 */
export interface FieldInfo {
  readonly name: string
  readonly columnType?: number | undefined
  readonly type?: number | undefined
  readonly characterSet?: number | undefined
  readonly extendedFormat?: string | undefined
  readonly typeName?: string | undefined
}

/**
 * The kind of a result column, from its metadata. `json` names the columns a catalog knows to be JSON (MariaDB
 * reports `JSON` as `LONGTEXT`; with extended metadata it also says `format=json`).
 *
 * @category constructors
 * @since 0.1.0
 */
export const kindOf = (field: FieldInfo, json: ReadonlySet<string> = new Set()): Kind => {
  const type = field.columnType ?? field.type
  if (type === T.JSON || field.extendedFormat === "json" || json.has(field.name)) return "json"
  switch (type) {
    case T.TINY:
    case T.SHORT:
    case T.LONG:
    case T.INT24:
    case T.YEAR:
      return "integer"
    case T.LONGLONG:
      return "bigint"
    case T.FLOAT:
    case T.DOUBLE:
      return "number"
    case T.DECIMAL:
    case T.NEWDECIMAL:
      return "decimal"
    case T.DATETIME:
      return "datetime"
    case T.TIMESTAMP:
      return "timestamp"
    case T.DATE:
    case T.NEWDATE:
      return "date"
    case T.BIT:
      return "bit"
    case T.TINY_BLOB:
    case T.MEDIUM_BLOB:
    case T.LONG_BLOB:
    case T.BLOB:
    case T.VAR_STRING:
    case T.STRING:
    case T.VARCHAR:
      return field.characterSet === BINARY_CHARSET ? "binary" : "string"
    default:
      return "string"
  }
}

/**
 * A value could not be decoded or encoded. Names the column and the expected type, never the value.
 *
 * @category errors
 * @since 0.1.0
 */
export class CodecError extends Schema.TaggedError<CodecError>("@data-mcp/connector-mysql/CodecError")("CodecError", {
  column: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `column "${this.column}": ${this.detail}`
  }
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/

/** Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
const daysFromCivil = (y: number, m: number, d: number): number => {
  const yy = m <= 2 ? y - 1 : y
  const era = Math.floor(yy / 400)
  const yoe = yy - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146_097 + doe - 719_468
}

/** The number of the decimal digits `text[from, to)`, or -1 if one is not a digit. */
const digitsAt = (text: string, from: number, to: number): number => {
  let n = 0
  for (let i = from; i < to; i++) {
    const d = text.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

/** Epoch microseconds of the fields of a date and time (`undefined` for a month or day out of range). */
const microsFrom = (
  year: number,
  month: number,
  day: number,
  hours: number,
  minutes: number,
  secs: number,
  fraction: number
): bigint | undefined => {
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined
  const seconds = daysFromCivil(year, month, day) * 86_400 + hours * 3600 + minutes * 60 + secs
  // Exact as a double up to 2^53 µs (year 2255); beyond, in bigint.
  const micros = seconds * 1_000_000 + fraction
  return Number.isSafeInteger(micros) ? BigInt(micros) : BigInt(seconds) * 1_000_000n + BigInt(fraction)
}

/** Epoch microseconds of a `YYYY-MM-DD hh:mm:ss[.ffffff]` text read as UTC (or as a wall clock). */
const microsOf = (text: string): bigint | undefined => {
  const n = text.length
  // The server's own text, by position (the common case); anything else through the pattern.
  if (
    (n === 19 || (n >= 21 && n <= 26 && text.charCodeAt(19) === 46)) &&
    text.charCodeAt(4) === 45 &&
    text.charCodeAt(7) === 45 &&
    (text.charCodeAt(10) === 32 || text.charCodeAt(10) === 84) &&
    text.charCodeAt(13) === 58 &&
    text.charCodeAt(16) === 58
  ) {
    const fields = [
      digitsAt(text, 0, 4),
      digitsAt(text, 5, 7),
      digitsAt(text, 8, 10),
      digitsAt(text, 11, 13),
      digitsAt(text, 14, 16),
      digitsAt(text, 17, 19),
      n === 19 ? 0 : digitsAt(text, 20, n) * 10 ** (26 - n)
    ] as const
    if (fields.every((f) => f >= 0)) return microsFrom(...fields)
  }
  const m = DATETIME.exec(text)
  if (m === null) return undefined
  return microsFrom(
    Number(m[1]),
    Number(m[2]),
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
    m[7] === undefined ? 0 : Number(m[7].padEnd(6, "0"))
  )
}

/**
 * Decodes the server's text (or bytes, for binary kinds) of one value. `null` stays `null`.
 *
 * @category decoding
 * @since 0.1.0
 */
export const decodeText = (kind: Kind, column: string, text: string): unknown => {
  switch (kind) {
    case "integer":
      return Number(text)
    case "bigint":
      return BigInt(text)
    case "number":
      return Number(text)
    case "datetime":
    case "timestamp": {
      const micros = microsOf(text)
      if (micros === undefined)
        throw new CodecError({
          column,
          detail: `not a ${kind === "timestamp" ? "TIMESTAMP" : "DATETIME"} the codec reads (a zero date?)`
        })
      return Timestamp.fromEpochMicros(micros, { zoned: kind === "timestamp" })
    }
    case "json":
      return parseJson(text)
    default:
      return text
  }
}

/** The bits of a `BIT(n)` value as an unsigned `bigint`. */
export const bitsOf = (bytes: Uint8Array): bigint => {
  let n = 0n
  for (const b of bytes) n = (n << 8n) | BigInt(b)
  return n
}

/**
 * Decodes, in place, the columns of rows as `mysql2` returns them with `supportBigNumbers`, `bigNumberStrings`,
 * `dateStrings` and `jsonStrings` (see `MysqlConfig.toPoolOptions`): big integers, decimals, dates and JSON
 * arrive as the server's text, bytes as `Buffer`. Columns of kinds the driver already returns losslessly
 * (`integer`, `number`, `decimal`, `string`, `date`) are left alone. `decodeCursor` replaces the decoder of one
 * column (the source keeps its cursor's exact text on the value).
 *
 * @category decoding
 * @since 0.1.0
 */
export const makeRowDecoder = (
  kinds: ReadonlyMap<string, Kind>,
  special: ReadonlyMap<string, (text: string) => unknown> = new Map()
): ((rows: Array<Record<string, unknown>>) => void) => {
  const steps: Array<readonly [string, (v: unknown) => unknown]> = []
  for (const [name, kind] of kinds) {
    const own = special.get(name)
    if (own !== undefined) steps.push([name, (v) => own(String(v))])
    else if (kind === "bigint" || kind === "datetime" || kind === "timestamp" || kind === "json")
      steps.push([name, (v) => decodeText(kind, name, typeof v === "string" ? v : String(v))])
    else if (kind === "binary") steps.push([name, (v) => new Uint8Array(v as Uint8Array)])
    else if (kind === "bit") steps.push([name, (v) => bitsOf(v as Uint8Array)])
    else if (kind === "integer" || kind === "number") steps.push([name, (v) => (typeof v === "number" ? v : Number(v))])
  }
  return (rows) => {
    for (const [name, decode] of steps)
      for (const row of rows) {
        const v = row[name]
        if (v !== null && v !== undefined) row[name] = decode(v)
      }
  }
}

/**
 * The type of a sink column as the encoder sees it (the `DATA_TYPE` of `information_schema.COLUMNS`, with JSON
 * told apart).
 *
 * @category models
 * @since 0.1.0
 */
export interface TargetColumn {
  readonly name: string
  /** `DATA_TYPE`, lower case (`bigint`, `varchar`, `datetime`, …), or `json`. */
  readonly dataType: string
  /** Whether an integer column is `UNSIGNED`. */
  readonly unsigned?: boolean | undefined
  /** The most characters (text) or bytes (binary) the column holds, when bounded. */
  readonly maxLength?: number | undefined
}

const INT_RANGE: Record<string, readonly [bigint, bigint]> = {
  tinyint: [-128n, 127n],
  smallint: [-32_768n, 32_767n],
  mediumint: [-8_388_608n, 8_388_607n],
  int: [-2_147_483_648n, 2_147_483_647n],
  bigint: [-9_223_372_036_854_775_808n, 9_223_372_036_854_775_807n]
}
const UINT_MAX: Record<string, bigint> = {
  tinyint: 255n,
  smallint: 65_535n,
  mediumint: 16_777_215n,
  int: 4_294_967_295n,
  bigint: 18_446_744_073_709_551_615n
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/
const INTEGER = /^[+-]?\d+$/
const DATE = /^\d{4}-\d{2}-\d{2}$/
const TIMESTAMP_MIN = 1_000_000n // 1970-01-01 00:00:01 UTC
const TIMESTAMP_MAX = 2_147_483_647_999_999n // 2038-01-19 03:14:07.999999 UTC
const DATETIME_MIN = -30_610_224_000_000_000n // 1000-01-01
const DATETIME_MAX = 253_402_300_799_999_999n // 9999-12-31 23:59:59.999999

const pad = (n: number, w = 2) => String(n).padStart(w, "0")

/** `YYYY-MM-DD hh:mm:ss.ffffff` of epoch microseconds (UTC or wall clock). */
export const datetimeText = (micros: bigint): string => {
  const ms = micros >= 0n ? micros / 1000n : (micros - 999n) / 1000n
  const frac = micros - ms * 1000n
  const d = new Date(Number(ms))
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}${pad(Number(frac), 3)}`
}

const fail = (column: string, detail: string): never => {
  throw new CodecError({ column, detail })
}

const integerOf = (column: TargetColumn, v: unknown): bigint => {
  let n: bigint | undefined
  if (typeof v === "bigint") n = v
  else if (typeof v === "number" && Number.isSafeInteger(v)) n = BigInt(v)
  else if (typeof v === "boolean") n = v ? 1n : 0n
  else if (typeof v === "string" && INTEGER.test(v)) n = BigInt(v)
  if (n === undefined) return fail(column.name, `expected an integer for a ${column.dataType} column`)
  const [min, max] = column.unsigned ? [0n, UINT_MAX[column.dataType] ?? 0n] : (INT_RANGE[column.dataType] ?? [n, n])
  if (n < min || n > max)
    return fail(
      column.name,
      `the integer is out of the range of ${column.dataType}${column.unsigned ? " unsigned" : ""}`
    )
  return n
}

const timestampOf = (column: TargetColumn, v: unknown): bigint => {
  if (Timestamp.isTimestamp(v)) return v.micros
  if (v instanceof Date && !Number.isNaN(v.getTime())) return BigInt(v.getTime()) * 1000n
  if (typeof v === "string") {
    const t = Timestamp.parse(v)
    if (t !== undefined) return t.micros
  }
  return fail(column.name, `expected a Timestamp for a ${column.dataType} column`)
}

const textOf = (column: TargetColumn, s: string): string => {
  if (column.maxLength !== undefined && s.length > column.maxLength && [...s].length > column.maxLength)
    return fail(column.name, `the text is longer than the column's ${column.maxLength} characters`)
  return s
}

/** A marker that does not occur in `text`, for integers carried through JSON as strings. */
const markerFor = (text: string): string => {
  let marker = "\u0000dm-bigint:"
  while (text.includes(marker)) marker += "~"
  return marker
}

const UNSAFE_INTEGER = /^-?\d{16,}$/

/**
 * Parses JSON text keeping integers beyond 2^53 exact, as `bigint` (plain `JSON.parse` would round them).
 *
 * @category decoding
 * @since 0.1.0
 */
export const parseJson = (text: string): unknown => {
  if (!/\d{16}/.test(text)) return JSON.parse(text)
  const marker = markerFor(text)
  let out = ""
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (c === '"') {
      // Copy a string as it is, escapes included.
      let j = i + 1
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1
      out += text.slice(i, j + 1)
      i = j + 1
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      const token = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i))?.[0] ?? c
      const n = Number(token)
      out += UNSAFE_INTEGER.test(token) && !Number.isSafeInteger(n) ? JSON.stringify(`${marker}${token}`) : token
      i += token.length
    } else {
      out += c
      i++
    }
  }
  return JSON.parse(out, (_key, v) =>
    typeof v === "string" && v.startsWith(marker) ? BigInt(v.slice(marker.length)) : v
  )
}

/**
 * JSON text of a value, writing `bigint`s as exact integers (plain `JSON.stringify` refuses them).
 *
 * @category encoding
 * @since 0.1.0
 */
export const stringifyJson = (value: unknown): string => {
  let marker: string | undefined
  const text = JSON.stringify(value, (_key, v) => {
    if (typeof v !== "bigint") return v
    marker ??= `\u0000dm-bigint:${Math.random().toString(36).slice(2)}:`
    return `${marker}${v}`
  })
  if (marker === undefined) return text
  const escaped = JSON.stringify(marker)
    .slice(1, -1)
    .replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  return text.replace(new RegExp(`"${escaped}(-?\\d+)"`, "g"), "$1")
}

/**
 * Encodes one value for a column: a `bigint`, number, string, `Buffer` or `null` that `mysql2` binds exactly.
 * Throws `CodecError` (naming the column and the expected type, never the value) when the value does not fit.
 *
 * @category encoding
 * @since 0.1.0
 */
export const encodeValue = (column: TargetColumn, v: unknown): unknown => {
  if (v === null || v === undefined) return null
  switch (column.dataType) {
    case "tinyint":
    case "smallint":
    case "mediumint":
    case "int":
    case "bigint":
    case "year":
      return integerOf(column, v)
    case "decimal": {
      const s =
        typeof v === "string"
          ? v.trim()
          : typeof v === "bigint"
            ? v.toString()
            : typeof v === "number" && Number.isFinite(v)
              ? String(v)
              : undefined
      if (s === undefined || !DECIMAL.test(s)) return fail(column.name, "expected a decimal number (as a string)")
      return s
    }
    case "float":
    case "double": {
      const n =
        typeof v === "number"
          ? v
          : typeof v === "bigint"
            ? Number(v)
            : typeof v === "string" && DECIMAL.test(v.trim())
              ? Number(v)
              : Number.NaN
      if (!Number.isFinite(n)) return fail(column.name, `expected a finite number for a ${column.dataType} column`)
      return n
    }
    case "timestamp": {
      const micros = timestampOf(column, v)
      if (micros < TIMESTAMP_MIN || micros > TIMESTAMP_MAX)
        return fail(
          column.name,
          "the instant is outside TIMESTAMP's range (1970-01-01 00:00:01 to 2038-01-19 03:14:07 UTC)"
        )
      return datetimeText(micros)
    }
    case "datetime": {
      const micros = timestampOf(column, v)
      if (micros < DATETIME_MIN || micros > DATETIME_MAX)
        return fail(column.name, "the time is outside DATETIME's range (years 1000 to 9999)")
      return datetimeText(micros)
    }
    case "date": {
      if (typeof v === "string" && DATE.test(v)) return v
      if (Timestamp.isTimestamp(v)) return datetimeText(v.micros).slice(0, 10)
      return fail(column.name, "expected a date string YYYY-MM-DD")
    }
    case "json":
      return stringifyJson(v)
    case "bit":
      return integerOf({ ...column, dataType: "bigint", unsigned: true }, v)
    case "binary":
    case "varbinary":
    case "tinyblob":
    case "blob":
    case "mediumblob":
    case "longblob": {
      if (!(v instanceof Uint8Array)) return fail(column.name, `expected a Uint8Array for a ${column.dataType} column`)
      if (column.maxLength !== undefined && v.byteLength > column.maxLength)
        return fail(column.name, `the bytes are longer than the column's ${column.maxLength}`)
      return Buffer.from(v.buffer, v.byteOffset, v.byteLength)
    }
    default: {
      if (typeof v === "string") return textOf(column, v)
      if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return textOf(column, String(v))
      if (Timestamp.isTimestamp(v)) return v.toISOString()
      return fail(column.name, `expected a string for a ${column.dataType} column`)
    }
  }
}
