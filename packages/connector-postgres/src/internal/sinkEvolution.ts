// Schema evolution of the sink: what a batch needs of the table's live columns (new columns, lossless
// widenings), the readable diff, and the discard modes. Pure: the sink runs the DDL.
import { SchemaInference, Timestamp } from "@data-mcp/core"
import * as SinkArrays from "./sinkArrays.ts"
import {
  type ColumnType,
  type DeclaredColumn,
  elementType,
  type LiveColumn,
  type LiveScalar,
  type LiveType
} from "./sinkSql.ts"

/** How a batch whose shape the table does not hold is handled. */
export type Mode = "evolve" | "freeze" | "discardValue" | "discardRow"

/** A change of a live column's type a batch needs; `lossless` ones can be applied by `alter column type`. */
export interface Widening {
  readonly name: string
  readonly from: LiveType
  readonly fromLabel: string
  readonly to: string
  readonly lossless: boolean
}

export interface Plan {
  /** Fields no column holds, with the type inferred from their non-null values (all-null fields are left out). */
  readonly added: ReadonlyArray<DeclaredColumn>
  readonly widened: ReadonlyArray<Widening>
  /** Every field present (not `undefined`) in some record. */
  readonly present: ReadonlySet<string>
}

export const isEmpty = (plan: Plan): boolean => plan.added.length === 0 && plan.widened.length === 0

const chains: ReadonlyArray<ReadonlyArray<LiveScalar>> = [
  ["smallint", "integer", "bigint", "numeric"],
  ["real", "double precision"],
  ["varchar", "text"],
  ["date", "timestamp"],
  ["date", "timestamptz"]
]

/** The element of an array type name (`bigint[]` → `bigint`), or `undefined` for a scalar one. */
const elementOf = (type: string): string | undefined => (type.endsWith("[]") ? type.slice(0, -2) : undefined)

/**
 * Whether `from` → `to` is one of the lossless widenings (int2→int4→int8→numeric, real→float8, varchar→text,
 * date→timestamp(tz)), of a scalar column or of an array column's elements (int4[]→int8[]).
 */
const isLossless = (from: LiveType, to: string): boolean => {
  const [f, t] = [elementOf(from), elementOf(to)]
  if ((f === undefined) !== (t === undefined)) return false
  const a = (f ?? from) as LiveScalar
  const b = (t ?? to) as LiveScalar
  return chains.some((c) => c.includes(a) && c.includes(b) && c.indexOf(b) > c.indexOf(a))
}

const rank = (type: string): number => {
  const scalar = elementOf(type) ?? type
  for (const c of chains) {
    const i = c.indexOf(scalar as LiveScalar)
    if (i >= 0) return i
  }
  return 0
}

/** The widest of two needs; a need outside the column's lossless chain sticks. */
const wider = (from: LiveType, prior: string | undefined, need: string): string =>
  prior === undefined || (isLossless(from, prior) && (!isLossless(from, need) || rank(need) > rank(prior)))
    ? need
    : prior

const INT16 = 32_767n
const INT32 = 2_147_483_647n
const INT64 = 9_223_372_036_854_775_807n
const MIN_INT64 = -INT64 - 1n

const integerNeed = (v: bigint): string =>
  v >= -INT16 - 1n && v <= INT16
    ? "smallint"
    : v >= -INT32 - 1n && v <= INT32
      ? "integer"
      : v >= -INT64 - 1n && v <= INT64
        ? "bigint"
        : "numeric"

const codePoints = (s: string, max: number): boolean => {
  if (s.length <= max) return true
  let n = 0
  for (const _ of s) if (++n > max) return false
  return true
}

/**
 * The type a column would need to hold `v`, when its own type cannot and a widening exists; `undefined` when it
 * fits, or when no widening would help (a mismatch the codec rejects record by record, as before).
 */
