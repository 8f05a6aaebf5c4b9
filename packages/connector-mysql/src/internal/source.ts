// The queries behind MysqlSource: the catalog (bound `sql` fragments), the snapshot transaction, the upper bound
// and the one ordered keyset read of a stream, whose rows are streamed in batches with memory held flat.

import type { Readable } from "node:stream"
import { Timestamp } from "@data-mcp/core"
import type { FieldPacket } from "mysql2"
import * as MysqlCodec from "../MysqlCodec.ts"
import { type Fragment, sql } from "../Sql.ts"

/** A table as the catalog names it. */
export interface TableName {
  readonly database: string
  readonly table: string
}

/** Every base table and view of a database: the closed set reads are checked against. */
export const listTables = (database: string) => sql`
  select TABLE_SCHEMA as \`database\`, TABLE_NAME as \`table\`
  from information_schema.TABLES where TABLE_SCHEMA = ${database} order by TABLE_NAME`

/** Planner estimates of rows and bytes of a database's tables. */
export const estimates = (database: string) => sql`
  select TABLE_NAME as \`table\`, coalesce(TABLE_ROWS, 0) as \`rows\`, coalesce(DATA_LENGTH, 0) as \`bytes\`
  from information_schema.TABLES where TABLE_SCHEMA = ${database}`

/** What a stream reads from: a table, or a parameterised query read as a derived table. */
export type Relation =
  | { readonly _tag: "Table"; readonly name: TableName }
  | { readonly _tag: "Query"; readonly query: Fragment }

const from = (relation: Relation): Fragment =>
  relation._tag === "Table"
    ? sql`${sql.ident([relation.name.database, relation.name.table])} as t`
    : sql`(${relation.query}) as t`

/** No rows, only the result's column metadata: how each column decodes. */
export const probe = (relation: Relation) => sql`select * from ${from(relation)} limit 0`

/** The columns of a probe, in order, with their kinds. */
export const columnsOf = (
  fields: ReadonlyArray<FieldPacket>
): ReadonlyArray<{ name: string; kind: MysqlCodec.Kind; nullable: boolean }> =>
  fields.map((f) => ({
    name: f.name,
    kind: MysqlCodec.kindOf(f as MysqlCodec.FieldInfo),
    nullable: typeof f.flags === "number" ? (f.flags & 1) === 0 : !f.flags.includes("NOT_NULL")
  }))

/** Kinds a cursor or key may have: ordered, and printed exactly. */
export const ORDERED: ReadonlySet<MysqlCodec.Kind> = new Set([
  "integer",
  "bigint",
  "decimal",
  "string",
  "date",
  "datetime",
  "timestamp"
])

/** The key the codec marks a decoded cursor with, to print it back exactly. */
const PRINTED = Symbol.for("@data-mcp/connector-mysql/printed")

/** The cast that reads timestamps with their exact text kept on them (for checkpoints). */
export const decodeBoundary = (kind: MysqlCodec.Kind, text: string): unknown =>
  kind === "datetime" || kind === "timestamp"
    ? new Timestamp.Timestamp(
        (MysqlCodec.decodeText(kind, "", text) as Timestamp.Timestamp).micros,
        kind === "timestamp",
        {
          key: PRINTED,
          text
        }
      )
    : MysqlCodec.decodeText(kind, "", text)

/** The exact text of a decoded cursor or key value, as the server printed it. */
export const boundaryText = (value: unknown): string => {
  if (Timestamp.isTimestamp(value)) return value.printedAs(PRINTED) ?? MysqlCodec.datetimeText(value.micros)
  return String(value)
}

/** A boundary value bound in its column's type (never compared as a float). */
export const bindBoundary = (kind: MysqlCodec.Kind, text: string): Fragment => {
  switch (kind) {
    case "bigint":
      return sql`${BigInt(text)}`
    case "integer":
      return sql`${Number(text)}`
    case "decimal":
      return sql`cast(${text} as decimal(65, 30))`
    default:
      return sql`${text}`
  }
}

/** The largest value of a column: a run's upper bound, fixed in its snapshot. */
export const upperBound = (relation: Relation, column: string) =>
  sql`select max(t.${sql.ident(column)}) as upper from ${from(relation)}`

/** Where a read starts: after this (cursor, key), or at the beginning. A `null` cursor: in the NULL section. */
export interface Start {
  readonly cursor?: string | null | undefined
  readonly key: string
}

/** The ordered read of one stream: every row after `after` up to the upper bound. */
export interface ReadQuery {
  readonly relation: Relation
  readonly columns: ReadonlyArray<string>
  readonly cursor: { readonly name: string; readonly kind: MysqlCodec.Kind } | undefined
  readonly key: { readonly name: string; readonly kind: MysqlCodec.Kind }
  /** The upper bound (of the cursor, or of the key without one); ignored by the NULL section. */
  readonly upper: string
  readonly after: Start | undefined
  /** A backfill's end: no row past it. */
  readonly end?: Start | undefined
  /** The rows whose cursor is NULL, by key (`onNull: "include-first"`), instead of the valued ones. */
  readonly nulls?: boolean | undefined
}

