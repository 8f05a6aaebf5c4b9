/**
 * The lossless PostgreSQL value codec: type OIDs and the field types they map to, and a fast decoder and
 * encoder for the COPY text format (`COPY (…) TO STDOUT` for reads, `COPY … FROM STDIN` for writes).
 *
 * Values keep the source's fidelity: `int8` → `bigint`, `numeric` → exact decimal string, `timestamp` and
 * `timestamptz` → `Timestamp` (epoch microseconds; a `timestamp without time zone` is never shifted), `bytea` →
 * `Uint8Array`, `json`/`jsonb` → parsed values with big integers kept as `bigint`, arrays → JS arrays of typed
 * elements, SQL `NULL` → `null`. The decoder scans characters in one pass and allocates only the values and
 * the record, so it can keep up with COPY's throughput.
 *
 * The session that runs the COPY must print values the way the decoder reads them — the defaults, which
 * `sessionSettings` pins: `DateStyle` ISO, `bytea_output` hex, `client_encoding` UTF8, `extra_float_digits`
 * ≥ 1. `TimeZone` does not matter for reads (printed offsets are parsed), nor for writes (the encoder always
 * writes an explicit offset for `timestamptz`); `UTC` is still pinned so that `::text` casts agree.
 *
 * @since 0.1.0
 */
import type { Timestamp } from "@data-mcp/core"
import { Schema } from "effect"
import { type ColumnPlan, CopyFailure, CopyTextDecoder, CopyTextEncoder } from "./internal/copyText.ts"
import {
  ARRAY,
  BOOL,
  BYTEA,
  DATE,
  FLOAT,
  INT,
  INT8,
  type Infinite,
  JSON_KIND,
  NUMERIC,
  TEXT,
  TIMESTAMP,
  TIMESTAMPTZ
} from "./internal/copyValues.ts"

/**
 * The type OIDs this codec types (built-in OIDs are fixed across PostgreSQL versions). Any other OID is read
 * as its text form.
 *
 * @category constants
 * @since 0.1.0
 */
export const Oid = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
  _json: 199,
  _bool: 1000,
  _bytea: 1001,
  _char: 1002,
  _name: 1003,
  _int2: 1005,
  _int4: 1007,
  _text: 1009,
  _bpchar: 1014,
  _varchar: 1015,
  _int8: 1016,
  _float4: 1021,
  _float8: 1022,
  _oid: 1028,
  _timestamp: 1115,
  _date: 1182,
  _time: 1183,
  _timestamptz: 1185,
  _interval: 1187,
  _numeric: 1231,
  _timetz: 1270,
  _uuid: 2951,
  _jsonb: 3807
} as const

/**
 * The field type a column decodes to, in the vocabulary of core's schema inference.
 *
 * - `integer`: `number` (int2, int4, oid) or `bigint` (int8)
 * - `number`: float4/float8 as `number`, including `NaN` and `±Infinity`
 * - `decimal`: numeric as an exact string (`"NaN"`, `"Infinity"` stay strings)
 * - `timestamp`: a `Timestamp` (`zoned` for timestamptz), or `"infinity"` / `"-infinity"`
 * - `date`: an ISO 8601 date string (`"2024-01-31"`, `"-000043-03-15"` for 44 BC), or `"infinity"` / `"-infinity"`
 * - `json`: the parsed value; `binary`: `Uint8Array`; `array`: a JS array; `string`: everything else
 *
 * @category models
 * @since 0.1.0
 */
export type FieldType =
  | "string"
  | "integer"
  | "number"
  | "decimal"
  | "boolean"
  | "timestamp"
  | "date"
  | "json"
  | "binary"
  | "array"

/**
 * A column of a COPY: its name (the record key) and its type OID (from `pg`'s field descriptions or
 * `pg_attribute.atttypid`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Column {
  readonly name: string
  readonly oid: number
}

/**
 * A record as the codec reads and writes it: column name → value (`null` for SQL `NULL`).
 *
 * @category models
 * @since 0.1.0
 */
export type Row = Record<string, unknown>

/**
 * How the codec represents an infinite `date` or `timestamp`: the strings PostgreSQL prints. `Timestamp`
 * cannot hold them, so `timestamp` columns decode to `Timestamp | "infinity" | "-infinity"`.
 *
 * @category models
 * @since 0.1.0
 */
export type InfiniteValue = Infinite

/**
 * A decoded `timestamp` or `timestamptz` value.
 *
 * @category models
 * @since 0.1.0
 */
