// Array columns of the sink: the column type inferred for a field whose values are arrays, and the shape
// PostgreSQL requires of a multi-dimensional array (rectangular, at most 6 dimensions), checked per record
// before COPY so that one bad value rejects its record instead of failing the whole batch.
import { type SchemaInference, Timestamp } from "@data-mcp/core"
import type { ColumnType, LiveType, ScalarType } from "./sinkSql.ts"

/** PostgreSQL's limit on the dimensions of an array value (MAXDIM). */
export const MAX_DIMENSIONS = 6

const scalarOf: Partial<Record<string, ScalarType>> = {
  integer: "bigint",
  number: "double precision",
  decimal: "numeric",
  string: "text",
  boolean: "boolean",
  date: "date",
  binary: "bytea"
}

/** The first non-null leaf of nested arrays (depth first), if any. */
const firstLeaf = (values: ReadonlyArray<unknown>, keep: (v: unknown) => boolean): unknown => {
  for (const v of values) {
    if (Array.isArray(v)) {
      const found = firstLeaf(v, keep)
      if (found !== undefined) return found
    } else if (keep(v)) return v
  }
  return undefined
}

/**
 * The column type of a new field whose values are arrays (`type`, inferred from the non-null `values`):
 *
 * - elements (at any depth) of one scalar type become an array of that type, as scalar columns are inferred:
 *   integer → `bigint[]`, number → `double precision[]`, integer and number → `numeric[]`, string → `text[]`,
 *   boolean, date, binary → `bytea[]`, timestamp → `timestamptz[]` or `timestamp[]` by the first one's `zoned`;
 *   nested arrays are dimensions, so every value must be rectangular (else the field is `jsonb`);
 * - anything else is `jsonb` (the values are kept as they are): elements of mixed types, objects, arrays of
 *   differing depths, ragged arrays, more than 6 dimensions, and arrays seen only empty or holding only nulls
 *   (no element type to go by; `jsonb` keeps `[]` apart from NULL, where waiting for a typed value would not).
 */
export const columnTypeOf = (type: SchemaInference.ArrayType, values: ReadonlyArray<unknown>): ColumnType => {
  let items = type.items
  let depth = 1
  while (items.type === "array") {
    items = items.items
    depth++
  }
  if (depth > MAX_DIMENSIONS) return "jsonb"
  let scalar: ScalarType | undefined
  if (items.type === "timestamp") {
    const first = firstLeaf(values, (v) => Timestamp.isTimestamp(v) || v instanceof Date)
    scalar = Timestamp.isTimestamp(first) && !first.zoned ? "timestamp" : "timestamptz"
  } else scalar = scalarOf[items.type]
  if (scalar === undefined) return "jsonb"
  if (depth > 1 && values.some((v) => shapeError(v) !== undefined)) return "jsonb"
  return `${scalar}[]`
}

/** Whether the elements of an array column are dimensions (not for json/jsonb, whose inner arrays are values). */
export const hasDimensions = (type: LiveType): boolean => type.endsWith("[]") && type !== "jsonb[]" && type !== "json[]"

const rectangular = (v: ReadonlyArray<unknown>, depth: number, dims: ReadonlyArray<number>): boolean => {
  if (v.length !== dims[depth]) return false
  const inner = depth + 1 < dims.length
  for (const e of v) {
    if (inner ? !Array.isArray(e) || !rectangular(e, depth + 1, dims) : Array.isArray(e)) return false
  }
  return true
}

/**
 * Why an array value cannot go into an array column with dimensions, or `undefined` when it can (or is not an
 * array: the codec refuses that). Names no value.
 */
export const shapeError = (v: unknown): string | undefined => {
  if (!Array.isArray(v)) return undefined
  const dims: Array<number> = []
  let level: unknown = v
  while (Array.isArray(level)) {
    dims.push(level.length)
    if (level.length === 0) break
    level = level[0]
  }
  if (dims.length > MAX_DIMENSIONS)
    return `the array has ${dims.length} dimensions; PostgreSQL allows at most ${MAX_DIMENSIONS}`
  return rectangular(v, 0, dims)
    ? undefined
    : "the array is not rectangular: the sub-arrays of a multi-dimensional array must all be arrays of one length (no NULL sub-arrays)"
}