export const readQuery = (q: ReadQuery): Fragment => {
  const cols = sql.join(q.columns.map((c) => sql`t.${sql.ident(c)}`))
  const k = sql`t.${sql.ident(q.key.name)}`
  const bk = (text: string) => bindBoundary(q.key.kind, text)
  if (q.cursor !== undefined && q.nulls === true) {
    const conditions = [sql`t.${sql.ident(q.cursor.name)} is null`]
    if (q.after !== undefined) conditions.push(sql`${k} > ${bk(q.after.key)}`)
    if (q.end !== undefined) conditions.push(sql`${k} <= ${bk(q.end.key)}`)
    return sql`select ${cols} from ${from(q.relation)} where ${sql.join(conditions, sql` and `)} order by ${k}`
  }
  if (q.cursor === undefined) {
    const conditions = [sql`${k} <= ${bk(q.upper)}`]
    if (q.after !== undefined) conditions.push(sql`${k} > ${bk(q.after.key)}`)
    if (q.end !== undefined) conditions.push(sql`${k} <= ${bk(q.end.key)}`)
    return sql`select ${cols} from ${from(q.relation)} where ${sql.join(conditions, sql` and `)} order by ${k}`
  }
  const c = sql`t.${sql.ident(q.cursor.name)}`
  const bc = (text: string) => bindBoundary(q.cursor!.kind, text)
  const conditions = [sql`${c} <= ${bc(q.upper)}`]
  // `(c, k) > (a, b)` spelled out, so the optimizer can use a range on c.
  if (typeof q.after?.cursor === "string")
    conditions.push(sql`(${c} > ${bc(q.after.cursor)} or (${c} = ${bc(q.after.cursor)} and ${k} > ${bk(q.after.key)}))`)
  if (typeof q.end?.cursor === "string")
    conditions.push(sql`(${c} < ${bc(q.end.cursor)} or (${c} = ${bc(q.end.cursor)} and ${k} <= ${bk(q.end.key)}))`)
  return sql`select ${cols} from ${from(q.relation)} where ${sql.join(conditions, sql` and `)} order by ${c}, ${k}`
}

/**
 * Every `rows`-th key in `(after, upper]`, in order: the upper ends of a chunked snapshot's key ranges (window
 * functions: MariaDB 10.2+, MySQL 8.0+). One pass over the key's index.
 */
export const keyBoundaries = (
  relation: Relation,
  key: { readonly name: string; readonly kind: MysqlCodec.Kind },
  after: string | undefined,
  upper: string,
  rows: number
): Fragment => {
  const k = sql`t.${sql.ident(key.name)}`
  const conditions = [sql`${k} <= ${bindBoundary(key.kind, upper)}`]
  if (after !== undefined) conditions.push(sql`${k} > ${bindBoundary(key.kind, after)}`)
  return sql`select b.boundary from (select ${k} as boundary, row_number() over (order by ${k}) as n from ${from(relation)} where ${sql.join(conditions, sql` and `)}) as b where b.n % ${rows} = 0 order by b.n`
}

/** Resolves once the stream has rows to read or has ended; rejects with its error. */
const readable = (rows: Readable): Promise<void> =>
  new Promise((resolve, reject) => {
    const done = () => {
      rows.off("readable", done)
      rows.off("end", done)
      rows.off("close", done)
      rows.off("error", failed)
      resolve()
    }
    const failed = (error: Error) => {
      rows.off("readable", done)
      rows.off("end", done)
      rows.off("close", done)
      rows.off("error", failed)
      reject(error)
    }
    rows.on("readable", done)
    rows.on("end", done)
    rows.on("close", done)
    rows.on("error", failed)
  })

/**
 * Rows of an object-mode stream in arrays of `size` (the last one shorter). The rows buffered are taken at once
 * with `read()`, not one promise per row; the stream stays paused (backpressure) while a batch is being used.
 */
export async function* chunks<A>(rows: Readable, size: number): AsyncGenerator<Array<A>> {
  // A stream fails by `destroy(error)`, which also emits "error": seen through `errored` whenever it happens,
  // also while no one waits on the stream (where an unheard "error" would crash the process).
  const ignore = () => {}
  rows.on("error", ignore)
  try {
    let batch: Array<A> = []
    for (;;) {
      let row = rows.read() as A | null
      while (row !== null) {
        batch.push(row)
        if (batch.length >= size) {
          yield batch
          batch = []
        }
        row = rows.read() as A | null
      }
      if (rows.errored !== null) throw rows.errored
      if (rows.readableEnded || rows.destroyed) break
      await readable(rows)
    }
    if (rows.errored !== null) throw rows.errored
    if (batch.length > 0) yield batch
  } finally {
    // Left early (the consumer stopped, or a failure): the query's rows are not read on.
    if (!rows.readableEnded) rows.destroy()
    rows.off("error", ignore)
  }
}
