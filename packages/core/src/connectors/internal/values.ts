// Text forms of record values for the file sinks. Values keep every digit: bigint as its decimal string,
// Timestamp as its ISO form with microseconds, binary as base64, Date as ISO; nested values as JSON.
import { Timestamp } from "../../Timestamp.ts"

const toBase64 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")

/**
 * A `JSON.stringify` replacer that keeps bigint, Timestamp, binary and Date values exact. It looks at the
 * holder's original value, so a `Buffer` (which has its own `toJSON`) is still written as base64.
 */
export function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key]
  if (original instanceof Uint8Array) return toBase64(original)
  if (original instanceof Timestamp) return original.toISOString()
  if (typeof value === "bigint") return value.toString()
  return value
}

/** Serialises a value as JSON with `jsonReplacer`; `undefined` when it cannot be (a function, a cycle). */
export const toJson = (value: unknown): string | undefined => {
  try {
    return JSON.stringify(value, jsonReplacer)
  } catch {
    return undefined
  }
}

/** Why a value cannot be written as text, or undefined if it can. Never quotes the value. */
export const unwritable = (value: unknown): string | undefined => {
  if (value instanceof Date && Number.isNaN(value.getTime())) return "is an invalid Date"
  if (typeof value === "function" || typeof value === "symbol") return `is a ${typeof value}`
  return undefined
}

/**
 * The text of a value in a CSV cell: `null`/`undefined` → empty, strings as they are, numbers and booleans
 * as JavaScript prints them, bigint as its digits, Timestamp and Date as ISO 8601, binary as base64, any
 * other object as JSON. Returns `undefined` for a value that has no text form (see `unwritable`).
 */
export const toCell = (value: unknown): string | undefined => {
  if (value === null || value === undefined) return ""
  switch (typeof value) {
    case "string":
      return value
    case "number":
    case "boolean":
    case "bigint":
      return String(value)
    case "function":
    case "symbol":
      return undefined
  }
  if (value instanceof Timestamp) return value.toISOString()
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString()
  if (value instanceof Uint8Array) return toBase64(value)
  return toJson(value)
}

/**
 * Why a record cannot be written as a row of the given columns (it is not an object, or it has a field that is
 * not a column), or `undefined` when it can. Names the field, never its value.
 */
export const rowProblem = (record: unknown, columns: ReadonlySet<string>, what: string): string | undefined => {
  if (typeof record !== "object" || record === null || Array.isArray(record)) return "the record is not an object"
  const extra = Object.keys(record).find((key) => !columns.has(key))
  return extra === undefined ? undefined : `field ${JSON.stringify(extra)} is not a column of ${what}`
}
