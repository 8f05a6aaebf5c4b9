// Pure work of the sink on a batch: what its records need of the table (new columns, inferred with the MySQL
// dialect), the discard modes, encoding each record on its own (a value that does not fit refuses only its
// record), merge de-duplication, and cutting rows into INSERTs that fit max_allowed_packet.
import { SchemaInference, Timestamp } from "@data-mcp/core"
import * as MysqlCodec from "../MysqlCodec.ts"
import type { ColumnType, DeclaredColumn } from "./sinkSql.ts"

/** How a batch whose shape the table does not hold is handled. */
export type Mode = "evolve" | "freeze" | "discardValue" | "discardRow"

export type Rejection = { readonly index: number; readonly reason: string }

/** The DDL type for an inferred field type; `undefined` while a field has only been seen as null. */
export const typeFor = (type: SchemaInference.Type, sample: unknown): ColumnType | undefined => {
  switch (type.type) {
    case "integer":
      return "bigint"
    case "number":
      return "double"
    case "decimal":
      return "decimal"
    case "string":
      return "text"
    case "boolean":
      return "boolean"
    case "timestamp":
      return Timestamp.isTimestamp(sample) && !sample.zoned ? "datetime" : "timestamp"
    case "date":
      return "date"
    case "binary":
      return "blob"
    case "unknown":
      return undefined
    default:
      return "json"
  }
}

/** Fields of the batch no live column holds, with their inferred types; and every field present. */
export const scan = (
  records: ReadonlyArray<Record<string, unknown>>,
  live: ReadonlySet<string>
): { readonly added: ReadonlyArray<DeclaredColumn>; readonly present: ReadonlySet<string> } => {
  const present = new Set<string>()
  const missing = new Map<string, Array<unknown>>()
  for (const record of records)
    for (const k in record) {
      const v = record[k]
      if (v === undefined || !Object.hasOwn(record, k)) continue
      present.add(k)
      if (live.has(k)) continue
      let values = missing.get(k)
      if (values === undefined) {
        values = []
        missing.set(k, values)
      }
      if (v !== null && values.length < 1000) values.push(v)
    }
  const added: Array<DeclaredColumn> = []
  for (const [k, values] of missing) {
    if (values.length === 0) continue
    const inferred = SchemaInference.inferSchema(values.map((v) => ({ v })))
    const field = inferred.type === "object" ? inferred.fields.v : undefined
    const type = field === undefined ? "json" : typeFor(field, values[0])
    if (type !== undefined) added.push({ name: k, type })
  }
  return { added, present }
}

/** The diff of new columns, as a contract failure shows it. */
export const describeAdded = (added: ReadonlyArray<DeclaredColumn>): string =>
  added.map((c) => `+ added: ${c.name} (${c.type})`).join("\n")

/** `discardValue` drops the fields no column holds; `discardRow` refuses their records. */
export const discard = (
  records: ReadonlyArray<Record<string, unknown>>,
  added: ReadonlyArray<DeclaredColumn>,
  mode: "discardValue" | "discardRow",
  table: string
): {
  readonly records: ReadonlyArray<Record<string, unknown>>
  readonly indexes: ReadonlyArray<number>
  readonly rejected: ReadonlyArray<Rejection>
} => {
  const extra = new Set(added.map((c) => c.name))
  const kept: Array<Record<string, unknown>> = []
  const indexes: Array<number> = []
  const rejected: Array<Rejection> = []
  records.forEach((record, index) => {
    const fields = Object.keys(record).filter((k) => extra.has(k) && record[k] !== undefined && record[k] !== null)
    if (fields.length === 0) {
      kept.push(record)
      indexes.push(index)
    } else if (mode === "discardRow")
      rejected.push({ index, reason: `field "${fields[0]}" has no column in ${table} (schemaEvolution: discardRow)` })
    else {
      kept.push(Object.fromEntries(Object.entries(record).filter(([k]) => !extra.has(k))))
      indexes.push(index)
    }
  })
  return { records: kept, indexes, rejected }
}

/** Records encoded as rows of bound values, in `columns` order; those a column refuses are rejected. */
export const encode = (
  columns: ReadonlyArray<MysqlCodec.TargetColumn>,
  records: ReadonlyArray<Record<string, unknown>>,
  indexes: ReadonlyArray<number> | undefined
): { readonly rows: Array<Array<unknown>>; readonly kept: Array<number>; readonly rejected: Array<Rejection> } => {
  const rows: Array<Array<unknown>> = []
  const kept: Array<number> = []
  const rejected: Array<Rejection> = []
  records.forEach((record, i) => {
    const index = indexes?.[i] ?? i
    try {
      const row = new Array<unknown>(columns.length)
      for (let c = 0; c < columns.length; c++) row[c] = MysqlCodec.encodeValue(columns[c]!, record[columns[c]!.name])
      rows.push(row)
      kept.push(i)
    } catch (e) {
      rejected.push({
        index,
        reason: e instanceof MysqlCodec.CodecError ? e.message : "the record could not be encoded"
      })
    }
  })
  return { rows, kept, rejected }
}

/** A rough upper bound of a bound value's size in the statement text (escaped strings, hex blobs). */
const sizeOf = (v: unknown): number => {
  if (v === null) return 4
  if (typeof v === "string") return v.length * 4 + 3
  if (v instanceof Uint8Array) return v.byteLength * 2 + 3
  return 24
}

/** Rows cut into groups whose statement stays under `budget` bytes (and `maxRows` rows). */
export const groups = (
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
  budget: number,
  maxRows = 10_000
): Array<ReadonlyArray<ReadonlyArray<unknown>>> => {
  const out: Array<ReadonlyArray<ReadonlyArray<unknown>>> = []
  let current: Array<ReadonlyArray<unknown>> = []
  let size = 0
  for (const row of rows) {
    let rowSize = 4
    for (const v of row) rowSize += sizeOf(v) + 2
    if (current.length > 0 && (size + rowSize > budget || current.length >= maxRows)) {
      out.push(current)
      current = []
      size = 0
    }
    current.push(row)
    size += rowSize
  }
  if (current.length > 0) out.push(current)
  return out
}

const compare = (a: unknown, b: unknown): number => {
  if (a === null || a === undefined) return b === null || b === undefined ? 0 : -1
  if (b === null || b === undefined) return 1
  if (Timestamp.isTimestamp(a) && Timestamp.isTimestamp(b)) return Timestamp.compare(a, b)
  if ((typeof a === "bigint" || typeof a === "number") && (typeof b === "bigint" || typeof b === "number"))
    return a < b ? -1 : a > b ? 1 : 0
  const [x, y] = [String(a), String(b)]
  return x < y ? -1 : x > y ? 1 : 0
}

/** One row per key: the highest version (`versionOf` a row's position) wins, ties go to the later row. */
export const dedupe = (
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
  keyAt: ReadonlyArray<number>,
  versionOf: ((i: number) => unknown) | undefined
): Array<number> => {
  const best = new Map<string, number>()
  rows.forEach((row, i) => {
    const k = JSON.stringify(
      keyAt.map((p) => {
        const v = row[p]
        return v instanceof Uint8Array ? Buffer.from(v).toString("hex") : typeof v === "bigint" ? `${v}n` : v
      })
    )
    const previous = best.get(k)
    if (previous === undefined || versionOf === undefined || compare(versionOf(i), versionOf(previous)) >= 0)
      best.set(k, i)
  })
  return [...best.values()].sort((a, b) => a - b)
}