export type TimestampValue = Timestamp.Timestamp | InfiniteValue

/**
 * A value could not be decoded or encoded. Names the column and the row (1-based, counted by this decoder or
 * encoder), never the value. A malformed value does not go away by retrying.
 *
 * @category errors
 * @since 0.1.0
 */
export class CodecError extends Schema.TaggedError<CodecError>("@data-mcp/connector-postgres/CodecError")(
  "CodecError",
  {
    /** `decode` (COPY TO) or `encode` (COPY FROM). */
    operation: Schema.Literals(["decode", "encode"]),
    /** The column name. */
    column: Schema.String,
    /** The row number, 1-based, within this decoder's or encoder's stream. */
    row: Schema.Number,
    /** What was expected. */
    detail: Schema.String
  }
) {
  /** Malformed values are never retryable. */
  get retryable(): boolean {
    return false
  }

  override get message(): string {
    return `Cannot ${this.operation} column "${this.column}" at row ${this.row}: ${this.detail}`
  }
}

interface TypeInfo {
  readonly fieldType: FieldType
  readonly kind: number
  readonly element?: number
}

const SCALARS: ReadonlyArray<readonly [number, FieldType, number]> = [
  [Oid.bool, "boolean", BOOL],
  [Oid.bytea, "binary", BYTEA],
  [Oid.char, "string", TEXT],
  [Oid.name, "string", TEXT],
  [Oid.int8, "integer", INT8],
  [Oid.int2, "integer", INT],
  [Oid.int4, "integer", INT],
  [Oid.text, "string", TEXT],
  [Oid.oid, "integer", INT],
  [Oid.json, "json", JSON_KIND],
  [Oid.float4, "number", FLOAT],
  [Oid.float8, "number", FLOAT],
  [Oid.bpchar, "string", TEXT],
  [Oid.varchar, "string", TEXT],
  [Oid.date, "date", DATE],
  [Oid.time, "string", TEXT],
  [Oid.timestamp, "timestamp", TIMESTAMP],
  [Oid.timestamptz, "timestamp", TIMESTAMPTZ],
  [Oid.interval, "string", TEXT],
  [Oid.timetz, "string", TEXT],
  [Oid.numeric, "decimal", NUMERIC],
  [Oid.uuid, "string", TEXT],
  [Oid.jsonb, "json", JSON_KIND]
]

const ARRAYS: ReadonlyArray<readonly [number, number]> = [
  [Oid._json, Oid.json],
  [Oid._bool, Oid.bool],
  [Oid._bytea, Oid.bytea],
  [Oid._char, Oid.char],
  [Oid._name, Oid.name],
  [Oid._int2, Oid.int2],
  [Oid._int4, Oid.int4],
  [Oid._text, Oid.text],
  [Oid._bpchar, Oid.bpchar],
  [Oid._varchar, Oid.varchar],
  [Oid._int8, Oid.int8],
  [Oid._float4, Oid.float4],
  [Oid._float8, Oid.float8],
  [Oid._oid, Oid.oid],
  [Oid._timestamp, Oid.timestamp],
  [Oid._date, Oid.date],
  [Oid._time, Oid.time],
  [Oid._timestamptz, Oid.timestamptz],
  [Oid._interval, Oid.interval],
  [Oid._numeric, Oid.numeric],
  [Oid._timetz, Oid.timetz],
  [Oid._uuid, Oid.uuid],
  [Oid._jsonb, Oid.jsonb]
]

const TYPES: ReadonlyMap<number, TypeInfo> = new Map<number, TypeInfo>([
  ...SCALARS.map(([oid, fieldType, kind]) => [oid, { fieldType, kind }] as const),
  ...ARRAYS.map(([oid, element]) => [oid, { fieldType: "array", kind: ARRAY, element }] as const)
])

const UNKNOWN: TypeInfo = { fieldType: "string", kind: TEXT }

/**
 * The field type of a type OID; an OID the codec does not know reads as its text form, so it is a `string`.
 *
 * **Example** (Mapping OIDs)
 *
 * ```ts
 * import { PostgresCodec } from "@data-mcp/connector-postgres"
 *
 * PostgresCodec.fieldType(20)   // "integer" (int8, as bigint)
 * PostgresCodec.fieldType(1700) // "decimal"
 * PostgresCodec.fieldType(1185) // "array" (of timestamptz)
 * ```
 *
 * @category utils
 * @since 0.1.0
 */
export const fieldType = (oid: number): FieldType => (TYPES.get(oid) ?? UNKNOWN).fieldType

