// Parquet column types for the sink: inference from records, validation and conversion of each value, and
// the parquet schema element of each type. Every column is OPTIONAL (nullable).
import type { SchemaElement } from "hyparquet"
import { Timestamp } from "../../../Timestamp.ts"
import { toJson } from "../../internal/values.ts"

/** The column types the sink writes. */
export const columnTypes = [
  "BOOLEAN",
  "INT32",
  "INT64",
  "FLOAT",
  "DOUBLE",
  "STRING",
  "BYTES",
  "JSON",
  "TIMESTAMP",
  "TIMESTAMP_NTZ",
  "DATE"
] as const

export type ColumnType = (typeof columnTypes)[number]

export interface Column {
  readonly name: string
  readonly type: ColumnType
}

/** A value that does not fit its column: the reason, which never quotes the value. */
export class Mismatch {
  constructor(readonly reason: string) {}
}

const INT32_MIN = -2147483648
const INT32_MAX = 2147483647
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const DAY_MS = 86_400_000
const ISO_DATE = /^(-?\d{4,6})-(\d{2})-(\d{2})$/

const expected = (type: string) => new Mismatch(`expected ${type}`)

/** Converts a record value to what hyparquet-writer expects for the column, or says why it cannot. */
export const convert = (type: ColumnType, value: unknown): unknown => {
  if (value === null || value === undefined) return null
  switch (type) {
    case "BOOLEAN":
      return typeof value === "boolean" ? value : expected("a boolean")
    case "INT32":
      if (typeof value === "number" && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX) return value
      if (typeof value === "bigint" && value >= BigInt(INT32_MIN) && value <= BigInt(INT32_MAX)) return Number(value)
      return expected("a 32-bit integer")
    case "INT64":
      if (typeof value === "bigint" && value >= INT64_MIN && value <= INT64_MAX) return value
      if (typeof value === "number" && Number.isSafeInteger(value)) return BigInt(value)
      return expected("a 64-bit integer (bigint or safe integer)")
    case "FLOAT":
    case "DOUBLE":
      return typeof value === "number" ? value : expected("a number")
    case "STRING":
      return typeof value === "string" ? value : expected("a string")
    case "BYTES":
      return value instanceof Uint8Array ? value : expected("binary (Uint8Array)")
    case "JSON": {
      const json = toJson(value)
      // Re-parsed so that hyparquet-writer's own JSON conversion sees plain JSON (exact bigint strings etc.).
      return json === undefined ? expected("a JSON-serialisable value") : JSON.parse(json)
    }
    case "TIMESTAMP":
      if (value instanceof Timestamp) return value.zoned ? value.micros : expected("a zoned timestamp")
      if (value instanceof Date && !Number.isNaN(value.getTime())) return BigInt(value.getTime()) * 1000n
      return expected("a Timestamp or Date")
    case "TIMESTAMP_NTZ":
      return value instanceof Timestamp && !value.zoned ? value.micros : expected("a timestamp without time zone")
    case "DATE": {
      if (typeof value === "string") {
        const m = ISO_DATE.exec(value)
        if (m !== null) {
          const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))
          const check = new Date(ms)
          if (!Number.isNaN(ms) && check.getUTCDate() === Number(m[3])) return Math.floor(ms / DAY_MS)
        }
        return expected("a date (YYYY-MM-DD)")
      }
      if (value instanceof Date && !Number.isNaN(value.getTime())) return Math.floor(value.getTime() / DAY_MS)
      return expected("a date (YYYY-MM-DD)")
    }
  }
}

/** The column type of a value (the first non-null value of a column decides it). */
export const infer = (value: unknown): ColumnType | undefined => {
  if (value === null || value === undefined) return undefined
  switch (typeof value) {
    case "boolean":
      return "BOOLEAN"
    case "number":
      return "DOUBLE"
    case "bigint":
      return "INT64"
    case "string":
      return "STRING"
  }
  if (value instanceof Timestamp) return value.zoned ? "TIMESTAMP" : "TIMESTAMP_NTZ"
  if (value instanceof Date) return "TIMESTAMP"
  if (value instanceof Uint8Array) return "BYTES"
  return "JSON"
}

/** The parquet schema element of a column. */
export const element = (column: Column): SchemaElement => {
  const base = { name: column.name, repetition_type: "OPTIONAL" as const }
  switch (column.type) {
    case "BOOLEAN":
    case "INT32":
    case "INT64":
    case "FLOAT":
    case "DOUBLE":
      return { ...base, type: column.type }
    case "STRING":
      return { ...base, type: "BYTE_ARRAY", converted_type: "UTF8", logical_type: { type: "STRING" } }
    case "BYTES":
      return { ...base, type: "BYTE_ARRAY" }
    case "JSON":
      return { ...base, type: "BYTE_ARRAY", converted_type: "JSON", logical_type: { type: "JSON" } }
    case "TIMESTAMP":
      return {
        ...base,
        type: "INT64",
        converted_type: "TIMESTAMP_MICROS",
        logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MICROS" }
      }
    case "TIMESTAMP_NTZ":
      return { ...base, type: "INT64", logical_type: { type: "TIMESTAMP", isAdjustedToUTC: false, unit: "MICROS" } }
    case "DATE":
      return { ...base, type: "INT32", converted_type: "DATE", logical_type: { type: "DATE" } }
  }
}