export const needOf = (column: LiveColumn, v: unknown): string | undefined => {
  switch (column.type) {
    // The common cases first, without building the widening (a value that fits needs nothing).
    case "bigint":
      if (typeof v === "bigint" ? v >= MIN_INT64 && v <= INT64 : typeof v !== "number" || Number.isSafeInteger(v))
        return undefined
      break
    case "text":
    case "numeric":
    case "jsonb":
    case "json":
    case "boolean":
    case "timestamptz":
      return undefined
  }
  const element = elementType(column.type)
  if (element !== undefined) return Array.isArray(v) ? elementsNeed(column, element, v) : undefined
  switch (column.type) {
    case "smallint":
    case "integer":
    case "bigint": {
      let need: string
      if (typeof v === "bigint") need = integerNeed(v)
      else if (typeof v === "number") need = Number.isSafeInteger(v) ? integerNeed(BigInt(v)) : "numeric"
      else return undefined
      return rank(need) > rank(column.type) ? need : undefined
    }
    case "real":
      if (typeof v === "number") return Number.isFinite(v) && Math.fround(v) !== v ? "double precision" : undefined
      return typeof v === "bigint" ? "numeric" : undefined
    case "double precision":
      return typeof v === "bigint" ? "numeric" : undefined
    case "varchar":
      return typeof v === "string" && column.maxLength !== undefined && !codePoints(v, column.maxLength)
        ? "text"
        : undefined
    case "date":
      if (Timestamp.isTimestamp(v)) return v.zoned ? "timestamptz" : "timestamp"
      return v instanceof Date ? "timestamptz" : undefined
    default:
      return undefined
  }
}

/** What an array column of `element` needs to hold the elements of `v` (at any depth), as an array type. */
const elementsNeed = (array: LiveColumn, element: LiveScalar, v: ReadonlyArray<unknown>): string | undefined => {
  if (element === "json" || element === "jsonb") return undefined
  const column: LiveColumn = { name: array.name, type: element, maxLength: array.maxLength }
  let need: string | undefined
  const visit = (values: ReadonlyArray<unknown>) => {
    for (const e of values) {
      if (Array.isArray(e)) visit(e)
      else if (e !== null && e !== undefined) {
        const n = needOf(column, e)
        if (n !== undefined) need = wider(element, need, n)
      }
    }
  }
  visit(v)
  return need === undefined ? undefined : `${need}[]`
}

/** The Postgres type of an inferred field type (`undefined`: only nulls seen). */
export const columnTypeOf = (type: SchemaInference.Type, values: ReadonlyArray<unknown>): ColumnType | undefined => {
  switch (type.type) {
    case "integer":
      return "bigint"
    case "number":
      return "double precision"
    case "decimal":
      return "numeric"
    case "string":
      return "text"
    case "boolean":
      return "boolean"
    case "timestamp": {
      const first = values.find((v) => Timestamp.isTimestamp(v) || v instanceof Date)
      return first !== undefined && Timestamp.isTimestamp(first) && !first.zoned ? "timestamp" : "timestamptz"
    }
    case "date":
      return "date"
    case "binary":
      return "bytea"
    case "array":
      return SinkArrays.columnTypeOf(type, values)
    case "json":
    case "object":
      return "jsonb"
    default:
      return undefined
  }
}

/** Infers the columns of records (table creation from the first batch), in first-seen field order. */
export const inferColumns = (records: ReadonlyArray<Record<string, unknown>>): Array<DeclaredColumn> =>
  scan(records, []).added.slice()

export const label = (column: LiveColumn): string => {
  const element = elementType(column.type)
  if (element !== undefined) return `${label({ ...column, type: element })}[]`
  return column.type === "varchar"
    ? column.maxLength === undefined
      ? "varchar"
      : `varchar(${column.maxLength})`
    : column.type === "character"
      ? `character(${column.maxLength ?? 1})`
      : column.type
}