/**
 * The element type OID of an array type OID, or `undefined` for a non-array (or unknown) OID.
 *
 * @category utils
 * @since 0.1.0
 */
export const elementOid = (oid: number): number | undefined => TYPES.get(oid)?.element

/**
 * Whether the codec types this OID (rather than reading it as text).
 *
 * @category guards
 * @since 0.1.0
 */
export const isSupported = (oid: number): boolean => TYPES.has(oid)

/**
 * Session settings under which the decoder reads what PostgreSQL prints. Run them (one statement each) on the
 * connection before a COPY.
 *
 * @category constants
 * @since 0.1.0
 */
export const sessionSettings: ReadonlyArray<string> = [
  "SET DateStyle = 'ISO, YMD'",
  "SET bytea_output = 'hex'",
  "SET client_encoding = 'UTF8'",
  "SET extra_float_digits = 1",
  "SET TimeZone = 'UTC'"
]

const plan = (columns: ReadonlyArray<Column>): Array<ColumnPlan> =>
  columns.map((c) => {
    const info = TYPES.get(c.oid) ?? UNKNOWN
    const element = info.element === undefined ? undefined : (TYPES.get(info.element) ?? UNKNOWN)
    return { name: c.name, kind: info.kind, elementKind: element?.kind ?? TEXT }
  })

const toCodecError = (operation: "decode" | "encode", columns: ReadonlyArray<Column>, e: unknown): unknown =>
  e instanceof CopyFailure
    ? new CodecError({ operation, column: columns[e.column]?.name ?? "", row: e.row, detail: e.detail })
    : e

/**
 * A stateful COPY text decoder for one `COPY … TO STDOUT`. Chunks may split rows and UTF-8 characters anywhere.
 *
 * @category models
 * @since 0.1.0
 */
export interface Decoder {
  /**
   * Decodes the complete rows that `chunk` finishes, holding back a trailing partial row. Throws `CodecError`
   * on malformed input.
   */
  push(chunk: Uint8Array | string): Array<Row>
  /** Like `push`, appending the rows to `out` (saves an array per chunk). Returns the number of rows added. */
  pushInto(chunk: Uint8Array | string, out: Array<Row>): number
  /** Ends the input; throws `CodecError` if a partial row is left over (a truncated stream). */
  end(): void
  /** Rows decoded so far. */
  readonly rows: number
  /** Bytes of a partial row held back, waiting for the next chunk. */
  readonly bufferedBytes: number
  /** The last decoded row's values of the `aside` trailing columns (see `makeDecoder`), in column order. */
  readonly aside: ReadonlyArray<unknown>
}

/**
 * Makes a decoder for the COPY text format (tab-separated, `\N` for `NULL`, backslash escapes, one row per line)
 * that yields one record per row, keyed by column name, with typed values.
 *
 * **Details**
 *
 * - `int2`/`int4`/`oid` → `number`; `int8` → `bigint`; `float4`/`float8` → `number` (`NaN`, `±Infinity`)
 * - `numeric` → its exact string; `bool` → `boolean`; text-like types, `uuid`, `time`, `interval` → `string`
 * - `date` → ISO 8601 string (`-000043-03-15` for 44 BC, `+010000-01-01` past 9999) or `"infinity"`/`"-infinity"`
 * - `timestamp` → `Timestamp` with `zoned: false`, the wall clock as printed, never shifted;
 *   `timestamptz` → `Timestamp` with `zoned: true`, the printed offset (`+00`, `+05:30`, `+05:53:28`) applied
 * - `json`/`jsonb` → parsed values; integers beyond ±(2^53 − 1) become `bigint` (never rounded)
 * - `bytea` → `Uint8Array`; arrays → nested JS arrays of typed elements (non-default lower bounds are dropped)
 *
 * A column name repeated in `columns` keeps the last value.
 *
 * **Example** (Decoding a COPY stream)
 *
 * ```ts
 * import { PostgresCodec } from "@data-mcp/connector-postgres"
 *
 * const decoder = PostgresCodec.makeDecoder([
 *   { name: "id", oid: PostgresCodec.Oid.int8 },
 *   { name: "price", oid: PostgresCodec.Oid.numeric },
 *   { name: "tags", oid: PostgresCodec.Oid._text }
 * ])
 * decoder.push("9007199254740993\t123.450\t{a,\"b c\"}\n")
 * // [{ id: 9007199254740993n, price: "123.450", tags: ["a", "b c"] }]
 * decoder.end()
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeDecoder = (
  columns: ReadonlyArray<Column>,
  options?: {
    /**
     * How many trailing columns to keep off the records: their values for the last decoded row are in
     * `decoder.aside` (e.g. a pagination boundary). Cheaper than deleting fields, which slows every record.
     */
    readonly aside?: number
  }
): Decoder => {
  const engine = new CopyTextDecoder(plan(columns), options?.aside ?? 0)
  const pushInto = (chunk: Uint8Array | string, out: Array<Row>): number => {
    const before = out.length
    try {
      engine.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk, out)
    } catch (e) {
      throw toCodecError("decode", columns, e)
    }
    return out.length - before
  }
  return {
    push: (chunk) => {
      const out: Array<Row> = []
      pushInto(chunk, out)
      return out
    },
    pushInto,
    end: () => {
      try {
        engine.end()
      } catch (e) {
        throw toCodecError("decode", columns, e)
      }
    },
    get rows() {
      return engine.rows
    },
    get bufferedBytes() {
      return engine.bufferedBytes
    },
    aside: engine.aside
  }
}