/** What `records` need of the table's `live` columns. */
export const scan = (records: ReadonlyArray<Record<string, unknown>>, live: ReadonlyArray<LiveColumn>): Plan => {
  const byName = new Map(live.map((c) => [c.name, c]))
  const present = new Set<string>()
  const fresh = new Map<string, Array<unknown>>()
  const needs = new Map<string, string>()
  // Records of a batch mostly share their keys in order: the key seen last at each position, with its column, saves
  // the two lookups per field (a key seen there before is already in `present`).
  const seenKeys: Array<string> = []
  const seenColumns: Array<LiveColumn | undefined> = []
  for (const record of records) {
    let position = 0
    for (const k in record) {
      const at = position++
      const v = record[k]
      if (v === undefined) continue
      let column: LiveColumn | undefined
      if (seenKeys[at] === k) column = seenColumns[at]
      else {
        present.add(k)
        column = byName.get(k)
        seenKeys[at] = k
        seenColumns[at] = column
      }
      if (v === null) continue
      if (column === undefined) {
        const values = fresh.get(k)
        if (values === undefined) fresh.set(k, [v])
        else values.push(v)
        continue
      }
      const need = needOf(column, v)
      if (need === undefined) continue
      needs.set(k, wider(column.type, needs.get(k), need))
    }
  }
  const added: Array<DeclaredColumn> = []
  for (const [name, values] of fresh) {
    const type = columnTypeOf(SchemaInference.inferSchema(values, { sample: Number.POSITIVE_INFINITY }), values)
    if (type !== undefined) added.push({ name, type })
  }
  const widened: Array<Widening> = []
  for (const [name, to] of needs) {
    const column = byName.get(name)!
    widened.push({ name, from: column.type, fromLabel: label(column), to, lossless: isLossless(column.type, to) })
  }
  return { added, widened, present }
}

/** The plan as a core schema diff: `+ added: email (text)`, `~ widened: amount bigint → numeric`, `! incompatible: …`. */
export const diffOf = (plan: Plan): SchemaInference.Diff => ({
  ...SchemaInference.emptyDiff,
  added: plan.added.map((c) => ({ path: c.name, type: c.type })),
  widened: plan.widened.filter((w) => w.lossless).map((w) => ({ path: w.name, from: w.fromLabel, to: w.to })),
  incompatible: plan.widened.filter((w) => !w.lossless).map((w) => ({ path: w.name, from: w.fromLabel, to: w.to }))
})

/** The diff of a table created with `columns`: every column added. */
export const createdDiff = (columns: ReadonlyArray<LiveColumn>): SchemaInference.Diff => ({
  ...SchemaInference.emptyDiff,
  added: columns.map((c) => ({ path: c.name, type: label(c) }))
})

export interface Discarded {
  readonly records: Array<Record<string, unknown>>
  /** The batch index of each kept record. */
  readonly indexes: Array<number>
  readonly rejected: Array<{ readonly index: number; readonly reason: string }>
}

/** `discardValue` drops the fields the table cannot hold; `discardRow` rejects their records (naming the field). */
export const discard = (
  records: ReadonlyArray<Record<string, unknown>>,
  live: ReadonlyArray<LiveColumn>,
  plan: Plan,
  mode: "discardValue" | "discardRow",
  table: string
): Discarded => {
  const byName = new Map(live.map((c) => [c.name, c]))
  const added = new Set(plan.added.map((c) => c.name))
  const widened = plan.widened.map((w) => byName.get(w.name)!)
  const out: Discarded = { records: [], indexes: [], rejected: [] }
  records.forEach((record, index) => {
    const offending: Array<string> = []
    let reason = ""
    for (const name of added) {
      const v = record[name]
      if (v === undefined || v === null) continue
      offending.push(name)
      reason ||= `field "${name}" is not a column of ${table} (schemaEvolution "${mode}")`
    }
    for (const column of widened) {
      const v = record[column.name]
      if (v === undefined || v === null) continue
      const need = needOf(column, v)
      if (need === undefined) continue
      offending.push(column.name)
      reason ||= `column "${column.name}" (${label(column)}) cannot hold the value of field "${column.name}" without widening to ${need} (schemaEvolution "${mode}")`
    }
    if (offending.length === 0) {
      out.records.push(record)
      out.indexes.push(index)
    } else if (mode === "discardRow") out.rejected.push({ index, reason })
    else {
      const copy = { ...record }
      for (const name of offending) delete copy[name]
      out.records.push(copy)
      out.indexes.push(index)
    }
  })
  return out
}