/**
 * Decodes a whole COPY text payload at once (a convenience over `makeDecoder` for tests and small results).
 *
 * @category utils
 * @since 0.1.0
 */
export const decodeAll = (columns: ReadonlyArray<Column>, payload: Uint8Array | string): Array<Row> => {
  const decoder = makeDecoder(columns)
  const rows = decoder.push(payload)
  decoder.end()
  return rows
}

/**
 * A COPY text encoder for one `COPY … FROM STDIN`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Encoder {
  /** One row, `\n`-terminated. Missing keys, `null` and `undefined` are `NULL`; throws `CodecError` on a bad value. */
  encodeRow(record: Readonly<Row>): string
  /** Many rows concatenated. */
  encodeRows(records: Iterable<Readonly<Row>>): string
  /** Rows encoded so far. */
  readonly rows: number
}

/**
 * Makes an encoder that writes records as COPY text rows for `COPY table (columns…) FROM STDIN`, in the order
 * of `columns`.
 *
 * **Details**
 *
 * - integers: `number` (integral) or `bigint`; `int8` also checks the int8 range; floats: `number` (`-0`,
 *   `NaN`, `±Infinity` kept); `numeric`: a decimal string (checked), `number` or `bigint`; `bool`: `boolean`
 * - text-like, `uuid`, `time`, `interval`: `string`, escaped (tab, newline, CR, backslash); U+0000 is refused
 * - `date`: ISO 8601 string as decoded (`-000043-03-15` becomes `0044-03-15 BC`) or `"infinity"`/`"-infinity"`
 * - `timestamp`/`timestamptz`: `Timestamp` written with all six fractional digits — with `+00` for
 *   `timestamptz` (an unzoned `Timestamp` is taken as UTC), without an offset for `timestamp` (the wall clock
 *   of the micros as UTC; never shifted by the session). Also `Date`, `"infinity"`, `"-infinity"`, or a string
 *   passed to PostgreSQL as written.
 * - `json`/`jsonb`: any JSON-serialisable value (`bigint` written as an exact integer); a JS string is a JSON
 *   string, not JSON text
 * - `bytea`: `Uint8Array` (hex); arrays: JS arrays (nested = more dimensions, except for json elements)
 *
 * **Example** (Encoding rows for COPY FROM STDIN)
 *
 * ```ts
 * import { PostgresCodec } from "@data-mcp/connector-postgres"
 * import { Timestamp } from "@data-mcp/core"
 *
 * const encoder = PostgresCodec.makeEncoder([
 *   { name: "id", oid: PostgresCodec.Oid.int8 },
 *   { name: "at", oid: PostgresCodec.Oid.timestamptz },
 *   { name: "note", oid: PostgresCodec.Oid.text }
 * ])
 * encoder.encodeRow({ id: 1n, at: Timestamp.fromISOString("2026-01-02T03:04:05.000001Z"), note: "a\tb" })
 * // "1\t2026-01-02 03:04:05.000001+00\ta\\tb\n"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeEncoder = (columns: ReadonlyArray<Column>): Encoder => {
  const engine = new CopyTextEncoder(plan(columns))
  const encodeRow = (record: Readonly<Row>): string => {
    try {
      return engine.encodeRow(record)
    } catch (e) {
      throw toCodecError("encode", columns, e)
    }
  }
  return {
    encodeRow,
    encodeRows: (records) => {
      let out = ""
      for (const r of records) out += encodeRow(r)
      return out
    },
    get rows() {
      return engine.rows
    }
  }
}
